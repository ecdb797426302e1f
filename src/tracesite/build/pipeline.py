"""The build orchestrator: discover -> read -> render -> write.

Trace files are processed in worker processes (``--jobs``), each holding one file at a time and
caching its rendered heatmaps by content hash, so the main process only ever holds small
summaries. Pages are then written from the cache; the index, search index and sitemap last.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path

import click
import jinja2

from tracesite.core.config import Config, load_config
from tracesite.site.discover import Content, TraceSource, discover
from tracesite.core.errors import BuildError, ErrorCollection, NoteError, TracesiteError
from tracesite.site.notes import Note, read_note
from tracesite.core.options import HeatmapOptions
from tracesite.site.pages import make_env
from tracesite.site.gallery import (
    TraceEntry,
    make_card,
)
from tracesite.build.assemble import write_site
from tracesite.build.statindex import Stat, StatIndex, stat_of
from tracesite.build.cache import CACHE_DIR, RENDER_KEY, has_entry, load_cached
from tracesite.build.job import FileResult, lookup, process_file, process_file_args, worker_init
from tracesite.build.writer import check_output_dir

Task = tuple[Path, str, HeatmapOptions, Path]
FILES_PER_WORKER = 4  # below this many uncached files per worker, a pool costs more than it saves


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
    output: Path
    n_traces: int = 0
    n_pages: int = 0
    errors: list[TracesiteError] = field(default_factory=list)
    warnings: list[TracesiteError] = field(default_factory=list)
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)  # site-relative paths written this build
    rendered: int = 0  # trace files rendered (not taken from the cache)

    @property
    def ok(self) -> bool:
        return not self.errors


class Progress:
    """A bar on a terminal, plain lines otherwise, nothing when quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.tty = sys.stderr.isatty()
        self.next_line = 0.0

    def step(self) -> None:
        self.done += 1
        if self.quiet or not self.total:
            return
        if self.tty:
            width = 30
            filled = width * self.done // self.total
            click.echo(
                f"\r  traces [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}",
                err=True,
                nl=False,
            )
            if self.done == self.total:
                click.echo("", err=True)
        elif self.done == self.total or time.monotonic() >= self.next_line:
            click.echo(f"  traces {self.done}/{self.total}", err=True)
            self.next_line = time.monotonic() + 2.0


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
    content = discover(config.build.content_dir)
    memo = memo if memo is not None else BuildMemo(keep_traces=False)
    notes = _read_notes(content, config, result, memo)
    entries = _process_traces(content, notes, config, opts, result, memo)
    write_site(config, content, notes, entries, output, opts, result, memo.jinja_env(config))
    result.seconds = time.perf_counter() - started
    if opts.strict and result.warnings and not result.errors:
        result.errors.append(BuildError(f"{len(result.warnings)} warning(s) and --strict"))
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


@dataclass
class BuildMemo:
    """What one build can hand the next in the same process (the dev server keeps one).

    Parsed notes, keyed by path and bytes: a note edit re-parses that note only. Trace files'
    cache lookups, keyed by path, size, mtime, ctime, inode and options: an untouched trace
    file is not even read again (its bytes were hashed when it was first seen this session).
    """

    notes: dict[tuple[Path, str], Note] = field(default_factory=dict)
    envs: dict[tuple[Path, ...], jinja2.Environment] = field(default_factory=dict)
    traces: dict[tuple[Path, Stat, HeatmapOptions], FileResult] = field(default_factory=dict)
    _seen: dict[tuple[Path, Stat, HeatmapOptions], FileResult] = field(default_factory=dict)
    # False for a one-off build: remembering every file's result would hold all its summaries
    keep_traces: bool = True

    def lookup(self, task: Task, index: StatIndex) -> tuple[FileResult | None, Stat | None]:
        """The cached result of a task (None: render it) and the file's stat before reading."""
        path, rel, options, cache_dir = task
        try:
            st = stat_of(path.stat())
        except OSError:
            return lookup(*task), None
        sig = (path, st, options)  # size, mtime, ctime, inode: any write changes ctime
        hit = self.traces.get(sig)
        if hit is not None and not has_entry(cache_dir, hit.key):
            hit = None  # the cache folder was deleted: ask again, which renders if need be
        read = False
        if hit is None:
            key = index.key_for(path, st, options)
            summaries = load_cached(cache_dir, key) if key is not None else None
            if key is not None and summaries is not None:  # known bytes: not read, not hashed
                hit = FileResult(rel, key, summaries, cached=True)
            else:
                hit, read = lookup(*task), True
        if hit is not None and hit.error is None:
            index.record(path, st, hit.key, options, read=read)
            if self.keep_traces and not index.racy(st):
                self._seen[sig] = hit
        return hit, st

    def jinja_env(self, config: Config) -> jinja2.Environment:
        """The theme's Jinja environment, kept across builds: templates are compiled once and
        recompiled only when their file changes (Jinja checks modification times)."""
        key = tuple(config.build.theme_dirs)
        env = self.envs.get(key)
        if env is None:
            self.envs = {key: (env := make_env(config))}
        return env

    def rotate(self) -> None:
        """Keep only what this build used, so a long session does not accumulate entries."""
        self.traces, self._seen = self._seen, {}


