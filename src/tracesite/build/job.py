"""The per-file work of a build: read a trace file, summarise and render its traces, cache them.

Runs in worker processes (or in-process for small builds); the garbage-collector tuning that
speeds it up is applied only inside pool workers (:func:`worker_init`), never to the process that
called the build (the dev server, a notebook).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tracesite.build.cache import cache_key, load_cached, store
from tracesite.core.errors import TraceReadError, TracesiteError
from tracesite.core.options import HeatmapOptions
from tracesite.model.summary import TraceSummary

if TYPE_CHECKING:
    from tracesite.model.trace import Trace


@dataclass(frozen=True)
class Slice:
    """What a ```` ```trace ```` block embeds of a file: trace ``index``, 1-based positions
    ``start``-``end`` (both None: the whole trace)."""

    index: int = 0
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Task:
    """One unit of render work: a trace file's pages, or one embed of a trace in a note."""

    path: Path
    rel: str  # the file as messages name it (relative to the project)
    options: HeatmapOptions
    cache_dir: Path
    embed: Slice | None = None  # None: every trace of the file, for its own pages

    @property
    def part(self) -> str:
        """Which piece of the file is rendered: "" for the whole file, else the embedded slice."""
        e = self.embed
        return "" if e is None else f"embed={e.index},{e.start},{e.end}"

    @property
    def index_name(self) -> str:
        """The task's name in the stat index: the file, or the file and the embedded slice."""
        return f"{self.path}#{self.part}" if self.part else str(self.path)

    def key(self, data: bytes) -> str:
        return cache_key(data, self.options, self.part)


@dataclass(frozen=True)
class FileResult:
    """What a task gave: the cache key of its render, and the traces' summaries (none for an
    embed, whose fragment the write stage reads from the cache), or the error."""

    rel: str
    key: str
    summaries: list[TraceSummary]
    error: TracesiteError | None = None
    cached: bool = False


def _read(task: Task) -> tuple[bytes, str] | FileResult:
    try:
        data = task.path.read_bytes()
    except OSError as exc:
        err = TraceReadError(f"cannot read: {exc.strerror}", path=task.rel)
        return FileResult(task.rel, "", [], err)
    return data, task.key(data)


def lookup(task: Task) -> FileResult | None:
    """The cached result of a task (or its read error) without rendering; None on a miss.

    Cheap (one read, one hash, the first line of the cache entry), so a build can ask it in the
    main process and start worker processes only for the misses.
    """
    got = _read(task)
    if isinstance(got, FileResult):
        return got
    hit = load_cached(task.cache_dir, got[1])
    return None if hit is None else FileResult(task.rel, got[1], hit, cached=True)


_WARM_UP = (
    b'{"tracesite": 1, "tokens": [{"text": "a", "logprob": -0.1,'
    b' "top": [{"text": "b", "logprob": -2.5}]}]}'
)


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
    from tracesite.core.options import HeatmapOptions as Options
    from tracesite.formats import read_bytes
    from tracesite.model.summary import summarise
    from tracesite.render.fragments import render_fragments

    # One tiny trace through the whole path first: Bokeh and the readers build their lazy
    # caches (models, property descriptors, the embed template) on first use, and those long-
    # lived objects must be frozen too, or every older-generation collection walks them again.
    (warm,) = read_bytes(_WARM_UP, "<worker warm-up>")
    summarise(warm, 1, Options())
    render_fragments(warm, Options())
    gc.collect()  # first, so no garbage is frozen for good
    gc.freeze()
    # A 1,000-token file allocates ~25k containers and frees them all by refcount once it is
    # done, so with the first generation at 50k most files finish without a collection (16
    # young and 1.5 older ones a file before: ~1 of 12 ms). Cyclic garbage (Bokeh documents)
    # is still collected, at most 50k containers late; a bigger file is collected as it grows.
    gc.set_threshold(GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])


#: Containers allocated (net) before the youngest generation is collected; Python's default 700.
GC_FIRST_THRESHOLD = 50_000


def process_file(task: Task) -> FileResult:
    """Read, summarise and render one task, using the cache when the bytes are known."""
    got = _read(task)
    if isinstance(got, FileResult):
        return got
    data, key = got
    rel, cache_dir = task.rel, task.cache_dir
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
        if task.embed is not None:
            summaries, fragments = [], [_embed_fragment(traces, task.embed, task.options)]
        else:
            summaries = [summarise(t, len(traces), task.options) for t in traces]
            fragments = [render_fragments(t, task.options) for t in traces]
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


def _embed_fragment(traces: list[Trace], embed: Slice, options: HeatmapOptions) -> dict[str, str]:
    """The heatmap of one embedded slice, with what its caption says (the positions shown)."""
    from tracesite.render.fragments import render_fragments

    if embed.index >= len(traces):
        raise EmbedError(f"index {embed.index} but the file holds {len(traces)} trace(s)")
    trace = traces[embed.index]
    shown = ""
    if embed.start is not None and embed.end is not None:
        if embed.start > trace.n_tokens:
            raise EmbedError(f"positions start at {embed.start} but the trace has {trace.n_tokens}")
        trace = trace.slice(embed.start - 1, embed.end)
        options = replace(options, position_offset=embed.start - 1)
        shown = f"{embed.start}–{min(embed.end, embed.start - 1 + trace.n_tokens)}"
    frag = render_fragments(trace, options)
    return {
        "div": frag["div"],
        "script": frag["script"],
        "positions": shown,
        "n_in_file": str(len(traces)),
    }


class EmbedError(TracesiteError):
    """A ```` ```trace ```` block asks for a trace or positions its file does not hold."""


def run_task(task: Task) -> FileResult:
    """:func:`process_file` for the worker pool (a module-level function pickles by name)."""
    return process_file(task)
