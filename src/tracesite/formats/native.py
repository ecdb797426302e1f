"""tracesite's native format: ``{"tracesite": 1, "tokens": [...], ...metadata}`` (docs/formats.md)."""

from __future__ import annotations

import json
import math
from typing import Any

from tracesite.formats.common import (
    expect_bytes,
    expect_dict,
    expect_int_or_none,
    expect_list,
    expect_logprob,
    expect_prob,
    expect_str,
    fail,
)
from tracesite.model import Candidate, Position, Trace, TraceMeta

FORMAT_NAME = "native"
VERSION = 1
_META_KEYS = ("model", "created", "prompt", "finish_reason")


def is_native(obj: Any) -> bool:
    return isinstance(obj, dict) and "tracesite" in obj and "tokens" in obj


def _candidate(obj: Any, addr: str, *, allow_prob: bool) -> Candidate:
    d = expect_dict(obj, addr)
    text = expect_str(d.get("text"), f"{addr}.text")
    if "logprob" in d:
        lp = expect_logprob(d["logprob"], f"{addr}.logprob", nullable=True)
    elif allow_prob and "prob" in d:
        lp = None if d["prob"] is None else expect_prob(d["prob"], f"{addr}.prob")
    else:
        raise fail(addr, 'expected a "logprob" (or "prob") key')
    return Candidate(
        text=text,
        logprob=lp,
        bytes=expect_bytes(d.get("bytes"), f"{addr}.bytes"),
        id=expect_int_or_none(d.get("id"), f"{addr}.id"),
    )


def read_native(obj: Any, source: str, index: int = 0, addr: str = "$") -> Trace:
    """One native trace object to a :class:`Trace`."""
    d = expect_dict(obj, addr)
    version = d.get("tracesite")
    if version != VERSION:
        raise fail(f"{addr}.tracesite", f"unsupported native format version {version!r}; expected 1")
    positions: list[Position] = []
    for i, tok in enumerate(expect_list(d.get("tokens"), f"{addr}.tokens")):
        a = f"{addr}.tokens[{i}]"
        chosen = _candidate(tok, a, allow_prob=True)
        top = tok.get("top")
        alts = [
            _candidate(t, f"{a}.top[{j}]", allow_prob=True)
            for j, t in enumerate(expect_list(top, f"{a}.top") if top is not None else [])
        ]
        special = tok.get("special", False)
        if not isinstance(special, bool):
            raise fail(f"{a}.special", "expected true or false")
        positions.append(Position(chosen, alts, special))
    meta: dict[str, Any] = {}
    for key in _META_KEYS:
        value = d.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"{addr}.{key}", f"expected a string, got {value!r}")
        meta[key] = value
    provider_text = d.get("text")
    if provider_text is not None and not isinstance(provider_text, str):
        raise fail(f"{addr}.text", "expected a string")
    extra = d.get("extra", {})
    expect_dict(extra, f"{addr}.extra")
    return Trace.from_positions(
        positions,
        TraceMeta(
            source=source,
            index=index,
            format=FORMAT_NAME,
            provider_text=provider_text,
            extra=extra,
            **meta,
        ),
    )


def _cand_json(text: str, lp: float, b: bytes | None, tid: int) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if lp == -math.inf:
        out["prob"] = 0.0  # JSON has no -inf; an exact zero probability is written as such
    else:
        out["logprob"] = None if math.isnan(lp) else lp
    if b is not None:
        out["bytes"] = list(b)
    if tid >= 0:
        out["id"] = tid
    return out


def to_native_dict(trace: Trace) -> dict[str, Any]:
    """The native JSON object of a trace (lossless: ``read_native(to_native_dict(t)) == t``)."""
    tokens: list[dict[str, Any]] = []
    off = trace.alt_offsets
    for i in range(trace.n_tokens):
        tok = _cand_json(
            trace.tokens[i], float(trace.logprobs[i]), trace.token_bytes[i], int(trace.token_ids[i])
        )
        if trace.special[i]:
            tok["special"] = True
        tok["top"] = [
            _cand_json(
                trace.alt_tokens[j],
                float(trace.alt_logprobs[j]),
                trace.alt_bytes[j],
                int(trace.alt_ids[j]),
            )
            for j in range(int(off[i]), int(off[i + 1]))
        ]
        tokens.append(tok)
    m = trace.meta
    out: dict[str, Any] = {"tracesite": VERSION}
    for key in _META_KEYS:
        if getattr(m, key) is not None:
            out[key] = getattr(m, key)
    if m.provider_text is not None:
        out["text"] = m.provider_text
    if m.extra:
        out["extra"] = dict(m.extra)
    out["tokens"] = tokens
    return out


def dump_native(trace: Trace) -> str:
    return json.dumps(to_native_dict(trace), ensure_ascii=False, indent=None, separators=(",", ":"))
