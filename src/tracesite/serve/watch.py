"""Watching a project's sources for ``tracesite serve`` with watchdog.

Watched: the content folder and the active theme folders (recursively) and ``tracesite.toml``.
Ignored, so that saving never loops or rebuilds for nothing: the build output, the render cache,
the server's own temporary folder, and every name discovery ignores
(:func:`tracesite.site.discover.is_ignored`: hidden files, editors' temporary files).
Reads are not changes: open/close-without-write events (the build reading the content) are dropped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from tracesite.site.discover import is_ignored

# Event types that mean a change; "opened" and "closed_no_write" are reads, "attrib" is metadata.
_CHANGES = frozenset({"created", "deleted", "modified", "moved", "closed"})


@dataclass(frozen=True)
class WatchPlan:
    """What to watch: folders (recursively), single files, and places never to react to."""

    roots: tuple[Path, ...]
    files: tuple[Path, ...] = ()
    excluded: tuple[Path, ...] = ()

    def relevant(self, path: Path) -> bool:
        """Does a change at ``path`` call for a rebuild?"""
        if any(path.is_relative_to(ex) for ex in self.excluded):
            return False
        if path in self.files:
            return True
        for root in self.roots:
            if path == root or root.is_relative_to(path):
                return True  # a watched folder (or a parent) itself appeared, moved or went away
            if path.is_relative_to(root):
                return not any(is_ignored(part) for part in path.relative_to(root).parts)
        return False

    def watches(self) -> list[tuple[Path, bool]]:
        """(folder, recursive) pairs for the observer, without ones a recursive watch covers."""
        rec = sorted({r for r in self.roots if r.is_dir()})
        rec = [r for r in rec if not any(r != o and r.is_relative_to(o) for o in rec)]
        # a single file, or a root not there yet, is seen through its nearest existing parent
        parents = set()
        for p in (*self.files, *(r for r in self.roots if not r.is_dir())):
            parent = p.parent
            while not parent.is_dir() and parent != parent.parent:
                parent = parent.parent
            parents.add(parent)
        flat = sorted(p for p in parents if not any(p.is_relative_to(r) for r in rec))
        return [(r, True) for r in rec] + [(p, False) for p in flat]


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: SourceWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a child changed: that child's own event is the one that counts
        paths = [event.src_path]
        if event.event_type == "moved":
            paths.append(event.dest_path)  # editors save by renaming a temp file over the real one
        for raw in paths:
            if raw:
                self.watcher.consider(Path(os.fsdecode(raw)))


class SourceWatcher:
    """Runs a watchdog observer over a :class:`WatchPlan`; calls ``on_change(path)`` per change."""

    def __init__(
        self, on_change: Callable[[Path], None], *, poll: bool = False, poll_interval: float = 0.5
    ) -> None:
        self.on_change = on_change
        self._observer: Any = PollingObserver(timeout=poll_interval) if poll else Observer()
        self._handler = _Handler(self)
        self._lock = threading.Lock()
        self._plan = WatchPlan(roots=())
        self._scheduled: list[tuple[Path, bool, int]] = []

    def start(self) -> None:
        self._observer.daemon = True
        self._observer.start()

    def consider(self, path: Path) -> None:
        with self._lock:
            plan = self._plan
        if plan.relevant(path):
            self.on_change(path)

    def update(self, plan: WatchPlan) -> None:
        """Watch what ``plan`` names; folders are re-watched when replaced (deleted, recreated)."""
        wanted = [(p, rec, _inode(p)) for p, rec in plan.watches()]
        with self._lock:
            self._plan = plan
            if wanted == self._scheduled:
                return
            self._scheduled = wanted
        self._observer.unschedule_all()
        for path, recursive, _ in wanted:
            try:
                self._observer.schedule(self._handler, str(path), recursive=recursive)
            except OSError:
                continue  # vanished meanwhile; its parent's watch or the next build catches up

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except OSError:
        return -1
