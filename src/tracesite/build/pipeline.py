"""The build: gather -> render -> write.

Gather: discover the content, read the notes, plan one render task per trace file and per
```` ```trace ```` embed. Render: the cache answers what it can, worker processes (``--jobs``)
the rest, each holding one file at a time, so the main process only keeps small cards. Write:
the pages are assembled from the cached fragments and written atomically, the index last.
Every warning and error goes to one :class:`~tracesite.core.errors.Diagnostics`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from tracesite.build.assemble import write_site
from tracesite.build.cachedir import cache_dir_for
from tracesite.build.compare import settle_compares
from tracesite.build.embeds import Embed, plan_embeds, settle
from tracesite.build.executor import FILES_PER_WORKER, run_tasks
from tracesite.build.groups import plan_groups, run_groups
from tracesite.build.indexwrite import GalleryIndex, IndexTask
from tracesite.build.job import FileResult, Task
from tracesite.build.memo import BuildMemo
from tracesite.build.spool import PAGE_SIZE, CardSpool
from tracesite.build.writer import check_output_dir
from tracesite.core.config import Config, load_config
from tracesite.core.errors import (
    BuildError,
    Diagnostics,
    ErrorCollection,
    NotATraceError,
    NoteError,
    TracesiteError,
)
from tracesite.core.tables import table_rows
from tracesite.site.discover import Content, TraceSource, discover
from tracesite.site.gallery import TraceEntry, card_record, make_card
from tracesite.site.notes import Note, read_note
from tracesite.site.sections import section_infos
from tracesite.site.urls import name_of, named_trace_url, names_in_file

#: The most rows of a rollout table one render task takes (a big table is split into ranges).
ROWS_PER_TASK = 256
#: The fewest: a split table's tasks are not made smaller than this to feed more workers.
MIN_ROWS_PER_TASK = 16


@dataclass(frozen=True)
class BuildOptions:
    output: Path | None = None  # default: config build.output_dir under the project
    base_url: str | None = None  # overrides [site] base_url
    jobs: int | None = None  # worker processes; default: the cores
    strict: bool = False  # warnings fail the build
    clean: bool = False  # empty the output folder first (only one tracesite wrote)
    quiet: bool = False  # no progress output
    dev: bool = False  # dev server build: drafts shown
    executor: str = "process"  # process, dask or dask://HOST:PORT (build/dask_executor.py)


@dataclass
class BuildResult:
    """What a build did; its problems are its :class:`Diagnostics`' (``errors``, ``warnings``)."""

    output: Path
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    n_traces: int = 0
    n_pages: int = 0
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)  # site-relative paths written this build
    rendered: int = 0  # render tasks (trace files, embeds) not answered by the cache

    @property
    def errors(self) -> list[TracesiteError]:
        return self.diagnostics.errors

    @property
    def warnings(self) -> list[TracesiteError]:
        return self.diagnostics.warnings

    @property
    def ok(self) -> bool:
        return self.diagnostics.ok


@dataclass(frozen=True)
class Gathered:
    """Everything the render stage is asked for: a task per trace file (or per range of rows of
    a big rollout table) and per embed."""

    sources: list[TraceSource]
    trace_tasks: list[Task]
    embeds: list[Embed]
    task_source: list[int]  # each trace task's file: its number in ``sources``
    keep_pages: frozenset[Path] = frozenset()  # files whose traces have pages at any size


def build_project(
    project: Path, options: BuildOptions | None = None, memo: BuildMemo | None = None
) -> BuildResult:
    """Build the site of ``project``. Content errors are collected in the result (never raised);
    configuration and output-folder problems raise :class:`TracesiteError`."""
    opts = options or BuildOptions()
    started = time.perf_counter()
    config = load_config(project, base_url=opts.base_url)
    output = (opts.output or config.build.output_dir).resolve()
    check_output_dir(output, config.project, config.build.content_dir)
    if not config.build.content_dir.is_dir():
        raise BuildError("content folder not found", path=str(config.build.content_dir))
    output.mkdir(parents=True, exist_ok=True)
    result = BuildResult(output=output)
    diag = result.diagnostics
    if (w := cache_dir_for(config.project).warning(".")) is not None:
        diag.warn(w)
    memo = memo if memo is not None else BuildMemo(keep_traces=False)
    # gather
    content = discover(config.build.content_dir, config.build.exclude)
    notes = _read_notes(content, config, diag, memo)
    gathered = _gather(content, notes, config, opts)
    # render
    with tempfile.TemporaryDirectory(prefix="tracesite-spool-") as spool_dir:
        spool = Path(spool_dir)
        _build_rest(config, opts, result, content, notes, gathered, memo, spool)
    result.seconds = time.perf_counter() - started
    if opts.strict and result.warnings and not result.errors:
        diag.error(BuildError(f"{len(result.warnings)} warning(s) and --strict"))
    if not opts.quiet:
        _report(result, project)
    return result


