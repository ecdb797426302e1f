"""What the worker adds to a trace for galleries at scale (docs/scale.md): its token shard entry
(the heatmap's columns, compact), the terms of its whole text with their first position, and
its token keys; the terms and keys of a task are grouped by their hash, so the main process
spools them by bucket without looking at a single term.

Runs in the worker; the main process only reads what :func:`task_parts` wrote.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from tracesite.core.options import HeatmapOptions

if TYPE_CHECKING:
    from tracesite.model.trace import Trace

#: Terms longer than this are cut (docs/scale.md: the browser cuts queries the same way).
MAX_TERM = 40
#: float16's smallest normal number: at or above it (and up to 65,504) a value reads back within
#: 2^-11 of itself, inside half a unit of its third significant digit (the hover's digits).
F16_SMALLEST = 2.0**-14
#: The most values of a trace (as a fraction) kept as float32 exceptions to a float16 ``chv``.
MAX_EXCEPTIONS = 0.05
_WORD = re.compile(r"[^\W]+")  # Python's \w: letters, digits, underscore (and marks)
_SUFFIX: dict[np.dtype[Any], str] = {
    np.dtype(np.float64): "f64",
    np.dtype(np.float32): "f32",
    np.dtype(np.float16): "f16",
    np.dtype(np.uint8): "u8",
    np.dtype(np.uint16): "u16",
    np.dtype(np.uint32): "u32",
    np.dtype(np.int8): "i8",
    np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32",
}


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 of ``text`` (the browser's bucket function)."""
    h = 2166136261
    for b in text.encode("utf-8", "surrogatepass"):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def b64(array: np.ndarray[Any, Any]) -> str:
    """A typed array as base64 of its little-endian bytes."""
    return base64.b64encode(
        array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    ).decode("ascii")


def encode_array(name: str, array: np.ndarray[Any, Any]) -> tuple[str, object]:
    """``(key, value)`` of one typed array: ``name:suffix`` and base64, or ``[fill, n]`` when
    every value is the same (docs/scale.md: a trace without alternatives sends no zeros)."""
    dtype = np.dtype(np.int32) if array.dtype == np.int64 else array.dtype
    key = f"{name}:{_SUFFIX[dtype]}"
    if len(array) > 1 and dtype.kind in "iu" and (array == array[0]).all():
        return key, [int(array[0]), len(array)]
    return key, b64(array.astype(dtype, copy=False))


def honest_f16(values: np.ndarray[Any, Any]) -> dict[str, object]:
    """Channel values as float16 where that keeps them honest to 3 significant digits, with the
    values it cannot hold so (float16's subnormals below 6.1e-5, its overflow past 65,504) as
    exceptions: ``chvx`` (positions) and ``chvy`` (float32 values), applied after decoding.
    Float32 when more than :data:`MAX_EXCEPTIONS` of them would be exceptions."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        half = values.astype(np.float16)
        back = half.astype(np.float64)
        want = values.astype(np.float64)
        exact = (back == want) | (np.isnan(back) & np.isnan(want))
        normal = np.isfinite(want) & (np.abs(want) >= F16_SMALLEST) & np.isfinite(back)
    bad = np.flatnonzero(~(exact | normal))
    if len(bad) > MAX_EXCEPTIONS * len(values):
        return dict([encode_array("chv", values.astype(np.float32))])
    out = dict([encode_array("chv", half)])
    if len(bad):
        out.update([encode_array("chvx", bad.astype(np.uint32))])
        out.update([encode_array("chvy", values[bad].astype(np.float32))])
    return out


def _shared_modes(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config without the built-in colour modes (``render.modes.modes_config``, the same
    for every trace: the viewer page carries them once)."""
    from tracesite.render.modes import modes_config

    builtin = modes_config()
    modes = {k: v for k, v in cfg.get("modes", {}).items() if builtin.get(k) != v}
    return {**cfg, "modes": modes}


