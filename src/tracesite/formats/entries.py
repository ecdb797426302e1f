"""The per-token entry shape shared by most APIs: ``{token, logprob, bytes, top_logprobs}``.

OpenAI chat ``logprobs.content[]``, Responses ``content[].logprobs[]``, llama.cpp's new form
``completion_probabilities[]`` (with an extra ``id``; ``prob``/``top_probs`` after sampling) and
Ollama's ``logprobs[]`` all use it. This is the hot loop for million-token files: types are checked
inline and an address string is only built when something is wrong.
"""

from __future__ import annotations

import math
from typing import Any

from tracesite.errors import TraceReadError
from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import describe, expect_prob, fail

_MAX_ID = 2**63 - 1


def _bad_number(addr: str, value: Any) -> TraceReadError:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return fail(addr, f"expected a number, got {describe(value)}")
    if isinstance(value, float) and (math.isnan(value) or value == math.inf):
        return fail(addr, f"expected a logprob (a number <= 0), got {describe(value)}")
    return fail(addr, f"a logprob must be <= 0 (a probability <= 1), got {value!r}")


def logprob_of(value: Any, addr: str) -> float | None:
    """A logprob (<= 0, -inf allowed, null = unknown) or an addressed error."""
    t = type(value)
    if (t is float and value <= 1e-6 and value == value) or (t is int and value <= 0):
        return value  # type: ignore[no-any-return]
    if value is None:
        return None
    raise _bad_number(addr, value)


def bytes_of(value: Any, addr: str) -> bytes | None:
    """``bytes``: a list of ints 0..255, or null/absent."""
    if value is None:
        return None
    if type(value) is list:
        try:
            return bytes(value)
        except (TypeError, ValueError):
            pass
    raise fail(addr, f"expected an array of byte values 0..255, got {describe(value)}")


def id_of(value: Any, addr: str) -> int:
    """A token id (integer >= 0), -1 when null/absent."""
    if value is None:
        return -1
    if type(value) is int and 0 <= value <= _MAX_ID:
        return value
    raise fail(addr, f"expected a token id (an integer >= 0), got {describe(value)}")


def _token_of(entry: Any, addr: str) -> str:
    if type(entry) is not dict:
        raise fail(addr, f"expected an object, got {describe(entry)}")
    tok = entry.get("token")
    if type(tok) is not str:
        if "token" not in entry:
            raise fail(addr, 'expected a "token" key')
        raise fail(f"{addr}.token", f"expected a string, got {describe(tok)}")
    return tok


def _value_of(entry: dict[str, Any], addr: str, linear: bool) -> float | None:
    if linear:
        if "prob" not in entry:
            raise fail(addr, 'expected a "prob" key')
        return expect_prob(entry["prob"], f"{addr}.prob")
    if "logprob" not in entry:
        raise fail(addr, 'expected a "logprob" key')
    return logprob_of(entry["logprob"], f"{addr}.logprob")


def read_entries(entries: Any, addr: str, out: TraceBuilder, *, linear: bool = False) -> None:
    """Append every entry of an OpenAI-style logprobs list to ``out``.

    ``linear``: llama.cpp's post-sampling form (``prob``, ``top_probs``) instead of logprobs.
    Alternatives may be null, missing or empty (quirk 4); the chosen token is not assumed to be
    among them (quirk 3); ``bytes`` may be null or absent (quirk 6).
    """
    if type(entries) is not list:
        raise fail(addr, f"expected an array, got {describe(entries)}")
    top_key = "top_probs" if linear else "top_logprobs"
    for i, e in enumerate(entries):
        tok = _token_of(e, f"{addr}[{i}]")
        if linear:
            lp = _value_of(e, f"{addr}[{i}]", True)
        else:
            v = e.get("logprob", e)
            t = type(v)
            if (t is float and v <= 1e-6 and v == v) or (t is int and v <= 0):
                lp = v
            else:
                lp = _value_of(e, f"{addr}[{i}]", False)
        raw = e.get("bytes")
        if raw is not None:
            raw = bytes_of(raw, f"{addr}[{i}].bytes")
        tid = e.get("id")
        if tid is not None:
            tid = id_of(tid, f"{addr}[{i}].id")
        pos = out.add(tok, lp, raw, -1 if tid is None else tid)
        top = e.get(top_key)
        if top is None or top == []:
            continue
        if type(top) is not list:
            raise fail(f"{addr}[{i}].{top_key}", f"expected an array, got {describe(top)}")
        for j, a in enumerate(top):
            atok = _token_of(a, f"{addr}[{i}].{top_key}[{j}]")
            if linear:
                alp = _value_of(a, f"{addr}[{i}].{top_key}[{j}]", True)
            else:
                v = a.get("logprob", a)
                t = type(v)
                if (t is float and v <= 1e-6 and v == v) or (t is int and v <= 0):
                    alp = v
                else:
                    alp = _value_of(a, f"{addr}[{i}].{top_key}[{j}]", False)
            araw = a.get("bytes")
            if araw is not None:
                araw = bytes_of(araw, f"{addr}[{i}].{top_key}[{j}].bytes")
            aid = a.get("id")
            if aid is not None:
                aid = id_of(aid, f"{addr}[{i}].{top_key}[{j}].id")
            out.alt(pos, atok, alp, araw, -1 if aid is None else aid)
