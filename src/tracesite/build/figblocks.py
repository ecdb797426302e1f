"""```` ```figure ```` blocks (SPEC §16): paper figures over a note's choice of gallery traces.

Planned after the trace tasks (a block names traces of this build: ``src`` paths or globs under
content/, a ``section``, or the whole gallery), rendered in a worker process (the main process
never reads the traces), cached under the content digests (cache keys) of the traces it draws.
A block's problem (an unknown figure, a channel a trace lacks) fails that block only: its place
in the note shows the error, the build reports it, the rest of the note renders.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracesite.build.cache import RENDER_KEY, has_entry, store
from tracesite.build.cachedir import cache_dir_for
from tracesite.build.embeds import Embed
from tracesite.core.config import Config
from tracesite.core.errors import Diagnostics, NoteError, TracesiteError
from tracesite.core.options import ReadOptions
from tracesite.site.notes import FigureBlock, Note, TraceEmbed

if TYPE_CHECKING:
    from markupsafe import Markup

    from tracesite.model.trace import Trace
    from tracesite.site.gallery import TraceEntry

#: Figures whose values can come from a channel (``channel:``); the others have fixed inputs.
CHANNEL_FIGURES = ("entropy-histogram", "entropy-by-position")
#: Traces drawn by one figure, at most (a bigger selection is cut, and the caption says so).
MAX_TRACES = 200_000


@dataclass(frozen=True)
class FigureMember:
    path: Path
    rel: str  # under content/, as pages show it
    index: int  # the trace's position in its file
    url: str  # its page (or its card's viewer URL), site-relative


@dataclass(frozen=True)
class FigureTask:
    block: FigureBlock
    where: str  # "notes/x.md: figure block 2", for messages
    members: tuple[FigureMember, ...]
    read: ReadOptions
    cache_dir: Path
    key: str
    n_total: int  # traces selected before MAX_TRACES


# ----------------------------------------------------------------------------- planning


def _selected(block: FigureBlock, entries: Sequence[TraceEntry]) -> list[TraceEntry]:
    """The traces a block names, in gallery order."""
    if block.src:
        return [e for e in entries if any(fnmatch.fnmatchcase(e.source.rel, p) for p in block.src)]
    if block.section is not None:
        return [e for e in entries if e.card.section == block.section]
    return list(entries)


def _selection_error(block: FigureBlock) -> str:
    if block.src:
        return f"src {', '.join(block.src)} matches no trace of this build"
    if block.section is not None:
        return f"section {block.section!r} has no trace in this build"
    return "the gallery has no trace"


def _block_problem(block: FigureBlock) -> str | None:
    from tracesite.model.figures import FIGURES

    if block.figure not in FIGURES:
        return f"unknown figure {json.dumps(block.figure)}; known: {', '.join(FIGURES)}"
    if block.channel is not None and block.figure not in CHANNEL_FIGURES:
        return f"channel: only for {' and '.join(CHANNEL_FIGURES)}"
    if block.label is not None and block.figure != "confidence-by-label":
        return "label: only for confidence-by-label"
    return None


def _task_key(block: FigureBlock, chosen: Sequence[TraceEntry]) -> str:
    h = hashlib.sha256(f"{RENDER_KEY}\0figure\0{block!r}".encode("utf-8", "surrogatepass"))
    for e in chosen:
        h.update(f"\0{e.cache_key}\0{e.index}\0{e.card.url}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def plan_figure(
    note_file: Path, block: FigureBlock, entries: Sequence[TraceEntry], config: Config
) -> FigureTask | NoteError:
    """The render task of one block, or its error addressed to the note's line."""
    where = f"figure block {block.number}"
    problem = block.error or _block_problem(block)
    chosen = _selected(block, entries) if problem is None else []
    if problem is None and not chosen:
        problem = _selection_error(block)
    if problem is not None:
        message = problem if problem.startswith(where) else f"{where}: {problem}"
        return NoteError(message, path=config.shown(note_file), address=str(block.line))
    cut = chosen[:MAX_TRACES]
    members = tuple(FigureMember(e.source.path, e.source.rel, e.index, e.card.url) for e in cut)
    return FigureTask(
        block,
        f"{config.shown(note_file)}: {where}",
        members,
        config.read,
        cache_dir_for(config.project).path,
        _task_key(block, cut),
        len(chosen),
    )


