"""Ollama ``/api/generate`` and ``/api/chat`` with ``logprobs`` (v0.12.11+), streamed or not.

Documented shape (no genuine sample was found, SOURCES.md): a top-level
``logprobs: [{token, logprob, bytes?, top_logprobs: [{token, logprob}]}]`` beside ``response``
(generate) or ``message.content`` (chat); a stream is NDJSON, one such object per chunk, the last
with ``done: true`` and ``done_reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import Events, expect_dict, optional_str
from tracesite.formats.entries import read_entries
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "ollama"


def is_ollama(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and "logprobs" in obj
        and "done" in obj
        and ("response" in obj or "message" in obj)
        and "choices" not in obj
    )


def _text(d: dict[str, Any], addr: str) -> str | None:
    if "response" in d:
        return optional_str(d["response"], f"{addr}.response")
    message = d.get("message")
    if isinstance(message, dict):
        return optional_str(message.get("content"), f"{addr}.message.content")
    return None


def _read(items: Sequence[tuple[str, Any]], source: str) -> list[Trace]:
    """Chunks (address, object) in order: logprobs and text concatenated."""
    b = TraceBuilder()
    texts: list[str] = []
    last: dict[str, Any] = {}
    last_addr = "$"
    for addr, obj in items:
        d = expect_dict(obj, addr)
        if d.get("logprobs") is not None:
            read_entries(d["logprobs"], f"{addr}.logprobs", b)
        piece = _text(d, addr)
        if piece is not None:
            texts.append(piece)
        last, last_addr = d, addr
    text = "".join(texts) if texts else None
    b.mark_specials(text)
    extra = {k: last[k] for k in ("eval_count", "prompt_eval_count") if type(last.get(k)) is int}
    return [
        b.build(
            TraceMeta(
                source=source,
                format=FORMAT_NAME,
                model=optional_str(last.get("model"), f"{last_addr}.model") or None,
                created=optional_str(last.get("created_at"), f"{last_addr}.created_at"),
                finish_reason=optional_str(last.get("done_reason"), f"{last_addr}.done_reason"),
                provider_text=text,
                extra=extra,
            )
        )
    ]


def read_ollama_stream(events: Events, source: str) -> list[Trace]:
    """An NDJSON stream: one trace from all its chunks."""
    return _read(events, source)


def read_ollama_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """A non-streamed response."""
    return _read([(addr, d)], source)