def token_columns(trace: Trace, options: HeatmapOptions) -> dict[str, Any]:
    """The trace's entry in a token shard: ``{cfg, cols}`` from ``render.cells.pack_trace``.

    When its string table is all text (no raw bytes kept for the tooltip's hex), the table and
    the indices into it (``tok``, ``atok``) are left out of ``cols`` and given as ``strings``:
    ``{"s": [text, ...], "t": b64, "a": b64, "k": suffix}``, for the main process to merge into
    the shard's one table (:mod:`tracesite.build.tokenshards`)."""
    import json

    from tracesite.render.cells import pack_trace

    packed = pack_trace(trace, options, "v")
    texts = _entry_texts(packed)
    shared = None if len(packed["bad"]) else _shared_strings(packed, texts)
    cols: dict[str, object] = {}
    cfg: dict[str, Any] = {}
    for name, value in packed.items():
        if isinstance(value, str):
            cfg = _shared_modes(json.loads(value))
        elif shared is not None and name in SHARED_COLUMNS:
            continue
        elif name == "chv":
            cols.update(honest_f16(value))
        elif name == "sb" and (utf8 := _utf8(value)) is not None:
            cols["sb:utf8"] = utf8  # the string table as text: a third under base64
        else:
            key, enc = encode_array(name, value)
            cols[key] = enc
    pieces = _text_pieces(trace, packed, texts)
    if pieces:
        cfg["pc"] = pieces
    entry: dict[str, Any] = {"cfg": cfg, "cols": cols}
    if shared is not None:
        entry["strings"] = shared
    return entry


def _entry_texts(packed: dict[str, Any]) -> list[str]:
    """The texts of the string table's entries (``render.cells`` writes each as UTF-8; the raw
    bytes of ``bad`` entries follow them and are left out)."""
    blob, offsets = bytes(packed["sb"]), packed["so"].tolist()
    n = int(packed["nent"][0])
    return [blob[a:b].decode("utf-8") for a, b in pairwise(offsets[: n + 1])]


def _text_pieces(trace: Trace, packed: dict[str, Any], texts: list[str]) -> list[list[Any]]:
    """``[[position, text], ...]`` where the text view shows other than the token's own text:
    a character split over tokens goes to the one holding its last byte (``Trace.pieces``),
    controls show as codes (``render.textview.shown_pieces``). Usually none."""
    from tracesite.render.textview import shown_pieces

    own = map(texts.__getitem__, packed["tok"].tolist())
    shown = shown_pieces(trace)
    return [[i, s] for i, (s, t) in enumerate(zip(shown, own, strict=True)) if s != t]


def token_fragments(entry: dict[str, Any]) -> dict[str, str]:
    """A trace's :func:`token_columns` as the fragments its cache entry keeps: ``tok`` (the
    entry as it goes into the shard, escaped for a script) and, when its table is shared,
    ``tokt`` (the table for :mod:`tracesite.build.tokenshards` to merge; never in the site)."""
    import json

    from tracesite.site.gallery import js_json

    entry = dict(entry)
    strings = entry.pop("strings", None)
    frag = {"tok": js_json(entry)}
    if strings is not None:
        frag["tokt"] = json.dumps(strings, ensure_ascii=False, separators=(",", ":"))
    return frag


#: The columns a shard's shared string table replaces (docs/scale.md, token shards).
SHARED_COLUMNS = frozenset({"tok", "atok", "sb", "so", "nent", "bad"})
#: Typed-array suffixes (``"u16"``) to their dtypes.
DTYPES: dict[str, np.dtype[Any]] = {suffix: dtype for dtype, suffix in _SUFFIX.items()}


def shard_js(name: str, payload: str) -> str:
    """A shard file: the call that hands ``payload`` (JSON) to the loader under ``name``."""
    from tracesite.site.gallery import js_json

    return f"window.TRACESITE_SHARD({js_json(name)},{payload});\n"