# ----------------------------------------------------------------------------- rendering


def _slim(trace: Trace, block: FigureBlock, rel: str) -> Trace:
    """Only what the figure draws (logprobs and one or two channels), so a figure over many
    traces holds a few arrays per trace, not their tokens and alternatives."""
    from tracesite.model.trace import Trace

    channels: dict[str, Any] = {}
    if block.channel is not None:
        if block.channel not in trace.channel_names:
            raise NoteError(f"channel {json.dumps(block.channel)} not in {rel}")
        channels["entropy"] = trace.channel(block.channel)
    elif block.figure in CHANNEL_FIGURES:
        channels["entropy"] = (
            trace.channel("entropy")
            if "entropy" in trace.channels
            else trace.position_stats.entropy
        )
    if block.figure in ("sampler-vs-trainer", "dp-by-p") and "train_logprob" in trace.channels:
        channels["train_logprob"] = trace.channel("train_logprob")
    n = trace.n_tokens
    return Trace.from_arrays(("",) * n, logprobs=trace.logprobs, channels=channels, meta=trace.meta)


def _label_of(trace: Trace, label: str) -> str | None:
    """A trace's value of ``label``: a scalar (reward, step), else a metadata field."""
    meta = trace.meta
    for source in (meta.scalars, meta.extra):
        if label in source and source[label] is not None:
            return _shown_label(source[label])
    if label in ("model", "finish_reason", "group") and getattr(meta, label):
        return str(getattr(meta, label))
    return None


def _shown_label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_members(task: FigureTask) -> tuple[list[Trace], list[str | None]]:
    """The slim trace of every member and its label, each file read once."""
    from tracesite.formats import read_bytes, table_rows

    by_file: dict[Path, list[int]] = {}
    rel_of: dict[Path, str] = {}
    for m in task.members:
        by_file.setdefault(m.path, []).append(m.index)
        rel_of[m.path] = m.rel
    got: dict[tuple[Path, int], tuple[Trace, str | None]] = {}
    label = task.block.label
    for path, indexes in by_file.items():
        rel = rel_of[path]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NoteError(f"cannot read {rel}: {exc.strerror or exc}") from None
        if table_rows(data, task.read) is not None:  # a rollout table: only the rows needed
            lo = min(indexes)
            traces = read_bytes(data, rel, task.read, (lo, max(indexes) + 1))
        else:
            lo = 0
            traces = read_bytes(data, rel, task.read)
        wanted = set(indexes)
        for k, t in enumerate(traces):
            if lo + k in wanted:
                got[(path, lo + k)] = (
                    _slim(t, task.block, rel),
                    None if label is None else _label_of(t, label),
                )
        del traces, data
    missing = [m for m in task.members if (m.path, m.index) not in got]
    if missing:
        raise NoteError(f"trace {missing[0].index} is no longer in {missing[0].rel}")
    pairs = [got[(m.path, m.index)] for m in task.members]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _labels(task: FigureTask, labels: list[str | None]) -> list[str] | None:
    label = task.block.label
    if label is None:
        return None
    if all(v is None for v in labels):
        raise NoteError(f"label {json.dumps(label)} not in any trace drawn (a scalar or metadata)")
    return [v if v is not None else "(none)" for v in labels]


def _caption(task: FigureTask) -> str:
    n = len(task.members)
    parts = [task.block.caption] if task.block.caption else []
    shown = f"{n:,} traces" if n == task.n_total else f"the first {n:,} of {task.n_total:,} traces"
    parts.append(f"{shown}; click a mark to open the trace there")
    return " — ".join(parts)


def render_figure_task(task: FigureTask) -> str | None:
    """Render one figure block into the cache; the error's text, or None."""
    try:
        from tracesite.model.figures import figure_data
        from tracesite.render.figures import render_figure

        traces, raw_labels = read_members(task)
        fig = figure_data(task.block.figure, traces, _labels(task, raw_labels))
        if task.block.channel is not None:
            fig.x_label = task.block.channel if "histogram" in fig.name else fig.x_label
            fig.y_label = "tokens" if "histogram" in fig.name else f"mean {task.block.channel}"
        html = render_figure(fig, [m.url for m in task.members], task.block.title, _caption(task))
        store(task.cache_dir, task.key, [], [{"html": html}])
    except TracesiteError as exc:
        return exc.message if isinstance(exc, NoteError) else str(exc)
    except Exception as exc:  # a bug: this block fails, the build goes on
        return f"internal error drawing the figure ({type(exc).__name__}: {exc}); please report it"
    return None


