"""Build epochs for ``tracesite serve``: each build goes into a fresh folder, served once complete.

A build writes into ``<tmp>/build-N``; only when it succeeds does it become the served epoch, so a
half-built site is never served. The new folder starts as a hard-link copy of the served one, and
the build replaces files by rename (``writer.atomic_write``) and skips unchanged ones, so a small
edit writes a few files instead of the whole site while the old epoch stays intact for requests
still reading it. An old epoch is deleted as soon as no request is using it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Epoch:
    """One complete build being served: its number (1, 2, ...) and its real folder."""

    number: int
    root: Path
    users: int = 0
    retired: bool = False


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links: copy instead
        shutil.copy2(src, dst)


class EpochStore:
    """The temporary folder holding build folders, and which epoch is served right now."""

    def __init__(self, parent: Path | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tracesite-serve-", dir=parent)).resolve()
        self._lock = threading.Lock()
        self._current: Epoch | None = None
        self._attempts = 0
        self._published = 0

    @property
    def current(self) -> Epoch | None:
        with self._lock:
            return self._current

    def prepare(self) -> Path:
        """A new build folder, seeded with hard links to the served epoch's files."""
        with self._lock:
            self._attempts += 1
            folder = self.tmp / f"build-{self._attempts}"
            seed = self._current
            if seed is not None:
                seed.users += 1
        try:
            if seed is None:
                folder.mkdir()
            else:
                # symlinks=True copies links as links: never follow one out of the site
                shutil.copytree(seed.root, folder, symlinks=True, copy_function=_link_or_copy)
        finally:
            if seed is not None:
                self._release(seed)
        return folder

    def publish(self, folder: Path) -> int:
        """Serve ``folder`` from now on; retire the previous epoch. Returns the new epoch number."""
        with self._lock:
            self._published += 1
            old, self._current = self._current, Epoch(self._published, folder.resolve())
            number = self._published
            if old is not None:
                old.retired = True
                if old.users:
                    old = None  # deleted by the last request that still reads it
        if old is not None:
            shutil.rmtree(old.root, ignore_errors=True)
        return number

    def discard(self, folder: Path) -> None:
        """Delete a build folder that failed (it was never served)."""
        shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def acquire(self) -> Iterator[Epoch | None]:
        """The served epoch, kept on disk until the caller is done with it (None before any)."""
        with self._lock:
            epoch = self._current
            if epoch is not None:
                epoch.users += 1
        try:
            yield epoch
        finally:
            if epoch is not None:
                self._release(epoch)

    def _release(self, epoch: Epoch) -> None:
        with self._lock:
            epoch.users -= 1
            gone = epoch.retired and epoch.users == 0
        if gone:
            shutil.rmtree(epoch.root, ignore_errors=True)

    def close(self) -> None:
        """Delete the whole temporary folder."""
        with self._lock:
            self._current = None
        shutil.rmtree(self.tmp, ignore_errors=True)
