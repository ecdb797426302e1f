"""The per-token entry shape shared by most APIs: ``{token, logprob, bytes, top_logprobs}``.

OpenAI chat ``logprobs.content[]``, Responses ``content[].logprobs[]``, llama.cpp's new form
``completion_probabilities[]`` (with an extra ``id``; ``prob``/``top_probs`` after sampling) and
Ollama's ``logprobs[]`` all use it. This is the hot loop for million-token files. A list is first
read column by column with C-level maps (:func:`_columns`); any entry that is not plainly
well-formed sends the whole list through the per-entry loop, which checks types inline, builds an
address string only when something is wrong, and raises the precise error.
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from typing import Any

import numpy as np

from tracesite.core.errors import TraceReadError
from tracesite.formats.builder import TraceBuilder
from tracesite.formats.common import (
    MIN_INT,
    describe,
    expect_prob,
    fail,
    plain_bytes,
    plain_logprob,
)

MAX_TOKEN_ID = 2**63 - 1  # token ids are stored as int64
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
    if type(value) is int and 0 <= value <= MAX_TOKEN_ID:
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
    elif type(tid) is not int or not 0 <= tid <= MAX_TOKEN_ID:
        return None
    return tok, lp, raw, tid


_MISSING = object()
#: Lists shorter than this (a stream's one-token chunks) go straight to the per-entry loop.
_MIN_COLUMNS = 16

Columns = tuple[list[str], list[Any], list[bytes | None], list[int]]


def _columns(items: list[Any]) -> Columns | None:
    """Tokens, logprobs, bytes and ids of plainly well-formed entries, read a column at a time;
    None when any entry is odd (the per-entry loop then reads it, or raises the addressed error).

    Accepts exactly what :func:`_fast` accepts and returns the same values.
    """
    n = len(items)
    if n == 0:
        return [], [], [], []
    if set(map(type, items)) != {dict}:
        return None
    toks: list[Any] = list(map(dict.get, items, repeat("token")))
    lps: list[Any] = list(map(dict.get, items, repeat("logprob"), repeat(_MISSING)))
    raws: list[Any] = list(map(dict.get, items, repeat("bytes")))
    ids: list[Any] = list(map(dict.get, items, repeat("id")))
    if set(map(type, toks)) != {str} or not set(map(type, lps)) <= {float, int}:
        return None  # a missing or non-string token; a null (unknown), missing or odd logprob
    try:
        values = np.array(lps, dtype=np.float64)
    except OverflowError:  # an integer too large for a float
        return None
    if not (values <= 1e-6).all():  # NaN compares False too
        return None
    kinds = set(map(type, raws))
    try:
        if kinds == {list}:
            data: list[bytes | None] = list(map(bytes, raws))
        elif kinds <= {list, type(None)}:
            data = [None if r is None else bytes(r) for r in raws]
        else:
            return None
    except (TypeError, ValueError):  # not ints 0..255
        return None
    if ids.count(None) == n:
        return toks, lps, data, [-1] * n
    if not set(map(type, ids)) <= {int, type(None)}:
        return None
    known = [i for i in ids if i is not None]
    if min(known) < 0 or max(known) > MAX_TOKEN_ID:
        return None
    return toks, lps, data, [-1 if i is None else i for i in ids]


def _read_columns(entries: list[Any], top_key: str, out: TraceBuilder) -> bool:
    """Append a whole list through :func:`_columns`; False (nothing appended) if anything is odd."""
    if set(map(type, entries)) != {dict}:
        return False
    found: list[Any] = list(map(dict.get, entries, repeat(top_key)))
    kinds = set(map(type, found))
    if not kinds <= {list, type(None)}:
        return False
    tops: list[list[Any]] = found if type(None) not in kinds else [t or [] for t in found]
    chosen = _columns(entries)
    if chosen is None:
        return False
    alts = _columns(list(chain.from_iterable(tops)))
    if alts is None:
        return False
    pos = len(out)
    out.c_tok += chosen[0]
    out.c_lp += chosen[1]
    out.c_bytes += chosen[2]
    out.c_ids += chosen[3]
    out.c_special += [False] * len(entries)
    counts = list(map(len, tops))
    out.a_pos += np.repeat(np.arange(pos, pos + len(entries)), counts).tolist()
    out.a_tok += alts[0]
    out.a_lp += alts[1]
    out.a_bytes += alts[2]
    out.a_ids += alts[3]
    return True


def read_entries(entries: Any, addr: str, out: TraceBuilder, *, linear: bool = False) -> None:
    """Append every entry of an OpenAI-style logprobs list to ``out``.

    ``linear``: llama.cpp's post-sampling form (``prob``, ``top_probs``) instead of logprobs.
    Alternatives may be null, missing or empty (quirk 4); the chosen token is not assumed to be
    among them (quirk 3); ``bytes`` may be null or absent (quirk 6).
    """
    if type(entries) is not list:
        raise fail(addr, f"expected an array, got {describe(entries)}")
    top_key = "top_probs" if linear else "top_logprobs"
    if not linear and len(entries) >= _MIN_COLUMNS and _read_columns(entries, top_key, out):
        return
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