# ----------------------------------------------------------------------------- the build's step


def _embed(
    note_file: Path, block: FigureBlock, key: str = "", error: NoteError | None = None
) -> Embed:
    spec = TraceEmbed(src="", start=None, end=None, index=0, line=block.line, figure=block)
    return Embed(note_file, spec, key=key, error=error)


def settle_figures(
    notes: dict[Path, Note],
    entries: Sequence[TraceEntry],
    config: Config,
    jobs: int | None,
    diag: Diagnostics,
    *,
    dev: bool = False,
) -> list[Embed]:
    """Every figure block of the notes built, as an embed holding its render's cache key or its
    error (reported here). The blocks the cache lacks are drawn in worker processes."""
    out: list[Embed] = []
    todo: list[tuple[int, FigureTask]] = []
    for note_file, note in notes.items():
        if note.draft and not dev:
            continue
        for block in note.figures:
            planned = plan_figure(note_file, block, entries, config)
            if isinstance(planned, NoteError):
                diag.error(planned)
                out.append(_embed(note_file, block, error=planned))
                continue
            out.append(_embed(note_file, block, key=planned.key))
            if not has_entry(planned.cache_dir, planned.key):
                todo.append((len(out) - 1, planned))
    for (k, task), error in zip(todo, _draw(todo, jobs), strict=True):
        if error is not None:
            e = out[k]
            where = f"figure block {task.block.number}"
            err = NoteError(
                f"{where}: {error}", path=config.shown(e.note), address=str(e.spec.line)
            )
            diag.error(err)
            out[k] = _embed(e.note, task.block, error=err)
    return out


#: Below this many traces in all, the blocks are drawn in this process (a pool costs more).
IN_PROCESS_TRACES = 100


def _draw(todo: list[tuple[int, FigureTask]], jobs: int | None) -> list[str | None]:
    """Draw the blocks in worker processes, even a single one (``map_in_pool`` keeps few tasks
    in this process): a figure over a whole gallery reads its traces outside the main process,
    whose memory stays flat. Small ones are drawn here."""
    import os
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from tracesite.build.executor import _mp_context, _worker_start

    tasks = [t for _, t in todo]
    if sum(len(t.members) for t in tasks) <= IN_PROCESS_TRACES:
        return [render_figure_task(t) for t in tasks]
    n = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    with ProcessPoolExecutor(
        max_workers=n,
        mp_context=_mp_context(),
        initializer=_worker_start,
        initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
    ) as pool:
        return list(pool.map(render_figure_task, tasks, chunksize=1))


# ----------------------------------------------------------------------------- the write stage


def fill_figure_blocks(
    html: str, blocks: Sequence[Embed], page_url: str, cache_dir: Path, diag: Diagnostics
) -> Markup:
    """Note HTML with its figure blocks filled from the cache for the page at ``page_url``:
    the figure's trace links are site-relative, so its wrapper gets the page's root prefix;
    figures.js (PNG and SVG export) comes once, after the first figure."""
    from markupsafe import Markup

    from tracesite.build.cache import load_entry
    from tracesite.core.errors import BuildError
    from tracesite.site.links import embed_error
    from tracesite.site.notes import fill_figures
    from tracesite.site.urls import root_for

    if not blocks:
        return Markup(html)
    root = root_for(page_url)
    shown: list[str] = []
    for e in blocks:
        if e.error is not None:
            shown.append(embed_error(e.error))
            continue
        try:
            _, fragments = load_entry(cache_dir, e.key)
        except (OSError, ValueError) as exc:  # the cache folder was deleted mid-build
            err = BuildError(f"the drawn figure left the cache: {exc}", path=str(e.note))
            diag.error(err)
            shown.append(embed_error(err))
            continue
        figure = fragments[0]["html"].replace(
            '<figure class="ts-figure"', f'<figure class="ts-figure" data-root="{root}"', 1
        )
        shown.append(figure)
    script = f'<script src="{root}assets/theme/figures.js"></script>'
    return Markup(fill_figures(html, shown) + script)
