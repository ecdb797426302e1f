"""OpenAI Chat Completions (also vLLM, DeepSeek, Together, Groq, llama.cpp's ``/v1/chat``).

Tokens live in ``choices[i].logprobs.content[]``; a stream spreads them over chunks, each with
``choices[0].logprobs.content[]`` for its delta (the first chunk's list is empty, the finish chunk
has ``logprobs: null``, a usage-only chunk has ``choices: []`` -- quirk 19). DeepSeek reasoner
models add ``logprobs.reasoning_content[]`` (read as a second trace of the same choice), and a
refusal comes as ``logprobs.refusal[]`` (quirk 21).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    Events,
    expect_dict,
    expect_list,
    fail,
    group_choices,
    iso_time,
    optional_str,
    small_extra,
)
from tracesite.formats.entries import read_entries
from tracesite.formats.openai_completions import prompt_text, read_completions_choice
from tracesite.model.trace import Trace, TraceMeta

CHAT = "openai_chat"
CHAT_STREAM = "openai_chat_stream"

#: Top-level keys worth keeping in ``TraceMeta.extra`` (small, JSON-able; never token lists).
RESPONSE_EXTRA = ("id", "system_fingerprint", "service_tier", "usage", "request_id", "seed")
CHOICE_EXTRA = ("stop_reason",)

#: The parallel token lists a chat ``logprobs`` object may hold, in the order traces are made.
#: (part name in ``extra``, key in ``logprobs``, key in ``message``/``delta`` with its text)
PARTS = (
    ("content", "content", "content"),
    ("refusal", "refusal", "refusal"),
    ("reasoning", "reasoning_content", "reasoning_content"),
)


def model_name(d: dict[str, Any], addr: str) -> str | None:
    """``model``, with the empty string some servers send (llama.cpp) read as absent."""
    return optional_str(d.get("model"), f"{addr}.model") or None


def read_chat_logprobs(
    lp: dict[str, Any],
    addr: str,
    message: dict[str, Any],
    meta: dict[str, Any],
    fmt: str = CHAT,
    message_addr: str = "$.message",
) -> list[Trace]:
    """The traces of one choice's ``logprobs`` object: content, else refusal; then reasoning."""
    traces: list[Trace] = []
    for part, key, text_key in PARTS:
        entries = lp.get(key)
        if entries is None or (part == "refusal" and lp.get("content") is not None):
            continue  # a refusal list only stands in for missing content
        b = TraceBuilder()
        read_entries(entries, f"{addr}.{key}", b)
        text = optional_str(message.get(text_key), f"{message_addr}.{text_key}")
        b.mark_specials(text)
        extra = dict(meta.get("extra", {}))
        if part != "content":
            extra["part"] = part
        traces.append(
            b.build(TraceMeta(**{**meta, "extra": extra, "provider_text": text, "format": fmt}))
        )
    return traces


def read_chat_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """Every choice with logprobs of a chat completion response."""
    choices = expect_list(d.get("choices"), f"{addr}.choices")
    base = {
        "source": source,
        "model": model_name(d, addr),
        "created": iso_time(d.get("created"), f"{addr}.created"),
    }
    top_extra = small_extra(d, RESPONSE_EXTRA)
    traces: list[Trace] = []
    came_from: list[int] = []
    for ci, raw in enumerate(choices):
        caddr = f"{addr}.choices[{ci}]"
        choice = expect_dict(raw, caddr)
        lp = choice.get("logprobs")
        if lp is None:
            continue
        lp = expect_dict(lp, f"{caddr}.logprobs")
        meta: dict[str, Any] = {
            **base,
            "finish_reason": optional_str(choice.get("finish_reason"), f"{caddr}.finish_reason"),
            "extra": {**top_extra, **small_extra(choice, CHOICE_EXTRA)},
        }
        if "tokens" in lp or "text" in choice:
            traces.append(read_completions_choice(choice, caddr, meta))
        else:
            message = choice.get("message")
            message = expect_dict(message, f"{caddr}.message") if message is not None else {}
            traces.extend(
                read_chat_logprobs(lp, f"{caddr}.logprobs", message, meta, CHAT, f"{caddr}.message")
            )
        came_from.extend([ci] * (len(traces) - len(came_from)))
    if not traces:
        raise fail(
            f"{addr}.choices",
            "no choice has logprobs (request them with logprobs=true, top_logprobs=k)",
        )
    return group_choices(traces, came_from, d.get("id"), source)


def read_bare_logprobs(obj: Any, source: str, addr: str = "$") -> list[Trace]:
    """A saved ``logprobs`` object (``{"content": [...]}``) or its bare ``content`` list."""
    if isinstance(obj, list):
        b = TraceBuilder()
        read_entries(obj, addr, b)
        b.mark_specials(None)
        return [b.build(TraceMeta(source=source, format=CHAT))]
    traces = read_chat_logprobs(
        expect_dict(obj, addr), addr, {}, {"source": source, "extra": {}}, CHAT
    )
    if not traces:
        raise fail(f"{addr}.content", "no token list (content is null and there is no refusal)")
    return traces