def _build_rest(
    config: Config,
    opts: BuildOptions,
    result: BuildResult,
    content: Content,
    notes: dict[Path, Note],
    gathered: Gathered,
    memo: BuildMemo,
    spool_dir: Path,
) -> None:
    """Render and write, with the build's spool in ``spool_dir``."""
    diag = result.diagnostics
    output = result.output
    entries, embeds, result.rendered, index = _render(
        gathered, notes, config, opts, diag, memo, spool_dir, content
    )
    cache_dir = cache_dir_for(config.project).path
    settled = settle_compares(embeds, entries, config, cache_dir, opts.jobs)
    for before, after in zip(embeds, settled, strict=True):
        if after.error is not None and before.error is None:  # the others were reported
            diag.error(after.error)
    from tracesite.build.figblocks import settle_figures  # ```figure``` blocks (H6)

    embeds = [*settled, *settle_figures(notes, entries, config, opts.jobs, diag, dev=opts.dev)]
    groups = plan_groups(entries, config.read, cache_dir)
    done_groups = []
    for task, error in run_groups(groups, opts.jobs):
        if error is not None:
            diag.error(BuildError(f"group page: {error}", path=f"group {task.group}"))
        else:
            done_groups.append(task)
    # write
    written = write_site(
        config,
        content,
        notes,
        entries,
        embeds,
        output,
        diag,
        clean=opts.clean,
        dev=opts.dev,
        env=memo.jinja_env(config),
        groups=done_groups,
        index=index,
    )
    index.spool.close()
    result.n_traces = written.n_traces
    result.n_pages, result.changed = written.n_pages, written.changed


def _report(result: BuildResult, project: Path) -> None:
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    for e in result.errors:
        click.echo(str(e), err=True)
    try:
        shown = result.output.relative_to(project.resolve())
    except ValueError:
        shown = result.output
    click.echo(
        f"{result.n_traces} traces, {result.n_pages} pages, {len(result.warnings)} warnings, "
        f"{len(result.errors)} errors in {result.seconds:.2f} s -> {shown}",
        err=True,
    )


def _read_notes(
    content: Content, config: Config, diag: Diagnostics, memo: BuildMemo
) -> dict[Path, Note]:
    notes: dict[Path, Note] = {}
    kept: dict[tuple[Path, str], Note] = {}
    paths = [t.note for t in content.traces if t.note is not None] + [p for p, _ in content.pages]
    for path in paths:
        rel = path.relative_to(config.build.content_dir).as_posix()
        try:
            digest = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
        except OSError:
            digest = ""
        try:
            note = memo.notes.get((path, digest)) if digest else None
            if note is None:
                note = read_note(path)
            if digest:
                kept[(path, digest)] = note
        except NoteError as exc:
            exc.path = config.shown(path) if exc.path == str(path) else exc.path
            diag.error(exc)
            continue
        for w in note.warnings:
            w.path = config.shown(path)
            diag.warn(w)
        notes[path] = replace(note, path=Path(rel))
    memo.notes = kept
    return notes


def _shown(note: Note | None, opts: BuildOptions) -> bool:
    """Is a page with this note built? Drafts only by the dev server."""
    return note is None or not note.draft or opts.dev


