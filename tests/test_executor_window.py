"""The process pool is fed a bounded window of tasks (build/executor.ordered_window): results keep
the tasks' order, and no more than ``window`` tasks are ever handed out ahead of the caller, so a
slow main process does not pile up results in memory."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracesite.build.executor import ordered_window


class Counting:
    def __init__(self) -> None:
        self.started = 0
        self.lock = threading.Lock()

    def __call__(self, x: int) -> int:
        with self.lock:
            self.started += 1
        time.sleep(0.001 * (x % 3))  # finish out of order
        return x * x


@pytest.mark.parametrize("window", [1, 3, 8])
def test_results_in_order_and_never_more_than_the_window_ahead(window: int) -> None:
    fn = Counting()
    got = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for taken, r in enumerate(ordered_window(pool, fn, range(40), window)):
            time.sleep(0.003)  # a slow caller: the workers would run far ahead of it
            with fn.lock:  # results taken so far (this one included), plus the window
                assert fn.started <= taken + 1 + window, (fn.started, taken)
            got.append(r)
    assert got == [x * x for x in range(40)]
    assert fn.started == 40


def test_a_task_error_reaches_the_caller_at_its_place() -> None:
    def fn(x: int) -> int:
        if x == 5:
            raise ValueError("task 5")
        return x

    got = []
    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(ValueError, match="task 5"):
        for r in ordered_window(pool, fn, range(10), 4):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]


def test_no_items() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(ordered_window(pool, lambda x: x, [], 4)) == []