@dataclass
class _StreamChoice:
    """What a chat stream has said so far about one choice of one response."""

    meta: dict[str, Any]
    parts: dict[str, TraceBuilder] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    finish_reason: str | None = None


def read_chat_stream(events: Events, source: str) -> list[Trace]:
    """A chat stream saved as SSE text or one chunk per line: deltas concatenated per choice."""
    groups: dict[tuple[Any, int], _StreamChoice] = {}
    usage: dict[Any, Any] = {}
    for addr, obj in events:
        d = expect_dict(obj, addr)
        rid = d.get("id")
        if d.get("usage") is not None:
            usage[rid] = d["usage"]
        for ci, raw in enumerate(expect_list(d.get("choices"), f"{addr}.choices")):
            caddr = f"{addr}.choices[{ci}]"
            choice = expect_dict(raw, caddr)
            state = _stream_choice(groups, d, ci, choice, addr, source)
            _add_chunk(state, choice, caddr)
    traces, came_from = _stream_traces(groups, usage)
    if not any(len(t) for t in traces):
        raise fail("$", "this chat stream has no logprobs (request them with logprobs=true)")
    rids = {r for r, _ in came_from}
    return group_choices(traces, came_from, next(iter(rids)), source) if len(rids) == 1 else traces


def _stream_choice(
    groups: dict[tuple[Any, int], _StreamChoice],
    d: dict[str, Any],
    ci: int,
    choice: dict[str, Any],
    addr: str,
    source: str,
) -> _StreamChoice:
    """The state of a chunk's choice, started from the chunk when it is the choice's first."""
    rid = d.get("id")
    index = choice.get("index", ci)
    key = (rid if isinstance(rid, str | int) else None, index if type(index) is int else ci)
    state = groups.get(key)
    if state is None:
        extra = small_extra(d, ("id", "system_fingerprint", "service_tier"))
        state = groups[key] = _StreamChoice(
            meta={
                "source": source,
                "model": model_name(d, addr),
                "created": iso_time(d.get("created"), f"{addr}.created"),
                "extra": extra,
            }
        )
    return state


def _add_chunk(state: _StreamChoice, choice: dict[str, Any], caddr: str) -> None:
    """Add one chunk's finish reason, delta texts and logprob entries to a choice's state."""
    reason = choice.get("finish_reason")
    if reason is not None:
        state.finish_reason = optional_str(reason, f"{caddr}.finish_reason")
    delta = choice.get("delta")
    if delta is not None:
        delta = expect_dict(delta, f"{caddr}.delta")
        for part, _, text_key in PARTS:
            piece = delta.get(text_key)
            if piece is not None:
                piece = optional_str(piece, f"{caddr}.delta.{text_key}")
                state.texts.setdefault(part, []).append(piece or "")
    lp = choice.get("logprobs")
    if lp is None:
        return
    lp = expect_dict(lp, f"{caddr}.logprobs")
    for part, key_name, _ in PARTS:
        entries = lp.get(key_name)
        if entries is None:
            continue
        b = state.parts.get(part)
        if b is None:
            if entries == []:
                continue
            b = state.parts[part] = TraceBuilder()
        read_entries(entries, f"{caddr}.logprobs.{key_name}", b)


def _stream_traces(
    groups: dict[tuple[Any, int], _StreamChoice], usage: dict[Any, Any]
) -> tuple[list[Trace], list[tuple[Any, int]]]:
    """One trace per part with logprobs of each choice, and the (response, choice) of each."""
    traces: list[Trace] = []
    came_from: list[tuple[Any, int]] = []
    for (rid, choice_index), state in groups.items():
        for part, _, _ in PARTS:
            b = state.parts.get(part)
            if b is None:
                continue
            pieces = state.texts.get(part)
            text = "".join(pieces) if pieces is not None else None
            b.mark_specials(text)
            extra = dict(state.meta["extra"])
            if rid in usage and isinstance(usage[rid], dict):
                extra.update(small_extra({"usage": usage[rid]}, ("usage",)))
            if part != "content":
                extra["part"] = part
            meta = {**state.meta, "extra": extra}
            traces.append(
                b.build(
                    TraceMeta(
                        **meta,
                        format=CHAT_STREAM,
                        finish_reason=state.finish_reason,
                        provider_text=text,
                    )
                )
            )
            came_from.append((rid, choice_index))
    return traces, came_from


def read_completions_response(d: dict[str, Any], source: str, addr: str = "$") -> list[Trace]:
    """Every choice with logprobs of a legacy completions response."""
    traces = read_chat_response(d, source, addr)
    prompt = prompt_text(d.get("prompt"))
    if prompt is not None:
        traces = [t.replace_meta(prompt=prompt) for t in traces]
    return traces
