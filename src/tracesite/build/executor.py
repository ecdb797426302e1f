"""Running render tasks: the cache answers what it can in this process, worker processes the rest.

The garbage-collector settings that make workers faster are set in each worker by its
initializer (:func:`tracesite.build.job.worker_init`), never in the calling process; each worker
also exits when the process that started it is gone (:func:`_worker_start`), so a build killed
with SIGKILL leaves no worker behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from itertools import islice
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from typing import TypeVar

import click

from tracesite.build.cache import RENDER_KEY
from tracesite.build.job import FileResult, Task, process_file, run_task, worker_init
from tracesite.build.memo import BuildMemo
from tracesite.build.statindex import Stat, StatIndex

T = TypeVar("T")
R = TypeVar("R")

FILES_PER_WORKER = 4  # below this many uncached files per worker, a pool costs more than it saves
#: Tasks handed to the pool ahead of the one the build is waiting for, per worker. Results that
#: come back before the build takes them wait in this process: with every task submitted at
#: once (``pool.map``), a main process starved of CPU held ~100 MB more at 100,000 traces.
AHEAD_PER_WORKER = 16


def ordered_window(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``fn(x)`` for each item in the pool, in the items' order, with at most ``window`` items
    submitted and not yet taken by the caller (so results never pile up in this process)."""
    it = iter(items)
    pending: deque[Future[R]] = deque(pool.submit(fn, x) for x in islice(it, window))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, x) for x in islice(it, 1))  # the next item, if any
        yield result


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


def worker_count(jobs: int | None, todo: int) -> int:
    """Workers for ``todo`` uncached tasks: ``jobs`` (default: the cores), fewer for few tasks."""
    wanted = jobs or os.cpu_count() or 1
    return max(1, min(wanted, todo // FILES_PER_WORKER))


def _mp_context() -> BaseContext:
    """fork where it is safe (Linux, one thread): workers start at once and a user's script
    without an ``if __name__ == "__main__"`` guard is not run again in each of them. spawn
    otherwise: the dev server has threads (watcher, HTTP), and forking a threaded process
    can deadlock the child."""
    if sys.platform == "linux" and threading.active_count() == 1:
        return get_context("fork")
    return get_context("spawn")


#: How often a worker looks whether the process that started it is still there.
PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_start(parent: int, parent_is_main_thread: bool) -> None:
    """A pool worker's initializer: die with the build, then :func:`worker_init`.

    A build killed with SIGKILL runs no clean-up, and its workers, blocked on a queue whose
    other end they hold themselves (forked siblings inherit it), would wait for ever. On Linux
    the kernel kills the worker when its parent dies (``PR_SET_PDEATHSIG``; only when the pool
    was started by the main thread: the signal follows the thread that forked, and a dev-server
    build runs in a thread of its own); everywhere, a watchdog thread exits the worker once its
    parent is gone (it is re-parented, so ``getppid()`` changes)."""
    if parent_is_main_thread and sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to ask: the watchdog still holds
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="tracesite-parent-watch", daemon=True
    ).start()
    worker_init()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _run(
    tasks: list[Task], jobs: int, progress: Progress, executor: str = "process"
) -> Iterator[FileResult]:
    if executor != "process" and tasks:
        from tracesite.build.dask_executor import map_ordered

        for r in map_ordered(run_task, tasks, executor, jobs):
            yield r
            progress.step()
        return
    if jobs <= 1:
        for t in tasks:
            yield process_file(t)
            progress.step()
        return
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=_mp_context(),
        initializer=_worker_start,
        initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
    ) as pool:
        for r in ordered_window(pool, run_task, tasks, AHEAD_PER_WORKER * jobs):
            yield r
            progress.step()


def run_tasks(
    tasks: list[Task],
    memo: BuildMemo,
    *,
    jobs: int | None,
    quiet: bool,
    executor: str = "process",
) -> Iterator[tuple[int, FileResult]]:
    """Each task's number and result, as they come: cache hits first, answered here (a stat, or
    a read and a hash, and one line of the entry); only the misses go to worker processes, so
    an unchanged gallery never pays for starting a pool. The caller keeps what it needs of each
    result (a card) and drops the rest, so no build holds every trace's summary.

    ``executor`` is ``process`` (a local pool) or ``dask`` / ``dask://HOST:PORT``
    (:mod:`tracesite.build.dask_executor`); the results come in the same order either way."""
    if not tasks:
        return
    index = StatIndex(tasks[0].cache_dir, RENDER_KEY)
    misses: list[tuple[int, Stat | None]] = []
    for i, task in enumerate(tasks):
        hit, st = memo.lookup(task, index)
        if hit is None:
            misses.append((i, st))
        else:
            yield i, hit
    memo.rotate()
    progress = Progress(len(misses), quiet)
    todo = [tasks[i] for i, _ in misses]
    n = worker_count(jobs, len(misses)) if executor == "process" else jobs or 0
    rendered = _run(todo, n, progress, executor)
    for (i, st), res in zip(misses, rendered, strict=True):
        task = tasks[i]
        if st is not None and res.error is None:
            index.record(task.path, st, res.key, task.options, name=task.index_name)
        yield i, res
    index.save()


def map_in_pool(
    fn: Callable[[T], R], items: Sequence[T], jobs: int | None, executor: str = "process"
) -> list[R]:
    """``[fn(x) for x in items]``, in worker processes when there are enough items (the same
    pool set-up as the trace tasks: it dies with the build); ``fn`` must pickle by name.
    With a Dask ``executor`` the items run on its workers, the results in the items' order."""
    if executor != "process" and items:
        from tracesite.build.dask_executor import map_ordered

        return list(map_ordered(fn, items, executor, jobs))
    n = worker_count(jobs, len(items))
    if n <= 1:
        return [fn(x) for x in items]
    with ProcessPoolExecutor(
        max_workers=n,
        mp_context=_mp_context(),
        initializer=_worker_start,
        initargs=(os.getpid(), threading.current_thread() is threading.main_thread()),
    ) as pool:
        return list(pool.map(fn, items, chunksize=1))
