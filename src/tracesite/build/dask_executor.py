"""Render tasks on Dask distributed: ``--executor dask`` (a LocalCluster for the build) or
``--executor dask://HOST:PORT`` (an existing scheduler).

Workers read inputs by path, so every worker must see the content folder and the cache folder
at the same paths as the machine that runs ``tracesite build`` (a shared file system). Results
come back as they complete; :func:`map_unordered` hands each one with the number of its item,
and the caller puts them in order, so the site does not depend on the executor.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from tracesite.core.errors import BuildError

T = TypeVar("T")
R = TypeVar("R")

#: How long to wait for an existing scheduler before saying it cannot be reached.
CONNECT_TIMEOUT_SECONDS = 10
INSTALL_HINT = "pip install 'tracesite[dask]'"


def check_executor(executor: str) -> str:
    """``executor`` if it names one tracesite knows, else a :class:`BuildError`."""
    if executor in ("process", "dask") or executor.startswith("dask://"):
        return executor
    raise BuildError(f"unknown executor {executor!r}: use process, dask or dask://HOST:PORT")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as e:
        raise BuildError(f"--executor dask needs Dask distributed: {INSTALL_HINT}") from e
    return distributed


@contextmanager
def dask_client(executor: str, jobs: int | None) -> Iterator[Any]:
    """A connected ``distributed.Client``: to ``tcp://HOST:PORT`` for ``dask://HOST:PORT``, or
    to a LocalCluster of ``jobs`` (default: cores) one-thread worker processes, closed after."""
    distributed = _distributed()
    if executor.startswith("dask://"):
        address = "tcp://" + executor[len("dask://") :]
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError) as e:
            raise BuildError(f"cannot reach the Dask scheduler at {address}: {e}") from e
        try:
            yield client
        finally:
            client.close()
        return
    with (
        distributed.LocalCluster(
            n_workers=jobs or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def map_unordered(
    fn: Callable[[T], R], items: Sequence[T], executor: str, jobs: int | None
) -> Iterator[tuple[int, R]]:
    """``(i, fn(items[i]))`` for every item, in the order the workers finish them."""
    if not items:
        return
    distributed = _distributed()
    with dask_client(executor, jobs) as client:
        futures = client.map(fn, list(items), pure=False)
        number = {f.key: i for i, f in enumerate(futures)}
        for future in distributed.as_completed(futures):
            yield number[future.key], future.result()
            future.release()


def map_ordered(
    fn: Callable[[T], R], items: Sequence[T], executor: str, jobs: int | None
) -> Iterator[R]:
    """``fn(x)`` for each item, in the items' order: results that finish early wait in a
    buffer until those before them are in (the same order as the process pool's map)."""
    waiting: dict[int, R] = {}
    nxt = 0
    for i, res in map_unordered(fn, items, executor, jobs):
        waiting[i] = res
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1
