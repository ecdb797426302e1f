"""What one build hands the next in the same process (the dev server keeps one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from tracesite.build.cache import has_entry, load_cached
from tracesite.build.job import Digests, FileResult, Slice, Task, lookup
from tracesite.build.statindex import Stat, StatIndex, stat_of
from tracesite.core.config import Config
from tracesite.core.options import HeatmapOptions
from tracesite.site.notes import Note
from tracesite.site.pages import make_env

Signature = tuple[Path, Stat, HeatmapOptions, Slice | None, str]


@dataclass
class BuildMemo:
    """Parsed notes, keyed by path and bytes: a note edit re-parses that note only. Render
    tasks' cache lookups, keyed by path, size, mtime, ctime, inode, options, slice and part: an
    untouched trace file is not even read again (its bytes were hashed when first seen)."""

    notes: dict[tuple[Path, str], Note] = field(default_factory=dict)
    envs: dict[tuple[Path, ...], jinja2.Environment] = field(default_factory=dict)
    traces: dict[Signature, FileResult] = field(default_factory=dict)
    _seen: dict[Signature, FileResult] = field(default_factory=dict)
    _digests: Digests = field(default_factory=dict)  # one build's: a big table's row ranges
    # False for a one-off build: remembering every file's result would hold all its summaries
    keep_traces: bool = True

    def lookup(self, task: Task, index: StatIndex) -> tuple[FileResult | None, Stat | None]:
        """The cached result of a task (None: render it) and the file's stat before reading."""
        try:
            st = stat_of(task.path.stat())
        except OSError:
            return lookup(task), None
        # any write changes ctime; the part names a row range and the [rollouts] options
        sig = (task.path, st, task.options, task.embed, task.part)
        hit = self.traces.get(sig)
        if hit is not None and not has_entry(task.cache_dir, hit.key):
            hit = None  # the cache folder was deleted: ask again, which renders if need be
        read = False
        if hit is None:
            key = index.key_for(task.index_name, st, task.options)
            summaries = load_cached(task.cache_dir, key) if key is not None else None
            if key is not None and summaries is not None:  # known bytes: not read, not hashed
                hit = FileResult(task.rel, key, summaries, cached=True)
            else:
                hit, read = lookup(task, self._digests, st), True
        if hit is not None and hit.error is None:
            index.record(task.path, st, hit.key, task.options, read=read, name=task.index_name)
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
        self._digests = {}
