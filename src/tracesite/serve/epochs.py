"""Build epochs for ``tracesite serve``: each build goes into a fresh folder, served once complete.

A build writes into ``<tmp>/build-N``; only when it succeeds does it become the served epoch, so a
half-built site is never served. The new folder starts as a hard-link copy of the served one, and
the build replaces files by rename (``writer.atomic_write``) and skips unchanged ones, so a small
edit writes a few files instead of the whole site while the old epoch stays intact for requests
still reading it. An old epoch is deleted as soon as no request is using it.

Copying and deleting a few hundred links takes 0.1-0.5 s on a busy disk, so neither happens
between a save and the reload: the next build folder is seeded in the background right after
each build, and old folders are deleted in the background.
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
        self._spare: tuple[int, Path] | None = None  # (epoch it copies, folder), seeded ahead
        self._spare_thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._closed = False

    @property
    def current(self) -> Epoch | None:
        with self._lock:
            return self._current

    def prepare(self) -> Path:
        """A new build folder holding hard links to the served epoch's files."""
        self._join_spare()
        with self._lock:
            spare, self._spare = self._spare, None
            current = self._current.number if self._current else 0
        if spare is not None:
            if spare[0] == current:
                return spare[1]
            self._delete_later(spare[1])
        return self._seed()

    def prepare_ahead(self) -> None:
        """Seed the next build folder in the background, so ``prepare`` finds it ready."""
        self._join_spare()
        with self._lock:
            if self._closed or self._spare is not None or self._current is None:
                return
            thread = threading.Thread(target=self._seed_spare, name="tracesite-seed", daemon=True)
            self._spare_thread = thread
        thread.start()

    def _seed_spare(self) -> None:
        with self._lock:
            number = self._current.number if self._current else 0
        folder = self._seed()
        with self._lock:
            self._spare = (number, folder)

    def _join_spare(self) -> None:
        thread = self._spare_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _seed(self) -> Path:
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
            self._delete_later(old.root)
        return number

    def discard(self, folder: Path) -> None:
        """Delete a build folder that failed (it was never served)."""
        self._delete_later(folder)

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
            self._delete_later(epoch.root)

    def _delete_later(self, folder: Path) -> None:
        thread = threading.Thread(
            target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, daemon=True
        )
        with self._lock:
            if self._closed:
                return  # close() deletes everything
            self._workers = [t for t in self._workers if t.is_alive()]
            self._workers.append(thread)
        thread.start()

    def settle(self) -> None:
        """Wait for background seeding and deleting to finish (for tests and shutdown)."""
        self._join_spare()
        with self._lock:
            workers = list(self._workers)
        for t in workers:
            t.join()

    def close(self) -> None:
        """Delete the whole temporary folder (after any background copy or deletion)."""
        with self._lock:
            self._closed = True
            self._current = None
        self.settle()
        shutil.rmtree(self.tmp, ignore_errors=True)
