"""OpenAI Responses API: ``output[].content[].logprobs[]`` (type ``output_text``).

One response is one trace: the ``output_text`` parts of every ``message`` item, in order, as the
SDK's ``response.output_text`` joins them. A saved stream repeats the same tokens three or four
times (``output_text.delta``, ``output_text.done``, ``output_item.done``, ``completed``) and
only the deltas keep full precision (quirk 11), so a stream is read from its deltas alone, with
the final response object supplying metadata and the provider's text.
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    Events,
    expect_dict,
    expect_list,
    fail,
    iso_time,
    optional_str,
    small_extra,
)
from tracesite.formats.entries import read_entries
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "openai_responses"
STREAM_FORMAT = "openai_responses_stream"
_EXTRA = ("id", "usage", "service_tier", "top_logprobs", "instructions", "status")
_NO_LOGPROBS = (
    'this response has no logprobs (request them with include=["message.output_text.logprobs"]'
    " and top_logprobs=k)"
)


def is_response_event(obj: Any) -> bool:
    """A streaming event (``{"type": "response.completed", "response": {...}}`` and kin)."""
    return isinstance(obj, dict) and str(obj.get("type", "")).startswith("response.")


def _meta(r: dict[str, Any], addr: str, source: str) -> dict[str, Any]:
    details = r.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    status = r.get("status")
    return {
        "source": source,
        "model": optional_str(r.get("model"), f"{addr}.model") or None,
        "created": iso_time(r.get("created_at"), f"{addr}.created_at"),
        "finish_reason": reason
        if isinstance(reason, str)
        else status
        if isinstance(status, str)
        else None,
        "extra": small_extra(r, _EXTRA),
    }


def _text_parts(r: dict[str, Any], addr: str) -> list[tuple[str, dict[str, Any]]]:
    """(address, part) of every ``output_text`` part of every ``message`` output item."""
    found = []
    for oi, item in enumerate(expect_list(r.get("output"), f"{addr}.output")):
        iaddr = f"{addr}.output[{oi}]"
        item = expect_dict(item, iaddr)
        if item.get("type", "message") != "message" or item.get("content") is None:
            continue
        for ci, part in enumerate(expect_list(item.get("content"), f"{iaddr}.content")):
            paddr = f"{iaddr}.content[{ci}]"
            part = expect_dict(part, paddr)
            if part.get("type", "output_text") == "output_text":
                found.append((paddr, part))
    return found


def _provider_text(parts: list[tuple[str, dict[str, Any]]]) -> str | None:
    texts = [optional_str(p.get("text"), f"{a}.text") for a, p in parts]
    present = [t for t in texts if t is not None]
    return "".join(present) if present else None


def read_responses_response(obj: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """A response object, or a saved ``response.completed`` (or ``.done``) event around one."""
    if is_response_event(obj):
        if "response" not in obj:
            raise fail(addr, f"a {obj.get('type')} event carries no response object")
        addr = f"{addr}.response"
        obj = expect_dict(obj["response"], addr)
    parts = _text_parts(obj, addr)
    b = TraceBuilder()
    any_logprobs = False
    for paddr, part in parts:
        entries = part.get("logprobs")
        if entries is None:
            continue
        any_logprobs = any_logprobs or entries != [] or not part.get("text")
        read_entries(entries, f"{paddr}.logprobs", b)
    if not any_logprobs:
        raise fail(f"{addr}.output", _NO_LOGPROBS)
    text = _provider_text(parts)
    b.mark_specials(text)
    return [b.build(TraceMeta(**_meta(obj, addr, source), format=FORMAT_NAME, provider_text=text))]


class _StreamedResponse:
    """One response's events: delta logprobs in order, the latest full response object."""

    def __init__(self) -> None:
        self.deltas = TraceBuilder()
        self.delta_text: list[str] = []
        self.done_events: list[tuple[str, Any]] = []  # output_text.done logprobs, fallback
        self.response: dict[str, Any] | None = None
        self.response_addr = "$"


def read_responses_stream(events: Events, source: str) -> list[Trace]:
    """A saved Responses stream: one trace per ``response.created`` .. ``response.completed``."""
    streams: list[_StreamedResponse] = []
    for addr, obj in events:
        ev = expect_dict(obj, addr)
        kind = ev.get("type")
        if kind == "response.created" or not streams:
            streams.append(_StreamedResponse())
        s = streams[-1]
        if isinstance(ev.get("response"), dict):
            s.response, s.response_addr = ev["response"], f"{addr}.response"
        if kind == "response.output_text.delta":
            piece = optional_str(ev.get("delta"), f"{addr}.delta")
            s.delta_text.append(piece or "")
            if ev.get("logprobs") is not None:
                read_entries(ev["logprobs"], f"{addr}.logprobs", s.deltas)
        elif kind == "response.output_text.done" and ev.get("logprobs") is not None:
            s.done_events.append((f"{addr}.logprobs", ev["logprobs"]))
    traces = []
    for s in streams:
        r = s.response or {}
        raddr = s.response_addr
        parts = _text_parts(r, raddr) if r.get("output") else []
        text = _provider_text(parts) if parts else ("".join(s.delta_text) if s.delta_text else None)
        b = s.deltas
        if not len(b):
            # No delta carried logprobs: fall back to the repeated lists (rounded, quirk 11).
            for a, entries in s.done_events:
                read_entries(entries, a, b)
            if not len(b):
                for paddr, part in parts:
                    if part.get("logprobs") is not None:
                        read_entries(part["logprobs"], f"{paddr}.logprobs", b)
        if not len(b) and text:
            raise fail("$", _NO_LOGPROBS)
        b.mark_specials(text)
        meta = _meta(r, raddr, source) if r else {"source": source}
        traces.append(b.build(TraceMeta(**meta, format=STREAM_FORMAT, provider_text=text)))
    if not traces:
        raise fail("$", _NO_LOGPROBS)
    return traces
