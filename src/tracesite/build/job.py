"""The per-file work of a build: read a trace file, summarise and render its traces, cache them.

Runs in worker processes (or in-process for small builds); the garbage-collector tuning that
speeds it up is applied only inside pool workers (:func:`worker_init`), never to the process that
called the build (the dev server, a notebook).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from tracesite.build.cache import cache_key, load_cached, store
from tracesite.core.errors import TraceReadError, TracesiteError
from tracesite.core.options import HeatmapOptions
from tracesite.model.summary import TraceSummary

@dataclass(frozen=True)
class FileResult:
    rel: str
    key: str
    summaries: list[TraceSummary]
    error: TracesiteError | None = None
    cached: bool = False


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


def worker_init() -> None:
    """Set up a pool worker: import the renderer, then keep the objects alive so far out of the
    garbage collector's walks (``gc.freeze``) and collect the youngest generation less often.

    Parsing and rendering one 1,000-token trace allocates tens of thousands of containers, which
    triggers collections, and with Bokeh imported the older-generation collections also walk its
    ~100k module objects: the collector took a quarter of the per-file time (9.6 of 39 ms,
    measured with ``gc.callbacks``), and JSON parsing ran 2.5x slower than in a bare
    interpreter. Frozen, it takes ~2.5 ms. Only ever called in a worker process: freezing the
    heap of the dev server or of a notebook would keep its garbage alive for good.
    """
    import tracesite.formats
    import tracesite.model.summary
    import tracesite.render.fragments  # noqa: F401  (Bokeh, so its modules are frozen too)

    gc.collect()  # first, so no garbage is frozen for good
    gc.freeze()
    # A 1,000-token file allocates ~25k containers and frees them all by refcount once it is
    # done, so with the first generation at 50k most files finish without a collection (16
    # young and 1.5 older ones a file before: ~1 of 12 ms). Cyclic garbage (Bokeh documents)
    # is still collected, at most 50k containers late; a bigger file is collected as it grows.
    gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])


#: Containers allocated (net) before the youngest generation is collected; Python's default 700.
GC_FIRST_THRESHOLD = 50_000


def process_file(path: Path, rel: str, options: HeatmapOptions, cache_dir: Path) -> FileResult:
    """Read, summarise and render one trace file, using the cache when the bytes are known."""
    got = _read(path, rel, options)
    if isinstance(got, FileResult):
        return got
    data, key = got
    hit = load_cached(cache_dir, key)
    if hit is not None:
        return FileResult(rel, key, hit, cached=True)
    try:
        # imported here: the main process answers cache hits without numpy, readers or Bokeh
        from tracesite.formats import read_bytes
        from tracesite.model.summary import summarise
        from tracesite.render.fragments import render_fragments

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
