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

    three_running = threading.Barrier(3, timeout=5)

    def work(n: int) -> int:
        with lock:
            started.append(n)
        if n < 3:
            three_running.wait()  # the fatal error comes while two other calls are running
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


def test_a_source_that_grows_after_an_outcome_is_drained() -> None:
    """An iterator with nothing ready now raises StopIteration and has items again once an
    outcome is handled (how TaskFlow plans a record's next stage)."""
    ready = [1]
    handled: list[int] = []

    class Growing:
        def __iter__(self) -> Growing:
            return self

        def __next__(self) -> int:
            if not ready:
                raise StopIteration
            return ready.pop()

    for item, result in run_bounded(Growing(), lambda n: n, concurrency=2):
        handled.append(result)
        if item < 5:
            ready.append(item + 1)
    assert handled == [1, 2, 3, 4, 5]


def test_closing_early_waits_for_running_work_and_drops_the_rest() -> None:
    ran: list[int] = []

    def work(n: int) -> int:
        time.sleep(0.01)
        ran.append(n)
        return n

    outcomes = run_bounded(range(100), work, concurrency=2, window=10)
    next(outcomes)
    outcomes.close()
    assert len(ran) < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("medsynth-call-")]
