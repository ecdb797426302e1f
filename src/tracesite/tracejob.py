"""The per-file work of a build: read a trace file, render its heatmaps, cache the result.

Runs in worker processes (or in-process for small builds). The cache is keyed by the file's bytes,
the heatmap options, the renderer version, Bokeh's version and a fingerprint of tracesite's own
source, so a hit is never stale (not even after editing a renderer in an editable install);
deleting ``.tracesite-cache/`` is always safe. A hit costs one hash and one small JSON read.

A cache entry is one file: a first line of JSON (the summaries, and the byte length of each
rendered fragment) and then the fragments' UTF-8 text, back to back. Fragments are large HTML and
JavaScript; storing them raw rather than as JSON strings saves escaping them on write and
unescaping them on every page write, and lets a cache hit read the first line only.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracesite.errors import TraceReadError, TracesiteError
from tracesite.options import HeatmapOptions

if TYPE_CHECKING:  # imported where used: a build of cache hits never needs them
    import numpy as np

    from tracesite.model import Trace

#: The render cache, under the project folder; safe to delete at any time.
CACHE_DIR = ".tracesite-cache"
#: Bump when rendered output changes shape, so old cache entries are never reused.
RENDER_VERSION = "2"
MAX_MARKS = 50  # low-confidence links listed beside a heatmap: the lowest p
_SUFFIX = ".tsc"  # one cache entry: a JSON line, then raw fragments


def _pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "0"


def _source_fingerprint() -> str:
    """A hash of tracesite's Python sources: readers, statistics and renderers all shape what is
    cached, and while developing (an editable install) they change without a version bump."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


RENDER_KEY = (
    f"{RENDER_VERSION}/{_pkg_version('tracesite')}/{_pkg_version('bokeh')}/{_source_fingerprint()}"
)


@dataclass(frozen=True)
class TraceSummary:
    """What the build needs of one trace besides its page fragments (small, picklable)."""

    index: int
    n_in_file: int
    format: str
    model: str | None
    created: str | None
    finish_reason: str | None
    prompt: str | None
    extra: dict[str, Any]
    stats: dict[str, Any]  # TraceStats.as_dict() without "text"
    mean_entropy: float | None
    excerpt: str
    sparkline: str  # SVG polyline points
    low_confidence: list[int]  # 1-based positions, at most MAX_MARKS
    n_low_confidence: int


@dataclass(frozen=True)
class FileResult:
    rel: str
    key: str
    summaries: list[TraceSummary]
    error: TracesiteError | None = None
    cached: bool = False


def cache_key(data: bytes, options: HeatmapOptions) -> str:
    h = hashlib.sha256(data)
    h.update(RENDER_KEY.encode())
    h.update(repr(options).encode())
    return h.hexdigest()[:40]


def sparkline_points(p: np.ndarray, width: int = 120, height: int = 24) -> str:
    """Mean p over up to ``width // 2`` buckets as SVG polyline points (unknown p left out)."""
    import numpy as np

    n = len(p)
    if n == 0:
        return ""
    buckets = max(1, min(width // 2, n))
    edges = np.linspace(0, n, buckets + 1).astype(int)
    if not np.isnan(p).any():  # then a bucket's mean is its sum over its size, as .mean() does
        bounds = edges.tolist()
        return " ".join(
            f"{(b + 0.5) * width / buckets:.1f},"
            f"{height - 1 - float(p[lo:hi].sum()) / (hi - lo) * (height - 2):.1f}"
            for b, (lo, hi) in enumerate(pairwise(bounds))
        )
    pts = []
    for b in range(buckets):
        chunk = p[edges[b] : max(edges[b + 1], edges[b] + 1)]
        chunk = chunk[~np.isnan(chunk)]
        if len(chunk) == 0:
            continue
        x = (b + 0.5) * width / buckets
        y = height - 1 - float(chunk.mean()) * (height - 2)
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def summarise(trace: Trace, n_in_file: int, options: HeatmapOptions) -> TraceSummary:
    import numpy as np

    ps = trace.position_stats
    stats = trace.stats.as_dict()
    text = stats.pop("text")
    low = np.flatnonzero(ps.p < options.low_confidence)  # NaN (unknown) compares False
    ent = ps.entropy[~np.isnan(trace.logprobs)]
    m = trace.meta
    return TraceSummary(
        index=m.index,
        n_in_file=n_in_file,
        format=m.format,
        model=m.model,
        created=m.created,
        finish_reason=m.finish_reason,
        prompt=m.prompt,
        extra=dict(m.extra),
        stats=stats,
        mean_entropy=float(ent.mean()) if len(ent) and math.isfinite(float(ent.mean())) else None,
        excerpt=text[:300],
        sparkline=sparkline_points(ps.p),
        low_confidence=[
            int(i) + 1 for i in np.sort(low[np.argsort(ps.p[low], kind="stable")[:MAX_MARKS]])
        ],
        n_low_confidence=len(low),
    )


def render_fragments(trace: Trace, options: HeatmapOptions) -> dict[str, str]:
    """The HTML pieces of a trace page that depend on the trace (imports Bokeh)."""
    from tracesite.heatmap import render_heatmap
    from tracesite.textview import render_text_view

    script, div = render_heatmap(trace, options)
    return {"script": script, "div": div, "text_view": render_text_view(trace, options)}


def _read(path: Path, rel: str, options: HeatmapOptions) -> tuple[bytes, str] | FileResult:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(rel, "", [], TraceReadError(f"cannot read: {exc.strerror}", path=rel))
    return data, cache_key(data, options)


def lookup(path: Path, rel: str, options: HeatmapOptions, cache_dir: Path) -> FileResult | None:
    """The cached result for a file (or its read error) without rendering; None on a miss.

    Cheap (one read, one hash, the first line of the cache entry), so a build can ask it in the
    main process and start worker processes only for the misses.
    """
    got = _read(path, rel, options)
    if isinstance(got, FileResult):
        return got
    hit = load_cached(cache_dir, got[1])
    return None if hit is None else FileResult(rel, got[1], hit, cached=True)


def _settle_heap() -> None:
    """Once the renderer is imported, keep the objects alive so far out of the garbage
    collector's walks (``gc.freeze``), once per process.

    Parsing and rendering one 1,000-token trace allocates tens of thousands of containers, which
    triggers collections, and with Bokeh imported the older-generation collections also walk its
    ~100k module objects: the collector took a quarter of the per-file time (9.6 of 39 ms,
    measured with ``gc.callbacks``), and JSON parsing ran 2.5x slower than in a bare
    interpreter. Frozen, it takes ~2.5 ms. Waits for the first render to have imported Bokeh.
    """
    if "bokeh.embed" in sys.modules:
        _freeze_once()


#: Containers allocated (net) before the youngest generation is collected; Python's default 700.
GC_FIRST_THRESHOLD = 50_000


@functools.cache
def _freeze_once() -> None:
    # A latch, not gc.get_freeze_count(): that walks the whole frozen list (~100k objects,
    # ~10 ms of cache misses) on every call. Collect first, so no garbage is frozen for good.
    gc.collect()
    gc.freeze()
    # A 1,000-token file allocates ~25k containers and frees them all by refcount once it is
    # done, so with the first generation at 50k most files finish without a collection (16
    # young and 1.5 older ones a file before: ~1 of 12 ms). Cyclic garbage (Bokeh documents)
    # is still collected, at most 50k containers late; a bigger file is collected as it grows.
    gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])