def _shared_strings(packed: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """The trace's string table as its list of texts with the indices into it (a trace whose
    entries keep raw bytes, ``bad``, carries its own table instead)."""
    tok, atok = packed["tok"], packed["atok"]
    return {"s": texts, "t": b64(tok), "a": b64(atok), "k": _SUFFIX[tok.dtype]}


def _utf8(blob: np.ndarray[Any, Any]) -> str | None:
    try:
        return bytes(blob).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _term(word: str) -> str:
    if not word.isascii():
        word = unicodedata.normalize("NFKC", word)
    return word.lower()[:MAX_TERM]


def text_terms(pieces: Sequence[str], special: Sequence[bool]) -> dict[str, int]:
    """Each term of the text and the 1-based position of the token where it first starts."""
    texts = [" " if sp else p for p, sp in zip(pieces, special, strict=True)]
    ends = np.cumsum([len(t) for t in texts])
    text = "".join(texts)
    if text.isascii():
        words, starts = _ascii_words(text.lower())
    else:
        found = [(_term(m.group()), m.start()) for m in _WORD.finditer(text)]
        words, starts = [w for w, _ in found], np.array([a for _, a in found], dtype=np.int64)
    if not words:
        return {}
    # each term's first occurrence: later ones overwrite earlier ones when read backwards
    first = {w: k for k, w in zip(range(len(words) - 1, -1, -1), reversed(words), strict=True)}
    pos = np.searchsorted(ends, starts[list(first.values())], side="right") + 1
    return dict(zip(first, pos.tolist(), strict=True))


_ASCII_WORD = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _ASCII_WORD[_c] = True


def _ascii_words(text: str) -> tuple[list[str], np.ndarray[Any, Any]]:
    """The word runs of lower-cased ASCII text and where each starts, in C-level passes."""
    is_word = _ASCII_WORD[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    starts = np.flatnonzero(is_word & ~np.concatenate(([False], is_word[:-1])))
    words = _ASCII_RUN.findall(text)
    if any(len(w) > MAX_TERM for w in words):
        words = [w[:MAX_TERM] for w in words]
    return words, starts


_ASCII_RUN = re.compile(r"[a-z0-9_]+")


def note_terms(text: str) -> dict[str, int]:
    """The terms of a note's text, each at position -1 (a note has no token positions)."""
    return dict.fromkeys((_term(m.group()) for m in _WORD.finditer(text)), -1)


def token_keys(trace: Trace) -> set[str]:
    """The trace's chosen and alternative tokens as search keys: stripped, lower-cased."""
    keys = {label.strip().lower() for label, _ in trace.token_table.entries}
    keys.discard("")
    return keys


def trace_parts(
    trace: Trace, options: HeatmapOptions
) -> tuple[dict[str, Any], dict[str, int], set[str]]:
    """A trace's token shard entry, text terms and token keys."""
    return (
        token_columns(trace, options),
        text_terms(trace.pieces, trace.special.tolist()),
        token_keys(trace),
    )


def group_by_hash(per_trace: Iterable[dict[str, int] | set[str]]) -> bytes:
    """The terms (or keys) of a task's traces as lines ``hash\tterm\tlocal,pos,...`` (keys:
    ``local,...``), one per term, traces in order: what :mod:`tracesite.build.postings` spools.

    A set's keys are taken sorted: in a set's own order the lines (and so the order of the keys
    in an index shard) would depend on the hash seed of the process that rendered the task, and
    the site would differ between builds, and between a local pool and Dask workers."""
    lists: dict[str, list[int]] = {}
    for local, terms in enumerate(per_trace):
        if isinstance(terms, dict):
            for t, p in terms.items():
                got = lists.get(t)
                if got is None:
                    lists[t] = [local, p]
                else:
                    got += (local, p)
        else:
            for t in sorted(terms):
                got = lists.get(t)
                if got is None:
                    lists[t] = [local]
                else:
                    got.append(local)
    lines = [f"{fnv1a32(t)}\t{_clean(t)}\t{','.join(map(str, v))}\n" for t, v in lists.items()]
    return "".join(lines).encode("utf-8", "surrogatepass")


def _clean(term: str) -> str:
    """A term or key without the tab and line breaks that delimit the spool's lines."""
    return term.replace("\t", " ").replace("\n", " ").replace("\r", " ")