def _read_notes(
    content: Content, config: Config, result: BuildResult, memo: BuildMemo
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
            exc.path = _display(config, path) if exc.path == str(path) else exc.path
            result.errors.append(exc)
            continue
        for w in note.warnings:
            w.path = _display(config, path)
        result.warnings.extend(note.warnings)
        notes[path] = replace(note, path=Path(rel))
    memo.notes = kept
    return notes


def _display(config: Config, path: Path) -> str:
    """Paths in messages are relative to the project, as the user typed them."""
    try:
        return path.relative_to(config.project).as_posix()
    except ValueError:
        return str(path)


def _jobs(opts: BuildOptions, todo: int) -> int:
    jobs = opts.jobs or os.cpu_count() or 1
    return max(1, min(jobs, todo // FILES_PER_WORKER))


def _mp_context() -> BaseContext:
    """fork where it is safe (Linux, one thread): workers start at once and a user's script
    without an ``if __name__ == "__main__"`` guard is not run again in each of them. spawn
    otherwise: the dev server has threads (watcher, HTTP), and forking a threaded process
    can deadlock the child."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return get_context("fork")
    return get_context("spawn")


def _run(tasks: list[Task], jobs: int, progress: Progress) -> Iterator[FileResult]:
    if jobs <= 1:
        for t in tasks:
            yield process_file(*t)
            progress.step()
        return
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=_mp_context(), initializer=worker_init
    ) as pool:
        for r in pool.map(process_file_args, tasks, chunksize=1):
            yield r
            progress.step()


def _process_traces(
    content: Content,
    notes: dict[Path, Note],
    config: Config,
    opts: BuildOptions,
    result: BuildResult,
    memo: BuildMemo,
) -> list[TraceEntry]:
    cache_dir = config.project / CACHE_DIR
    sources: list[TraceSource] = []
    tasks: list[Task] = []
    for src in content.traces:
        note = notes.get(src.note) if src.note else None
        if note is not None and note.draft and not opts.dev:
            continue
        hm = config.heatmap if note is None else replace(config.heatmap, highlights=note.highlights)
        sources.append(src)
        tasks.append((src.path, _display(config, src.path), hm, cache_dir))
    # Cache hits are answered here (a read, a hash, one line of the entry); only the misses go
    # to worker processes, so an unchanged gallery never pays for starting a pool. Each result
    # becomes small entries (cards) at once, so the build never holds every trace's summary.
    done: list[tuple[list[TraceEntry], TracesiteError | None]] = [([], None)] * len(tasks)

    def accept(i: int, res: FileResult) -> None:
        if res.error is not None:
            done[i] = ([], res.error)
            return
        result.rendered += not res.cached
        src = sources[i]
        note = notes.get(src.note) if src.note else None
        done[i] = (
            [
                TraceEntry(src, s.index, res.key, note, make_card(src, s, note))
                for s in res.summaries
            ],
            None,
        )

    index = StatIndex(cache_dir, RENDER_KEY)
    misses: list[tuple[int, Stat | None]] = []
    for i, task in enumerate(tasks):
        hit, st = memo.lookup(task, index)
        if hit is None:
            misses.append((i, st))
        else:
            accept(i, hit)
    memo.rotate()
    progress = Progress(len(misses), opts.quiet)
    rendered = _run([tasks[i] for i, _ in misses], _jobs(opts, len(misses)), progress)
    for (i, st), res in zip(misses, rendered, strict=True):
        accept(i, res)
        if st is not None and res.error is None:
            index.record(tasks[i][0], st, res.key, tasks[i][2])
    index.save()
    entries: list[TraceEntry] = []
    for file_entries, error in done:
        if error is not None:
            result.errors.append(error)
        entries.extend(file_entries)
    result.n_traces = len(entries)
    return entries


__all__ = ["BuildOptions", "BuildResult", "ErrorCollection", "build_project"]