def process_file(path: Path, rel: str, options: HeatmapOptions, cache_dir: Path) -> FileResult:
    """Read, summarise and render one trace file, using the cache when the bytes are known."""
    got = _read(path, rel, options)
    if isinstance(got, FileResult):
        return got
    data, key = got
    hit = load_cached(cache_dir, key)
    if hit is not None:
        return FileResult(rel, key, hit, cached=True)
    _settle_heap()
    try:
        from tracesite.formats import read_bytes

        traces = read_bytes(data, rel)
        if not traces:
            raise TraceReadError("the file holds no trace", path=rel)
        summaries = [summarise(t, len(traces), options) for t in traces]
        fragments = [render_fragments(t, options) for t in traces]
    except TracesiteError as exc:
        return FileResult(rel, key, [], exc.located(rel))
    except Exception as exc:  # a bug in a reader or renderer: this file fails, the build goes on
        msg = f"internal error reading this file ({type(exc).__name__}: {exc}); please report it"
        return FileResult(rel, key, [], TraceReadError(msg, path=rel))
    try:
        store(cache_dir, key, summaries, fragments)
    except (OSError, ValueError) as exc:  # a full disk, or a value JSON cannot hold
        return FileResult(rel, key, [], TraceReadError(f"cannot cache the render: {exc}", path=rel))
    return FileResult(rel, key, summaries)


def process_file_args(args: tuple[Path, str, HeatmapOptions, Path]) -> FileResult:
    return process_file(*args)


def has_entry(cache_dir: Path, key: str) -> bool:
    """Whether the cache still holds an entry (someone may delete the folder at any time)."""
    return _entry(cache_dir, key).is_file()


def _entry(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}{_SUFFIX}"


def _encode(text: str) -> bytes:
    # lone surrogates (valid in JSON input) must survive the round trip, as they did in JSON
    return text.encode("utf-8", "surrogatepass")


def store(
    cache_dir: Path, key: str, summaries: list[TraceSummary], fragments: list[dict[str, str]]
) -> None:
    """Write one cache entry atomically (a temporary file renamed into place)."""
    target = _entry(cache_dir, key)
    bodies = [[(name, _encode(text)) for name, text in f.items()] for f in fragments]
    header = {
        "summaries": [asdict(s) for s in summaries],
        "fragments": [[[name, len(raw)] for name, raw in f] for f in bodies],
    }
    # json.dumps escapes control characters, so the header is exactly one line
    line = json.dumps(header, allow_nan=False, default=_json_default).encode("ascii") + b"\n"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        fh = tmp.open("wb")
    except FileNotFoundError:  # the first entry in this folder (or the cache was deleted)
        target.parent.mkdir(parents=True, exist_ok=True)
        fh = tmp.open("wb")
    with fh:
        fh.write(line)
        for f in bodies:
            for _, raw in f:
                fh.write(raw)
    os.replace(tmp, target)


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
    """The summaries and rendered fragments of every trace of a cached file, in file order, in
    one read; OSError or ValueError when the entry is missing or not whole."""
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
    return summaries, out
