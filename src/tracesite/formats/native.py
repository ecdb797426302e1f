"""tracesite's native format: ``{"tracesite": 2, "tokens": [...], "channels": {...}, ...}``.

docs/formats.md describes it.

The JSON Schema is ``tracesite/formats/schema/native.schema.json``. Saving is lossless:
``read_native(to_native_dict(t)) == t`` for every trace (property-tested), including unknown
logprobs (``null``), exact zeros (``"prob": 0``, since JSON has no ``-Infinity``), raw bytes that
are not UTF-8, token ids and special tokens. A ``.jsonl`` file holds one trace object per line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    describe,
    expect_dict,
    expect_list,
    expect_prob,
    fail,
    plain_bytes,
    plain_logprob,
)
from tracesite.formats.entries import MAX_TOKEN_ID, bytes_of, id_of, logprob_of
from tracesite.formats.vllm import PROMPT_FORMAT
from tracesite.model.channels import Channels
from tracesite.model.trace import Trace, TraceMeta

FORMAT_NAME = "native"
VERSION = 2  # 2 adds channels, group, scalars and provenance; version 1 files still read
VERSIONS = (1, 2)
_META_KEYS = ("model", "created", "prompt", "finish_reason")


def native_schema() -> dict[str, Any]:
    """The JSON Schema of the native format (``tracesite/formats/schema/native.schema.json``)."""
    from importlib.resources import files

    text = (files("tracesite.formats") / "schema" / "native.schema.json").read_text(
        encoding="utf-8"
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def is_native(obj: Any) -> bool:
    return isinstance(obj, dict) and "tracesite" in obj and "tokens" in obj


def _candidate(d: Any, addr: str, utf8: bool) -> tuple[str, float | None, bytes | None, int]:
    """(text, logprob, bytes, id) of a token object; ``prob`` (linear) is accepted too.

    With the file's ``utf8_bytes`` flag, a missing ``bytes`` key means "the UTF-8 of ``text``"
    and ``"bytes": null`` means "no bytes"; without it, missing means no bytes.
    """
    if type(d) is not dict:
        raise fail(addr, f"expected an object, got {describe(d)}")
    text = d.get("text")
    if type(text) is not str:
        raise fail(f"{addr}.text", f"expected a string, got {describe(text)}")
    lp = d.get("logprob", d)
    if not plain_logprob(lp):
        if "logprob" in d:
            lp = logprob_of(d["logprob"], f"{addr}.logprob")
        elif "prob" in d:
            lp = None if d["prob"] is None else expect_prob(d["prob"], f"{addr}.prob")
        else:
            raise fail(addr, 'expected a "logprob" (or "prob") key')
    if "bytes" in d:
        raw = d["bytes"]
        if raw is not None:
            raw = bytes_of(raw, f"{addr}.bytes")
    elif utf8:
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = None
    tid = d.get("id")
    return text, lp, raw, -1 if tid is None else id_of(tid, f"{addr}.id")


def _fast(d: Any, utf8: bool) -> tuple[str, float | None, bytes | None, int] | None:
    """A well-formed token object read without building its address; None if anything is odd
    (then :func:`_candidate` reads it again and names the problem)."""
    if type(d) is not dict:
        return None
    text = d.get("text")
    lp = d.get("logprob", d)
    if type(text) is not str or not plain_logprob(lp):
        return None
    if "bytes" in d:
        ok, raw = plain_bytes(d["bytes"])
        if not ok:
            return None
    elif utf8:
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = None
    tid = d.get("id")
    if tid is None:
        return text, lp, raw, -1
    if type(tid) is not int or not 0 <= tid <= MAX_TOKEN_ID:
        return None
    return text, lp, raw, tid


def read_native(obj: Any, source: str, index: int = 0, addr: str = "$") -> Trace:
    """One native trace object to a :class:`Trace`."""
    d = expect_dict(obj, addr)
    version = d.get("tracesite")
    if version not in VERSIONS or isinstance(version, bool):
        raise fail(
            f"{addr}.tracesite",
            f"unsupported native format version {describe(version)}; expected 1 or 2",
        )
    utf8 = d.get("utf8_bytes", False)
    if type(utf8) is not bool:
        raise fail(f"{addr}.utf8_bytes", f"expected true or false, got {describe(utf8)}")
    b = _read_tokens(d.get("tokens"), f"{addr}.tokens", utf8)
    meta: dict[str, Any] = {}
    for key in _META_KEYS:
        value = d.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"{addr}.{key}", f"expected a string, got {describe(value)}")
        meta[key] = value
    provider_text = d.get("text")
    if provider_text is not None and not isinstance(provider_text, str):
        raise fail(f"{addr}.text", f"expected a string, got {describe(provider_text)}")
    extra = d.get("extra", {})
    expect_dict(extra, f"{addr}.extra")
    group = d.get("group")
    if group is not None and not isinstance(group, str):
        raise fail(f"{addr}.group", f"expected a string, got {describe(group)}")
    scalars = expect_dict(d.get("scalars", {}), f"{addr}.scalars")
    for key, value in scalars.items():
        if not (value is None or isinstance(value, (str, int, float))):
            raise fail(
                f"{addr}.scalars.{key}", f"expected a number or string, got {describe(value)}"
            )
    provenance = expect_dict(d.get("provenance", {}), f"{addr}.provenance")
    trace = b.build(
        TraceMeta(
            source=source,
            index=index,
            format=FORMAT_NAME,
            provider_text=provider_text,
            extra=extra,
            group=group,
            scalars=scalars,
            provenance=provenance,
            **meta,
        )
    )
    if d.get("prompt_tokens") is not None:
        prompt_meta = TraceMeta(source=source, index=index, format=PROMPT_FORMAT)
        prompt = _read_tokens(d["prompt_tokens"], f"{addr}.prompt_tokens", utf8).build(prompt_meta)
        trace = replace(trace, prompt_trace=prompt)
    if "channels" not in d:
        return trace
    channels = _channels(d["channels"], f"{addr}.channels", trace.n_tokens)
    return replace(trace, channels=Channels(channels))


def _read_tokens(obj: Any, addr: str, utf8: bool) -> TraceBuilder:
    """The positions of a ``tokens`` (or ``prompt_tokens``) array, in a builder."""
    b = TraceBuilder()
    add, alt = b.add, b.alt
    for i, tok in enumerate(expect_list(obj, addr)):
        got = _fast(tok, utf8) or _candidate(tok, f"{addr}[{i}]", utf8)
        special = tok.get("special", False)
        if type(special) is not bool:
            raise fail(f"{addr}[{i}].special", f"expected true or false, got {describe(special)}")
        pos = add(got[0], got[1], got[2], got[3], special)
        top = tok.get("top")
        if top is None or top == []:
            continue
        if type(top) is not list:
            raise fail(f"{addr}[{i}].top", f"expected an array, got {describe(top)}")
        for j, t in enumerate(top):
            got = _fast(t, utf8) or _candidate(t, f"{addr}[{i}].top[{j}]", utf8)
            alt(pos, got[0], got[1], got[2], got[3])
    return b


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _channels(obj: Any, addr: str, n: int) -> dict[str, list[float]]:
    """``{"name": [number | null | "inf" | "-inf"], ...}``, each as long as the tokens."""
    out: dict[str, list[float]] = {}
    for name, values in expect_dict(obj, addr).items():
        where = f"{addr}.{name}"
        if name == "logprob":
            raise fail(where, "the sampler's logprob is each token's own \"logprob\"")
        got = expect_list(values, where)
        if len(got) != n:
            raise fail(where, f"{len(got)} values, tokens has {n}")
        row: list[float] = []
        for i, v in enumerate(got):
            if v is None:
                row.append(math.nan)
            elif type(v) in (int, float):
                row.append(float(v))
            elif isinstance(v, str) and v in _NONFINITE:
                row.append(_NONFINITE[v])
            else:
                raise fail(f"{where}[{i}]", f"expected a number or null, got {describe(v)}")
        out[name] = row
    return out


def _cand_json(text: str, lp: float, b: bytes | None, tid: int, utf8: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if lp == -math.inf:
        out["prob"] = 0.0  # JSON has no -inf; an exact zero probability is written as such
    else:
        out["logprob"] = None if lp != lp else lp  # NaN (unknown) is null
    if utf8:
        if b is None:
            out["bytes"] = None
        elif b != text.encode("utf-8", "surrogatepass"):
            out["bytes"] = list(b)
    elif b is not None:
        out["bytes"] = list(b)
    if tid >= 0:
        out["id"] = tid
    return out


def _mostly_utf8(trace: Trace) -> bool:
    """Whether the file is smaller saying once (``utf8_bytes``) that bytes are the UTF-8 of the
    text: true when more tokens carry such bytes (OpenAI, llama.cpp) than carry none (TGI)."""
    same = none = 0
    for labels, raws in ((trace.tokens, trace.token_bytes), (trace.alt_tokens, trace.alt_bytes)):
        for t, b in zip(labels, raws, strict=True):
            if b is None:
                none += 1
            elif b == t.encode("utf-8", "surrogatepass"):
                same += 1
    return same > none


def to_native_dict(trace: Trace) -> dict[str, Any]:
    """The native JSON object of a trace (lossless: ``read_native(to_native_dict(t)) == t``)."""
    utf8 = _mostly_utf8(trace)
    out = _meta_json(trace)
    if trace.channels:
        out["channels"] = {
            k: [_channel_value(x) for x in v.tolist()] for k, v in trace.channels.items()
        }
    if utf8:
        out["utf8_bytes"] = True
    if trace.prompt_trace is not None:  # vLLM prompt_logprobs: the prompt's scored positions
        out["prompt_tokens"] = _tokens_json(trace.prompt_trace, utf8)
    out["tokens"] = _tokens_json(trace, utf8)
    return out


def _tokens_json(trace: Trace, utf8: bool) -> list[dict[str, Any]]:
    tokens: list[dict[str, Any]] = []
    off = trace.alt_offsets.tolist()
    lps = trace.logprobs.tolist()
    ids = trace.token_ids.tolist()
    special = trace.special.tolist()
    alp = trace.alt_logprobs.tolist()
    aids = trace.alt_ids.tolist()
    a_tok, a_bytes = trace.alt_tokens, trace.alt_bytes
    for i in range(trace.n_tokens):
        tok = _cand_json(trace.tokens[i], lps[i], trace.token_bytes[i], ids[i], utf8)
        if special[i]:
            tok["special"] = True
        tok["top"] = [
            _cand_json(a_tok[j], alp[j], a_bytes[j], aids[j], utf8)
            for j in range(off[i], off[i + 1])
        ]
        tokens.append(tok)
    return tokens


def _meta_json(trace: Trace) -> dict[str, Any]:
    m = trace.meta
    out: dict[str, Any] = {"tracesite": VERSION}
    for key in _META_KEYS:
        if getattr(m, key) is not None:
            out[key] = getattr(m, key)
    if m.provider_text is not None:
        out["text"] = m.provider_text
    if m.extra:
        out["extra"] = dict(m.extra)
    if m.group is not None:
        out["group"] = m.group
    if m.scalars:
        out["scalars"] = dict(m.scalars)
    if m.provenance:
        out["provenance"] = dict(m.provenance)
    return out


def _channel_value(x: float) -> float | str | None:
    if x != x:
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _dumps(obj: dict[str, Any]) -> str:
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A label with a lone surrogate (JSON allows "\ud800") cannot be written as UTF-8;
        # escaping every non-ASCII character keeps it, at some cost in size.
        text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text


def dump_native(trace: Trace) -> str:
    """The native JSON text of one trace (one line, no trailing newline)."""
    return _dumps(to_native_dict(trace))


def dump_native_jsonl(traces: Iterable[Trace]) -> str:
    """Several traces as native JSON lines, one trace per line."""
    return "".join(dump_native(t) + "\n" for t in traces)


def save_native(traces: Trace | Iterable[Trace], path: str | Path) -> None:
    """Write one trace as ``.json``, or several as JSON lines (whatever the file is named)."""
    text = dump_native(traces) + "\n" if isinstance(traces, Trace) else dump_native_jsonl(traces)
    Path(path).write_bytes(text.encode("utf-8"))
