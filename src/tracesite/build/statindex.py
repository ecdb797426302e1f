"""What a trace file's cache key was, by its file-system stat, so a rebuild need not read and
hash every unchanged input (424 MB for a 1,000-trace gallery: a third of a no-change rebuild).

The cache stays keyed by content: this only remembers which key a file's bytes gave, together
with the file's size, modification and change times and inode. Any write to the file changes its
change time (``st_ctime_ns``, which no program can set back), so a remembered key is used only
for the very bytes it was computed from. As git does for its index, a file modified within
:data:`RACY_NS` of the build's start is not remembered: a second write within the clock's
granularity could leave every stat field equal. The index lives in the cache folder, names the
renderer it was made for (a key of another renderer is never used) and is safe to delete.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from tracesite.build.writer import atomic_write
from tracesite.core.options import HeatmapOptions

INDEX_NAME = "stat-index.json"
RACY_NS = 2_000_000_000  # 2 s: coarser than any file system's timestamps in practice

Stat = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def stat_of(st: os.stat_result) -> Stat:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@functools.lru_cache(maxsize=256)  # asked twice per trace file; a gallery has few option sets
def options_digest(options: HeatmapOptions) -> str:
    return hashlib.sha1(repr(options).encode(), usedforsecurity=False).hexdigest()[:16]


class StatIndex:
    """File path -> (stat, heatmap options, cache key), loaded and saved once per build."""

    def __init__(self, cache_dir: Path, render_key: str) -> None:
        self.file = cache_dir / INDEX_NAME
        self.render_key = render_key
        self.started_ns = time.time_ns()
        self.known: dict[str, list[Any]] = {}
        self.fresh: dict[str, list[Any]] = {}
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("renderer") == render_key:
            files = data.get("files")
            if isinstance(files, dict):
                self.known = files

    def key_for(self, name: str, st: Stat, options: HeatmapOptions) -> str | None:
        """The cache key a file's current bytes gave, if known. ``name``: the file's path, or
        for an embedded slice of it the task's name (``Task.index_name``: it has its own key)."""
        row = self.known.get(name)
        if (
            isinstance(row, list)
            and len(row) == 6
            and tuple(row[:4]) == st
            and row[4] == options_digest(options)
            and isinstance(row[5], str)
        ):
            return row[5]
        return None

    def racy(self, st: Stat) -> bool:
        """Modified so shortly before this build that another write may leave the stat equal."""
        return max(st[1], st[2]) >= self.started_ns - RACY_NS

    def record(
        self,
        path: Path,
        before: Stat,
        key: str,
        options: HeatmapOptions,
        *,
        read: bool = True,
        name: str,
    ) -> None:
        """Remember ``key`` for ``path`` unless it was modified just before the build. When the
        file was ``read`` for this key, only if it still has the stat it had before (so the key
        belongs to these bytes); a key taken from the stat itself needs no second look."""
        if self.racy(before):
            return
        if read:
            try:
                if stat_of(path.stat()) != before:
                    return
            except OSError:
                return
        self.fresh[name] = [*before, options_digest(options), key]

    def save(self) -> None:
        """Write what this build saw (files that are gone are forgotten); atomic, best effort."""
        if self.fresh == self.known:
            return
        data = {"renderer": self.render_key, "files": self.fresh}
        # a read-only or full disk only costs the next build some hashing
        with contextlib.suppress(OSError):
            atomic_write(self.file, json.dumps(data, separators=(",", ":")).encode("utf-8"))
