"""OpenAI legacy Completions (``/v1/completions``; also vLLM and llama.cpp's compatible servers).

``choices[i].logprobs = {tokens, token_logprobs, top_logprobs, text_offset}``: parallel arrays,
the alternatives of each position a ``{token: logprob}`` object in *no particular order* (quirk
5) that includes the chosen token. An echoed first prompt token has ``null`` logprob and
alternatives. Tokens that are not whole UTF-8 characters are written ``"bytes:\\xe2\\x80"``
(quirk 7); vLLM's ``return_tokens_as_token_ids`` writes ``"token_id:123"`` (quirk 15).
"""

from __future__ import annotations

from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    Events,
    describe,
    escaped_bytes,
    expect_dict,
    expect_list,
    fail,
    group_choices,
    iso_time,
    optional_str,
    small_extra,
)
from tracesite.formats.entries import id_of, logprob_of, read_entries
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "openai_completions"
_TOKEN_ID_PREFIX = "token_id:"


def _label(token: Any, addr: str) -> tuple[str, bytes | None, int]:
    """A legacy token string to (label, bytes, id)."""
    if type(token) is not str:
        raise fail(addr, f"expected a string, got {describe(token)}")
    if token.startswith("bytes:"):
        return token, escaped_bytes(token, "bytes:"), -1
    if token.startswith(_TOKEN_ID_PREFIX) and token[len(_TOKEN_ID_PREFIX) :].isdigit():
        return token, None, int(token[len(_TOKEN_ID_PREFIX) :])
    return token, None, -1


def _same_length(arr: list[Any], name: str, n: int, addr: str) -> None:
    if len(arr) != n:
        raise fail(
            f"{addr}.{name}",
            f"has {len(arr)} entries but tokens has {n}; the arrays must be parallel",
        )


def read_legacy_logprobs(lp: dict[str, Any], addr: str, out: TraceBuilder) -> None:
    """Append the positions of one legacy ``logprobs`` object to ``out``."""
    tokens = expect_list(lp.get("tokens"), f"{addr}.tokens")
    n = len(tokens)
    values = expect_list(lp.get("token_logprobs"), f"{addr}.token_logprobs")
    _same_length(values, "token_logprobs", n, addr)
    tops = lp.get("top_logprobs")
    if tops is not None:
        tops = expect_list(tops, f"{addr}.top_logprobs")
        _same_length(tops, "top_logprobs", n, addr)
    offsets = lp.get("text_offset")
    if offsets is not None:
        _same_length(expect_list(offsets, f"{addr}.text_offset"), "text_offset", n, addr)
    ids = lp.get("token_ids")  # Together and some vLLM versions add the ids
    if ids is not None:
        ids = expect_list(ids, f"{addr}.token_ids")
        _same_length(ids, "token_ids", n, addr)
    for i, token in enumerate(tokens):
        label, raw, tid = _label(token, f"{addr}.tokens[{i}]")
        if ids is not None and ids[i] is not None:
            tid = id_of(ids[i], f"{addr}.token_ids[{i}]")
        pos = out.add(label, logprob_of(values[i], f"{addr}.token_logprobs[{i}]"), raw, tid)
        top = tops[i] if tops is not None else None
        if top is None:
            continue
        if type(top) is not dict:
            raise fail(f"{addr}.top_logprobs[{i}]", f"expected an object, got {describe(top)}")
        for key, value in top.items():
            alabel, araw, aid = _label(key, f"{addr}.top_logprobs[{i}]")
            out.alt(pos, alabel, logprob_of(value, f"{addr}.top_logprobs[{i}][{key!r}]"), araw, aid)


def prompt_text(value: Any) -> str | None:
    """The request's prompt when a saved response carries it (a string, or ``[{content}]``)."""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, dict) and isinstance(v.get("content"), str) for v in value)
    ):
        return "".join(v["content"] for v in value)
    return None


def read_completions_choice(choice: dict[str, Any], addr: str, meta: dict[str, Any]) -> Trace:
    """One choice of a completions response (legacy arrays, or llama.cpp's chat-style entries)."""
    lp = expect_dict(choice.get("logprobs"), f"{addr}.logprobs")
    b = TraceBuilder()
    if "tokens" not in lp and "content" in lp:
        read_entries(lp["content"], f"{addr}.logprobs.content", b)
    else:
        read_legacy_logprobs(lp, f"{addr}.logprobs", b)
    if "text" in choice:
        text = optional_str(choice.get("text"), f"{addr}.text")
    else:  # a chat response with legacy-style logprobs (Together)
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        text = optional_str(content, f"{addr}.message.content")
    b.mark_specials(text)
    return b.build(TraceMeta(**{**meta, "format": FORMAT_NAME, "provider_text": text}))


def read_completions_stream(events: Events, source: str) -> list[Trace]:
    """Streamed completions chunks (``object: "text_completion"``), concatenated per choice."""
    builders: dict[tuple[Any, int], TraceBuilder] = {}
    texts: dict[tuple[Any, int], list[str]] = {}
    metas: dict[tuple[Any, int], dict[str, Any]] = {}
    for addr, obj in events:
        d = expect_dict(obj, addr)
        rid = d.get("id") if isinstance(d.get("id"), str | int) else None
        for ci, raw in enumerate(expect_list(d.get("choices"), f"{addr}.choices")):
            caddr = f"{addr}.choices[{ci}]"
            choice = expect_dict(raw, caddr)
            index = choice.get("index", ci)
            key = (rid, index if type(index) is int else ci)
            if key not in builders:
                builders[key] = TraceBuilder()
                texts[key] = []
                metas[key] = {
                    "source": source,
                    "model": optional_str(d.get("model"), f"{addr}.model") or None,
                    "created": iso_time(d.get("created"), f"{addr}.created"),
                    "extra": small_extra(d, ("id", "system_fingerprint")),
                    "finish_reason": None,
                }
            piece = choice.get("text")
            if piece is not None:
                texts[key].append(optional_str(piece, f"{caddr}.text") or "")
            reason = choice.get("finish_reason")
            if reason is not None:
                metas[key]["finish_reason"] = optional_str(reason, f"{caddr}.finish_reason")
            lp = choice.get("logprobs")
            if lp is None:
                continue
            lp = expect_dict(lp, f"{caddr}.logprobs")
            if "tokens" not in lp and "content" in lp:
                read_entries(lp["content"], f"{caddr}.logprobs.content", builders[key])
            else:
                read_legacy_logprobs(lp, f"{caddr}.logprobs", builders[key])
    traces = []
    keys = list(builders)
    for key, b in builders.items():
        text = "".join(texts[key]) if texts[key] else None
        b.mark_specials(text)
        traces.append(b.build(TraceMeta(**metas[key], format=FORMAT_NAME, provider_text=text)))
    if not any(len(t) for t in traces):
        raise fail("$", "this completions stream has no logprobs (request them with logprobs=k)")
    rids = {rid for rid, _ in keys}
    return group_choices(traces, keys, next(iter(rids)), source) if len(rids) == 1 else traces