def _gather(
    content: Content, notes: dict[Path, Note], config: Config, opts: BuildOptions
) -> Gathered:
    cache_dir = cache_dir_for(config.project).path
    sources: list[TraceSource] = []
    tasks: list[Task] = []
    owner: list[int] = []
    for src in content.traces:
        note = notes.get(src.note) if src.note else None
        if not _shown(note, opts):
            continue
        hm = config.heatmap if note is None else replace(config.heatmap, highlights=note.highlights)
        sources.append(src)
        task = Task(src.path, config.shown(src.path), hm, cache_dir, read=config.read)
        split = _split(task, opts.jobs)
        tasks += split
        owner += [len(sources) - 1] * len(split)
    wanted = {s.note for s in sources if s.note is not None}
    wanted |= {p for p, rel in content.pages if rel != "index.md" and _shown(notes.get(p), opts)}
    embeds = [
        replace(e, task=replace(e.task, read=config.read)) if e.task is not None else e
        for e in plan_embeds(notes, config, wanted)
    ]
    keep = _keep_pages(sources, embeds)
    tasks = _without_pages(tasks, sources, owner, keep, config)
    return Gathered(sources, tasks, embeds, owner, keep)


def _keep_pages(sources: list[TraceSource], embeds: list[Embed]) -> frozenset[Path]:
    """The files whose traces keep their pages at any size: those with a note, or embedded or
    compared in one (the files its blocks name, as build.embeds resolved them: a refused src,
    a symlink loop or a name no file system holds, names none)."""
    keep = {s.path.resolve() for s in sources if s.note is not None}
    for e in embeds:
        keep.update(e.files)
    return frozenset(keep)


def _without_pages(
    tasks: list[Task],
    sources: list[TraceSource],
    owner: list[int],
    keep: frozenset[Path],
    config: Config,
) -> list[Task]:
    """Past ``[build] max_pages`` traces (counted before reading: a split table's rows, else one
    a file, so never more than there are), the tasks of the files not in ``keep`` render no
    page: the viewer draws their traces from token shards (docs/scale.md)."""
    counted = {t.path: t.n_rows or 1 for t in tasks}
    if sum(counted.values()) <= config.build.max_pages:
        return tasks
    return [
        t if sources[owner[k]].path.resolve() in keep else replace(t, pages=False)
        for k, t in enumerate(tasks)
    ]


def _split(task: Task, jobs: int | None) -> list[Task]:
    """A big rollout table as tasks of row ranges, so every core renders part of it: at most
    :data:`ROWS_PER_TASK` rows each, and enough of them to start a worker per core. The row
    count comes from the table's metadata (or its lines), read here without pyarrow."""
    n = table_rows(task.path, task.read)
    if n is None or n <= MIN_ROWS_PER_TASK:
        return [task]
    cores = jobs or os.cpu_count() or 1
    per = max(MIN_ROWS_PER_TASK, min(ROWS_PER_TASK, math.ceil(n / (FILES_PER_WORKER * cores))))
    return [replace(task, rows=(a, min(n, a + per)), n_rows=n) for a in range(0, n, per)]


def _named_by_id(entries: list[TraceEntry], names: list[str | None]) -> list[TraceEntry]:
    """A file's traces named by their ``id`` column or Batch ``custom_id``
    (``traces/<file>/<id>/``) when every one has a distinct one (site.urls.names_in_file); by
    their number otherwise."""
    slugs = names_in_file(names)
    if slugs is None:
        return entries
    out = []
    for e, name in zip(entries, slugs, strict=True):
        slug, url = named_trace_url(e.source.slug, name)
        out.append(replace(e, card=replace(e.card, slug=slug, url=url)))
    return out


#: A task's result as kept: its traces' entries (those with pages), with their (task, local)
#: numbers, and the names they may be given; or its error.
_Kept = tuple[list[tuple[TraceEntry, tuple[int, int]]], list[str | None]] | TracesiteError


