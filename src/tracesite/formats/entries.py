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
from tracesite.formats.common import (
    MIN_INT,
    describe,
    expect_prob,
    fail,
    plain_bytes,
    plain_logprob,
)

_MAX_ID = 2**63 - 1
#: JSON integers below this do not fit a float (fast paths leave them to :func:`logprob_of`).


def _bad_number(addr: str, value: Any) -> TraceReadError:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return fail(addr, f"expected a number, got {describe(value)}")
    if isinstance(value, float) and (math.isnan(value) or value == math.inf):
        return fail(addr, f"expected a logprob (a number <= 0), got {describe(value)}")
    return fail(addr, f"a logprob must be <= 0 (a probability <= 1), got {value!r}")


def logprob_of(value: Any, addr: str) -> float | None:
    """A logprob (<= 0, -inf allowed, null = unknown) or an addressed error."""
    t = type(value)
    if t is float and value <= 1e-6 and value == value:
        return value  # type: ignore[no-any-return]
    if t is int and value <= 0:
        # JSON integers are unbounded; one too large for a float is far below any sentinel
        return float(value) if value > MIN_INT else -1e308
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


def _entry(e: Any, addr: str, linear: bool) -> tuple[str, float | None, bytes | None, int]:
    """The careful reading of one entry, raising the precise addressed error."""
    tok = _token_of(e, addr)
    lp = _value_of(e, addr, linear)
    raw = bytes_of(e.get("bytes"), f"{addr}.bytes")
    return tok, lp, raw, id_of(e.get("id"), f"{addr}.id")


def _fast(e: Any) -> tuple[str, float | None, bytes | None, int] | None:
    """One well-formed ``logprob`` entry without building any address string; None if odd."""
    if type(e) is not dict:
        return None
    tok = e.get("token")
    lp = e.get("logprob", e)
    if type(tok) is not str or not plain_logprob(lp):
        return None
    ok, raw = plain_bytes(e.get("bytes"))
    if not ok:
        return None
    tid = e.get("id")
    if tid is None:
        tid = -1
    elif type(tid) is not int or not 0 <= tid <= _MAX_ID:
        return None
    return tok, lp, raw, tid


def read_entries(entries: Any, addr: str, out: TraceBuilder, *, linear: bool = False) -> None:
    """Append every entry of an OpenAI-style logprobs list to ``out``.

    ``linear``: llama.cpp's post-sampling form (``prob``, ``top_probs``) instead of logprobs.
    Alternatives may be null, missing or empty (quirk 4); the chosen token is not assumed to be
    among them (quirk 3); ``bytes`` may be null or absent (quirk 6).
    """
    if type(entries) is not list:
        raise fail(addr, f"expected an array, got {describe(entries)}")
    top_key = "top_probs" if linear else "top_logprobs"
    # Bound appends: this loop runs once per token and once per alternative.
    c_tok, c_bytes, c_ids = out.c_tok.append, out.c_bytes.append, out.c_ids.append
    c_lp, c_special = out.c_lp.append, out.c_special.append
    a_pos, a_tok, a_bytes = out.a_pos.append, out.a_tok.append, out.a_bytes.append
    a_ids, a_lp = out.a_ids.append, out.a_lp.append
    pos = len(out)
    for i, e in enumerate(entries):
        got = None if linear else _fast(e)
        if got is None:
            got = _entry(e, f"{addr}[{i}]", linear)
        c_tok(got[0])
        c_lp(got[1])
        c_bytes(got[2])
        c_ids(got[3])
        c_special(False)
        top = e.get(top_key)
        if top is None or top == []:
            pos += 1
            continue
        if type(top) is not list:
            raise fail(f"{addr}[{i}].{top_key}", f"expected an array, got {describe(top)}")
        for j, a in enumerate(top):
            alt = None if linear else _fast(a)
            if alt is None:
                alt = _entry(a, f"{addr}[{i}].{top_key}[{j}]", linear)
            a_pos(pos)
            a_tok(alt[0])
            a_lp(alt[1])
            a_bytes(alt[2])
            a_ids(alt[3])
        pos += 1
