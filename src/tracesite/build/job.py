"""The per-file work of a build: read a trace file, summarise and render its traces, cache them.

Runs in worker processes (or in-process for small builds); the garbage-collector tuning that
speeds it up is applied only inside pool workers (:func:`worker_init`), never to the process that
called the build (the dev server, a notebook).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracesite.build.cache import cache_key, content_digest, load_cached, store
from tracesite.core.errors import TraceReadError, TracesiteError
from tracesite.core.options import HeatmapOptions, ReadOptions
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
    """One unit of render work: a trace file's pages (all of them, or those of a range of rows
    of a big rollout table), or one embed of a trace in a note."""

    path: Path
    rel: str  # the file as messages name it (relative to the project)
    options: HeatmapOptions
    cache_dir: Path
    embed: Slice | None = None  # None: the file's traces, for their own pages
    read: ReadOptions = field(default_factory=ReadOptions)  # [rollouts]: how tables are read
    rows: tuple[int, int] | None = None  # rows start..stop-1 of a table; None: every trace
    n_rows: int = 0  # with ``rows``: the table's row count (its traces' n_in_file)
    pages: bool = True  # False: the traces get no page (past [build] max_pages), no heatmap

    @property
    def part(self) -> str:
        """Which piece of the file is rendered and how it is read: "" for the whole file with
        default reading, else the embedded slice, the row range, the read options' digest."""
        e = self.embed
        parts = [] if e is None else [f"embed={e.index},{e.start},{e.end}"]
        if self.rows is not None:
            parts.append(f"rows={self.rows[0]},{self.rows[1]}")
        if self.read.digest:
            parts.append(f"read={self.read.digest}")
        if not self.pages:
            parts.append("nopages")
        return ";".join(parts)

    @property
    def index_name(self) -> str:
        """The task's name in the stat index: the file, or the file and the embedded slice."""
        return f"{self.path}#{self.part}" if self.part else str(self.path)

    def key(self, data: bytes, digest: bytes | None = None) -> str:
        return cache_key(data, self.options, self.part, digest=digest)


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
    """The file's bytes and the task's cache key, or the read error."""
    try:
        data = task.path.read_bytes()
    except OSError as exc:
        err = TraceReadError(f"cannot read: {exc.strerror}", path=task.rel)
        return FileResult(task.rel, "", [], err)
    return data, task.key(data)


#: A file and its stat -> its content digest (what :func:`lookup` remembers within one build).
Digests = dict[tuple[Path, Any], bytes]


def lookup(task: Task, digests: Digests | None = None, st: Any = None) -> FileResult | None:
    """The cached result of a task (or its read error) without rendering; None on a miss.

    Cheap (one read, one hash, the first line of the cache entry), so a build can ask it in the
    main process and start worker processes only for the misses. The row ranges of one big
    rollout table are many tasks of one file: given ``digests`` and the file's stat ``st``, its
    bytes are read and hashed for the first of them only (32 reads and hashes of a 200 MB table
    took 9 s before the pool started).
    """
    remember = digests is not None and st is not None and task.rows is not None
    digest = digests.get((task.path, st)) if remember and digests is not None else None
    if digest is not None:
        key = task.key(b"", digest)
    else:
        got = _read(task)
        if isinstance(got, FileResult):
            return got
        data, key = got
        if remember and digests is not None:
            digests[(task.path, st)] = content_digest(data)
    hit = load_cached(task.cache_dir, key)
    return None if hit is None else FileResult(task.rel, key, hit, cached=True)


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

        parts: dict[str, bytes] = {}
        if task.embed is not None:
            summaries, fragments = [], [_embed_fragment(data, task)]
        else:
            traces = read_bytes(data, rel, task.read, task.rows)
            if not traces:
                raise TraceReadError("the file holds no trace", path=rel)
            n_in_file = task.n_rows if task.rows is not None else len(traces)
            summaries = [summarise(t, n_in_file, task.options) for t in traces]
            fragments, parts = _trace_fragments(traces, task)
    except TracesiteError as exc:
        return FileResult(rel, key, [], exc.located(rel))
    except Exception as exc:  # a bug in a reader or renderer: this file fails, the build goes on
        msg = f"internal error reading this file ({type(exc).__name__}: {exc}); please report it"
        return FileResult(rel, key, [], TraceReadError(msg, path=rel))
    try:
        store(cache_dir, key, summaries, fragments, parts)
    except (OSError, ValueError) as exc:  # a full disk, or a value JSON cannot hold
        return FileResult(rel, key, [], TraceReadError(f"cannot cache the render: {exc}", path=rel))
    return FileResult(rel, key, summaries)


def _trace_fragments(
    traces: list[Trace], task: Task
) -> tuple[list[dict[str, str]], dict[str, bytes]]:
    """Each trace's fragments (its heatmap and text view when it has a page; its token shard
    entry, ``tok``, always) and the task's spooled terms and token keys (docs/scale.md)."""
    from tracesite.build.shards import group_by_hash, note_terms, token_fragments, trace_parts
    from tracesite.render.fragments import render_fragments

    fragments: list[dict[str, str]] = []
    terms: list[dict[str, int]] = []
    keys: list[set[str]] = []
    for t in traces:
        tok, words, tkeys = trace_parts(t, task.options)
        # what the card shows besides the text: the file's path (its title without a note) and
        # the model; position -1 where the word is not also in the text (a note's title and
        # tags are searched as the note's own document)
        for term in note_terms(f"{task.rel}\n{t.meta.model or ''}"):
            words.setdefault(term, -1)
        frag = render_fragments(t, task.options) if task.pages else {}
        frag.update(token_fragments(tok))  # tok, and tokt: merged into its shard's one table
        fragments.append(frag)
        terms.append(words)
        keys.append(tkeys)
    return fragments, {"terms": group_by_hash(terms), "keys": group_by_hash(keys)}


def _embedded(data: bytes, task: Task, index: int) -> tuple[Trace | None, int]:
    """Trace ``index`` of a file (None when it has fewer) and how many traces it holds; of a
    rollout table, only that row is read."""
    from tracesite.formats import read_bytes, table_rows

    n = table_rows(data, task.read)
    if n is not None:
        got = read_bytes(data, task.rel, task.read, (index, index + 1)) if index < n else []
        return (got[0] if got else None), n
    traces = read_bytes(data, task.rel, task.read)
    return (traces[index] if index < len(traces) else None), len(traces)


def _embed_fragment(data: bytes, task: Task) -> dict[str, str]:
    """The heatmap of one embedded slice, with what its caption says (the positions shown)."""
    from tracesite.render.fragments import render_fragments

    embed, options = task.embed, task.options
    assert embed is not None
    trace, n_in_file = _embedded(data, task, embed.index)
    if n_in_file == 0:
        raise TraceReadError("the file holds no trace", path=task.rel)
    if trace is None:
        raise EmbedError(f"index {embed.index} but the file holds {n_in_file} trace(s)")
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
        "n_in_file": str(n_in_file),
    }


class EmbedError(TracesiteError):
    """A ```` ```trace ```` block asks for a trace or positions its file does not hold."""


def run_task(task: Task) -> FileResult:
    """:func:`process_file` for the worker pool (a module-level function pickles by name)."""
    return process_file(task)
