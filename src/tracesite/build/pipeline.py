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
from tracesite.build.job import Task
from tracesite.build.memo import BuildMemo
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
from tracesite.site.gallery import TraceEntry, make_card
from tracesite.site.notes import Note, read_note
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
    entries, embeds, result.rendered = _render(gathered, notes, config, opts, diag, memo)
    result.n_traces = len(entries)
    cache_dir = cache_dir_for(config.project).path
    settled = settle_compares(embeds, entries, config, cache_dir, opts.jobs)
    for before, after in zip(embeds, settled, strict=True):
        if after.error is not None and before.error is None:  # the others were reported
            diag.error(after.error)
    embeds = settled
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
    )
    result.n_pages, result.changed = written.n_pages, written.changed
    result.seconds = time.perf_counter() - started
    if opts.strict and result.warnings and not result.errors:
        diag.error(BuildError(f"{len(result.warnings)} warning(s) and --strict"))
    if not opts.quiet:
        _report(result, project)
    return result


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
    return Gathered(sources, tasks, embeds, owner)


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


def _render(
    gathered: Gathered,
    notes: dict[Path, Note],
    config: Config,
    opts: BuildOptions,
    diag: Diagnostics,
    memo: BuildMemo,
) -> tuple[list[TraceEntry], list[Embed], int]:
    """Run every task; keep a small entry (a card) per trace and the settled embeds, in content
    order, each file's error instead of its entries. Returns them and the number rendered."""
    n_trace_tasks = len(gathered.trace_tasks)
    embeds = list(gathered.embeds)
    rendering = [(j, e.task) for j, e in enumerate(embeds) if e.task is not None]
    tasks = gathered.trace_tasks + [task for _, task in rendering]  # embed k: n_trace_tasks + k
    per_task: list[tuple[list[TraceEntry], list[str | None]] | TracesiteError] = [
        ([], []) for _ in range(n_trace_tasks)
    ]
    rendered = 0
    for i, res in run_tasks(tasks, memo, jobs=opts.jobs, quiet=opts.quiet):
        rendered += not res.cached
        if i >= n_trace_tasks:
            j = rendering[i - n_trace_tasks][0]
            embeds[j] = settle(embeds[j], res, config)
        elif res.error is not None:
            per_task[i] = res.error
        else:  # the summaries are dropped here: pages read them back from the cache
            src = gathered.sources[gathered.task_source[i]]
            note = notes.get(src.note) if src.note else None
            per_task[i] = (
                [
                    TraceEntry(src, s.index, res.key, note, make_card(src, s, note))
                    for s in res.summaries
                ],
                [name_of(s.format, s.extra) for s in res.summaries],
            )
    entries: list[TraceEntry] = []
    # a file's tasks are consecutive, in row order; one error stands for the whole file
    for _, group in itertools.groupby(range(n_trace_tasks), key=gathered.task_source.__getitem__):
        got = [per_task[i] for i in group]
        error = next((g for g in got if isinstance(g, TracesiteError)), None)
        if isinstance(error, NotATraceError):  # a JSON file with no trace anywhere: not content
            diag.warn(
                BuildError(
                    "not a trace; skipped; add it to [build] exclude in tracesite.toml to"
                    f" silence this ({error.message.split(';')[0]})",
                    path=error.path,
                )
            )
            continue
        if error is not None:
            diag.error(error)
            continue
        done = [g for g in got if not isinstance(g, TracesiteError)]
        entries += _named_by_id([e for g in done for e in g[0]], [n for g in done for n in g[1]])
    for e in embeds:
        if e.error is not None:
            diag.error(e.error)
    return entries, embeds, rendered


__all__ = ["BuildOptions", "BuildResult", "ErrorCollection", "build_project"]
