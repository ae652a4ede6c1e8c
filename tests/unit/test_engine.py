"""Bounded-concurrency runner: every item comes back once, failures do not stop the rest."""

from __future__ import annotations

import threading
import time

from medsynth.backends.engine import run_bounded


def test_all_items_once_and_errors_yielded() -> None:
    def work(n: int) -> int:
        if n % 7 == 3:
            raise ValueError(f"bad {n}")
        return n * n

    results = dict(run_bounded(range(50), work, concurrency=4))
    assert sorted(results) == list(range(50))
    assert isinstance(results[3], ValueError)
    assert results[4] == 16


def test_concurrency_is_bounded_and_used() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def work(_: int) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)
        with lock:
            active -= 1

    started = time.perf_counter()
    list(run_bounded(range(40), work, concurrency=8))
    elapsed = time.perf_counter() - started
    assert peak == 8
    assert elapsed < 40 * 0.01  # parallel, not serial


def test_lazy_window_does_not_drain_the_source_at_once() -> None:
    pulled = 0

    def source() -> object:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield i

    runner = run_bounded(source(), lambda n: n, concurrency=2, window=4)
    next(runner)
    assert pulled <= 6


def test_stop_drops_queued_work_but_yields_work_already_running() -> None:
    """After a fatal error the consumer sets ``stop``: nothing new is taken from the source,
    queued work never starts, and every item that did start still comes back."""
    started: list[int] = []
    pulled = 0
    lock = threading.Lock()
    release = threading.Event()

    def source() -> object:
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield i

    def work(n: int) -> int:
        with lock:
            started.append(n)
        if n == 0:
            raise RuntimeError("fatal")
        release.wait(5)
        return n

    stop = threading.Event()
    seen: dict[int, object] = {}
    for item, result in run_bounded(source(), work, concurrency=3, window=12, stop=stop):
        if isinstance(result, RuntimeError):
            stop.set()
            release.set()
        seen[item] = result
    assert sorted(seen) == sorted(started)  # nothing that started is lost
    assert {1, 2} <= set(seen)
    assert len(started) <= 4 < 12  # the queued rest of the window never ran
    assert pulled <= 13  # no item taken after the stop beyond the first window
