"""Run many model calls with bounded concurrency, keeping order-independent results.

Threads, not processes: model calls wait on a server or on llama.cpp (which releases the GIL),
so a small pool keeps every server busy. A bounded window of queued work keeps memory flat
for millions of items. This is the one runner every model-calling stage uses (through
:class:`medsynth.stage.Stage`): :func:`run_inline` at concurrency 1, :func:`run_bounded` above.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_DROPPED = object()  # a queued item a worker skipped: the run was stopped or closed


def run_inline(
    items: Iterable[T], work: Callable[[T], R], *, stop: threading.Event | None = None
) -> Generator[tuple[T, R | BaseException], None, None]:
    """:func:`run_bounded`'s contract on the calling thread (concurrency 1: no thread hand-offs)."""
    for item in items:
        if stop is not None and stop.is_set():
            return
        try:
            result: R | BaseException = work(item)
        except Exception as exc:
            result = exc
        yield item, result


def run_bounded(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    concurrency: int,
    window: int | None = None,
    stop: threading.Event | None = None,
) -> Generator[tuple[T, R | BaseException], None, None]:
    """Yield ``(item, result)`` as each finishes; an exception is yielded, not raised, so
    one bad item never stops the others. At most ``window`` items are taken ahead.

    Once ``stop`` is set (a fatal error: the consumer will raise), no new item is taken and
    queued work that has not started is dropped, but work already running is still yielded, so
    the consumer can store every answer that was on its way before it raises. Closing the
    generator early waits for running work and drops the rest.

    Every worker is started before the first item is handed out: a thread pool starts one
    worker per submitted item, and workers started while the first calls already run wait for
    the GIL, so at 64 workers the first round of calls trickled out over about 0.3 s. Outcomes
    come back through a queue (no wait on every pending future)."""
    window = window or concurrency * 4
    source = iter(items)
    stopped = stop or threading.Event()
    ending = threading.Event()  # the consumer is done: queued items are dropped
    todo: queue.SimpleQueue[tuple[T] | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[tuple[T, Any]] = queue.SimpleQueue()

    def worker() -> None:
        while (job := todo.get()) is not None:
            if stopped.is_set() or ending.is_set():
                done.put((job[0], _DROPPED))
                continue
            try:
                result: Any = work(job[0])
            except BaseException as exc:  # as a future holds it: yielded, never raised here
                result = exc
            done.put((job[0], result))

    threads = [
        threading.Thread(target=worker, name=f"medsynth-call-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    pending = 0
    try:
        while True:
            while pending < window and not stopped.is_set():
                try:
                    todo.put((next(source),))
                except StopIteration:
                    break
                pending += 1
            if not pending:
                return
            item, result = done.get()
            pending -= 1
            if result is not _DROPPED:
                yield item, result
    finally:  # the consumer stopped early (closed, failed) or is done: running work finishes
        ending.set()
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
