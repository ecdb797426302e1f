"""The build: gather -> render -> write.

Gather: discover the content, read the notes, plan one render task per trace file and per
```` ```trace ```` embed. Render: the cache answers what it can, worker processes (``--jobs``)
the rest, each holding one file at a time, so the main process only keeps small cards. Write:
the pages are assembled from the cached fragments and written atomically, the index last.
Every warning and error goes to one :class:`~tracesite.core.errors.Diagnostics`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from tracesite.build.assemble import write_site
from tracesite.build.cache import CACHE_DIR
from tracesite.build.embeds import Embed, plan_embeds, settle
from tracesite.build.executor import run_tasks
from tracesite.build.job import Task
from tracesite.build.memo import BuildMemo
from tracesite.build.writer import check_output_dir
from tracesite.core.config import Config, load_config
from tracesite.core.errors import (
    BuildError,
    Diagnostics,
    ErrorCollection,
    NoteError,
    TracesiteError,
)
from tracesite.site.discover import Content, TraceSource, discover
from tracesite.site.gallery import TraceEntry, make_card
from tracesite.site.notes import Note, read_note


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
    """Everything the render stage is asked for: a task per trace file and per embed."""

    sources: list[TraceSource]
    trace_tasks: list[Task]
    embeds: list[Embed]


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
    memo = memo if memo is not None else BuildMemo(keep_traces=False)
    # gather
    content = discover(config.build.content_dir)
    notes = _read_notes(content, config, diag, memo)
    gathered = _gather(content, notes, config, opts)
    # render
    entries, embeds, result.rendered = _render(gathered, notes, config, opts, diag, memo)
    result.n_traces = len(entries)
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
    cache_dir = config.project / CACHE_DIR
    sources: list[TraceSource] = []
    tasks: list[Task] = []
    for src in content.traces:
        note = notes.get(src.note) if src.note else None
        if not _shown(note, opts):
            continue
        hm = config.heatmap if note is None else replace(config.heatmap, highlights=note.highlights)
        sources.append(src)
        tasks.append(Task(src.path, config.shown(src.path), hm, cache_dir))
    wanted = {s.note for s in sources if s.note is not None}
    wanted |= {p for p, rel in content.pages if rel != "index.md" and _shown(notes.get(p), opts)}
    return Gathered(sources, tasks, plan_embeds(notes, config, wanted))


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
    n_files = len(gathered.trace_tasks)
    embeds = list(gathered.embeds)
    rendering = [(j, e.task) for j, e in enumerate(embeds) if e.task is not None]
    tasks = gathered.trace_tasks + [task for _, task in rendering]  # embed k is task n_files + k
    per_file: list[list[TraceEntry] | TracesiteError] = [[] for _ in range(n_files)]
    rendered = 0
    for i, res in run_tasks(tasks, memo, jobs=opts.jobs, quiet=opts.quiet):
        rendered += not res.cached
        if i >= n_files:
            j = rendering[i - n_files][0]
            embeds[j] = settle(embeds[j], res, config)
        elif res.error is not None:
            per_file[i] = res.error
        else:  # the summaries are dropped here: pages read them back from the cache
            src = gathered.sources[i]
            note = notes.get(src.note) if src.note else None
            per_file[i] = [
                TraceEntry(src, s.index, res.key, note, make_card(src, s, note))
                for s in res.summaries
            ]
    entries: list[TraceEntry] = []
    for got in per_file:
        if isinstance(got, TracesiteError):
            diag.error(got)
        else:
            entries += got
    for e in embeds:
        if e.error is not None:
            diag.error(e.error)
    return entries, embeds, rendered


__all__ = ["BuildOptions", "BuildResult", "ErrorCollection", "build_project"]
