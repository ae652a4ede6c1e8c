"""Run many model calls with bounded concurrency, keeping order-independent results.

Threads, not processes: model calls wait on a server or on llama.cpp (which releases the GIL),
so a small pool keeps every server busy. A bounded window of submitted work keeps memory flat
for millions of items.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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
) -> Iterator[tuple[T, R | BaseException]]:
    """Yield ``(item, result)`` as each finishes; an exception is yielded, not raised, so
    one bad item never stops the others.

    Once ``stop`` is set (a fatal error: the consumer will raise), no new item is taken and
    queued work that has not started is dropped, but work already running is still yielded, so
    the consumer can store every answer that was on its way before it raises."""
    window = window or concurrency * 4
    source = iter(items)
    stopped = stop or threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="medsynth-call") as pool:
        pending: dict[Future[R], T] = {}

        def submit_more() -> None:
            if stopped.is_set():
                for future in [f for f in pending if f.cancel()]:
                    del pending[future]
                return
            while len(pending) < window:
                try:
                    item = next(source)
                except StopIteration:
                    return
                pending[pool.submit(work, item)] = item

        try:
            submit_more()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    error = future.exception()
                    yield item, (error if error is not None else future.result())
                submit_more()
        finally:  # the consumer stopped early (closed, cancelled, failed): drop queued work
            for future in pending:
                future.cancel()