class _Rendered:
    """What the render stage keeps: page entries, spooled cards, the index's tasks."""

    def __init__(self, gathered: Gathered, spool: CardSpool, content: Content) -> None:
        self.gathered, self.spool = gathered, spool
        infos = section_infos({s.section for s in gathered.sources}, content.section_files)
        self.rank = {n: k for k, n in enumerate(infos)}  # the gallery's order of sections
        self.titles = {k: (n, infos[n].title) for n, k in self.rank.items()}
        self.per_task: list[_Kept] = [([], []) for _ in gathered.trace_tasks]
        self.index_tasks: list[IndexTask] = []

    def add(self, i: int, res: FileResult, notes: dict[Path, Note]) -> None:
        """A trace task's summaries: cards spooled, page entries kept (the summaries are
        dropped here: pages read them back from the cache)."""
        task = self.gathered.trace_tasks[i]
        src = self.gathered.sources[self.gathered.task_source[i]]
        note = notes.get(src.note) if src.note else None
        cards = [make_card(src, s, note) for s in res.summaries]
        rank = self.rank[src.section]
        records = [(card_record(c, s), c) for c, s in zip(cards, res.summaries, strict=True)]
        self.spool.add(i, rank, src, records)
        self.index_tasks.append(
            IndexTask(i, res.key, src.section, rank, task.pages, len(res.summaries))
        )
        if task.pages:
            self.per_task[i] = (
                [
                    (TraceEntry(src, s.index, res.key, note, c), (i, j))
                    for j, (s, c) in enumerate(zip(res.summaries, cards, strict=True))
                ],
                [name_of(s.format, s.extra) for s in res.summaries],
            )

    def cap(self, max_pages: int) -> None:
        """Past ``max_pages`` traces after all (a file held more than the count before reading
        said), the traces of files not kept get no page even though their heatmap was made."""
        if sum(t.n for t in self.index_tasks) <= max_pages:
            return
        keep = self.gathered.keep_pages
        for k, t in enumerate(self.index_tasks):
            src = self.gathered.sources[self.gathered.task_source[t.task]]
            if t.pages and src.path.resolve() not in keep:
                self.index_tasks[k] = replace(t, pages=False)
                self.per_task[t.task] = ([], [])


def _render(
    gathered: Gathered,
    notes: dict[Path, Note],
    config: Config,
    opts: BuildOptions,
    diag: Diagnostics,
    memo: BuildMemo,
    spool_dir: Path,
    content: Content,
) -> tuple[list[TraceEntry], list[Embed], int, GalleryIndex]:
    """Run every task; keep a small entry (a card) per trace with a page and the settled embeds,
    in content order, each file's error instead of its entries; every card goes to the spool.
    Returns them, the number rendered and what the shards are written from."""
    n_trace_tasks = len(gathered.trace_tasks)
    embeds = list(gathered.embeds)
    rendering = [(j, e.task) for j, e in enumerate(embeds) if e.task is not None]
    tasks = gathered.trace_tasks + [task for _, task in rendering]  # embed k: n_trace_tasks + k
    kept = _Rendered(gathered, CardSpool(spool_dir), content)
    rendered = 0
    for i, res in run_tasks(tasks, memo, jobs=opts.jobs, quiet=opts.quiet, executor=opts.executor):
        rendered += not res.cached
        if i >= n_trace_tasks:
            j = rendering[i - n_trace_tasks][0]
            embeds[j] = settle(embeds[j], res, config)
        elif res.error is not None:
            kept.per_task[i] = res.error
        else:
            kept.add(i, res, notes)
    kept.cap(config.build.max_pages)
    entries: list[TraceEntry] = []
    page_urls: dict[tuple[int, int], str] = {}
    dropped: set[int] = set()
    # a file's tasks are consecutive, in row order; one error stands for the whole file
    for _, group in itertools.groupby(range(n_trace_tasks), key=gathered.task_source.__getitem__):
        numbers = list(group)
        got = [kept.per_task[i] for i in numbers]
        error = next((g for g in got if isinstance(g, TracesiteError)), None)
        if error is not None:
            dropped.update(numbers)
            _file_error(error, diag)
            continue
        done = [g for g in got if not isinstance(g, TracesiteError)]
        pairs = [p for g in done for p in g[0]]
        named = _named_by_id([e for e, _ in pairs], [n for g in done for n in g[1]])
        entries += named
        page_urls.update((tl, e.card.url) for e, (_, tl) in zip(named, pairs, strict=True))
    for e in embeds:
        if e.error is not None:
            diag.error(e.error)
    index = GalleryIndex(
        kept.index_tasks,
        kept.spool,
        spool_dir,
        cache_dir_for(config.project).path,
        kept.titles,
        page_urls,
        PAGE_SIZE,
        frozenset(dropped),
    )
    return entries, embeds, rendered, index


def _file_error(error: TracesiteError, diag: Diagnostics) -> None:
    if isinstance(error, NotATraceError):  # a JSON file with no trace anywhere: not content
        diag.warn(
            BuildError(
                "not a trace; skipped; add it to [build] exclude in tracesite.toml to"
                f" silence this ({error.message.split(';')[0]})",
                path=error.path,
            )
        )
    else:
        diag.error(error)


__all__ = ["BuildOptions", "BuildResult", "ErrorCollection", "build_project"]
