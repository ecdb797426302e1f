"""The render cache: one file per trace file, keyed by content, safe to delete at any time.

The key is the file's bytes, the heatmap options, the part of the file rendered and how it is
read (an embedded slice, a rollout table's row range, the ``[rollouts]`` options with the
tokenizer's content digest: ``Task.part``), the renderer version, Bokeh's version and a
fingerprint of tracesite's own source, so a hit is never stale (not even after editing a renderer
in an editable install). A hit costs one hash and one small JSON read.

An entry is one file: a first line of JSON (the summaries, and the byte length of each rendered
fragment) and then the fragments' UTF-8 text, back to back. Fragments are large HTML and
JavaScript; storing them raw rather than as JSON strings saves escaping them on write and
unescaping them on every page write, and lets a cache hit read the first line only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tracesite.build.writer import atomic_write
from tracesite.core.options import HeatmapOptions
from tracesite.model.summary import TraceSummary

#: The render cache, under the project folder; safe to delete at any time.
CACHE_DIR = ".tracesite-cache"


#: Bump when rendered output changes shape, so old cache entries are never reused.
RENDER_VERSION = "3"


_SUFFIX = ".tsc"  # one cache entry: a JSON line, then raw fragments


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "0"


def _source_fingerprint() -> str:
    """A hash of tracesite's Python sources: readers, statistics and renderers all shape what is
    cached, and while developing (an editable install) they change without a version bump."""
    root = Path(__file__).resolve().parent.parent  # the tracesite package
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


RENDER_KEY = (
    f"{RENDER_VERSION}/{_pkg_version('tracesite')}/{_pkg_version('bokeh')}/{_source_fingerprint()}"
)


def content_digest(data: bytes) -> bytes:
    """What a cache key takes of a file's bytes (their SHA-256)."""
    return hashlib.sha256(data).digest()


def cache_key(
    data: bytes, options: HeatmapOptions, part: str = "", *, digest: bytes | None = None
) -> str:
    """The key of a render of ``data`` with ``options``; ``part`` names a piece of the file (an
    embedded slice, a range of rows) and how it is read (``[rollouts]``), "" for all of it read
    the default way. ``digest``: the bytes' :func:`content_digest`, when already known (the
    row ranges of one big table share it), instead of hashing ``data`` again."""
    h = hashlib.sha256(digest if digest is not None else content_digest(data))
    h.update(RENDER_KEY.encode())
    h.update(repr(options).encode())
    if part:
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:40]


def has_entry(cache_dir: Path, key: str) -> bool:
    """Whether the cache still holds an entry (someone may delete the folder at any time)."""
    return _entry(cache_dir, key).is_file()


def _entry(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}{_SUFFIX}"


def _encode(text: str) -> bytes:
    # lone surrogates (valid in JSON input) must survive the round trip, as they did in JSON
    return text.encode("utf-8", "surrogatepass")


def store(
    cache_dir: Path,
    key: str,
    summaries: list[TraceSummary],
    fragments: list[dict[str, str]],
    parts: dict[str, bytes] | None = None,
) -> None:
    """Write one cache entry atomically. ``parts``: the task's raw pieces after the fragments
    (the spooled terms and token keys of its traces, :mod:`tracesite.build.shards`)."""
    target = _entry(cache_dir, key)
    bodies = [[(name, _encode(text)) for name, text in f.items()] for f in fragments]
    extra = list((parts or {}).items())
    header = {
        "summaries": [_fields(s) for s in summaries],
        "fragments": [[[name, len(raw)] for name, raw in f] for f in bodies],
        "parts": [[name, len(raw)] for name, raw in extra],
    }
    # json.dumps escapes control characters, so the header is exactly one line
    line = json.dumps(header, allow_nan=False, default=_json_default).encode("ascii") + b"\n"
    atomic_write(target, [line, *(raw for f in bodies for _, raw in f), *(r for _, r in extra)])


def _fields(summary: TraceSummary) -> dict[str, Any]:
    """A summary's fields (JSON-able values: its dicts and lists are dumped as they are;
    ``asdict`` deep-copied every one of them, a sixth of a 1,000-token trace's build time)."""
    return {f.name: getattr(summary, f.name) for f in fields(summary)}


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _header(fh: Any) -> tuple[dict[str, Any], int]:
    """The entry's header and its length in bytes; ValueError when the entry is incomplete."""
    line = fh.readline()
    header = json.loads(line)
    size = len(line) + sum(n for f in header["fragments"] for _, n in f)
    size += sum(n for _, n in header.get("parts", []))
    if os.fstat(fh.fileno()).st_size != size:
        raise ValueError("truncated cache entry")
    return header, len(line)


def load_cached(cache_dir: Path, key: str) -> list[TraceSummary] | None:
    """The summaries of a complete cache entry, or None (missing, truncated, or another shape)."""
    try:
        with _entry(cache_dir, key).open("rb") as fh:
            header, _ = _header(fh)
        return [TraceSummary(**s) for s in header["summaries"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_entry(cache_dir: Path, key: str) -> tuple[list[TraceSummary], list[dict[str, str]]]:
    summaries, fragments, _ = load_whole(cache_dir, key)
    return summaries, fragments


def load_whole(
    cache_dir: Path, key: str
) -> tuple[list[TraceSummary], list[dict[str, str]], dict[str, bytes]]:
    """The summaries and rendered fragments of every trace of a cached file, in file order, in
    one read; OSError or ValueError when the entry is missing or not whole.

    Both lists are indexed by the trace's index in its file. The entry of a range of rows of a
    big rollout table (a task of ``rows=a,b``) holds rows ``a..b-1`` only: its lists start at
    index ``a``, the slots before it repeating row ``a`` (cheap references, never shown: the
    pages of those rows read the entries of their own ranges)."""
    with _entry(cache_dir, key).open("rb") as fh:
        header, _ = _header(fh)
        body = fh.read()
    try:
        summaries = [TraceSummary(**s) for s in header["summaries"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"cache entry of another shape: {exc}") from None
    out: list[dict[str, str]] = []
    at = 0
    for f in header["fragments"]:
        frag: dict[str, str] = {}
        for name, n in f:
            frag[name] = body[at : at + n].decode("utf-8", "surrogatepass")
            at += n
        out.append(frag)
    parts: dict[str, bytes] = {}
    for name, n in header.get("parts", []):
        parts[name] = body[at : at + n]
        at += n
    first = summaries[0].index if summaries and len(out) == len(summaries) else 0
    if first > 0:
        summaries = [summaries[0]] * first + summaries
        out = [out[0]] * first + out
    return summaries, out, parts
