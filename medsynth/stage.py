"""One runner for the stages that ask models about many items: ground, synth, eval and judge.

A :class:`Stage` owns what those stages used to write each for itself: the lock that guards the
workspace connection (shared by its call logs, built with it), the runner choice (the calling
thread at concurrency 1, a bounded pool above it), the error policy and the call counts.

The error policy: an item's outcome is stored (``store``); an error the stage can recover from
(``recoverable``: bad input, an answer that fails its schema, a refused request) is stored as a
failure (``fail``) and the run goes on; any other error (the server is down, a bug, a cancel)
stops the run: nothing new is asked, the answers already on their way are still stored, then the
first such error is raised. Callers turn that exception into a run status with
:func:`medsynth.store.runs.run_status`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from typing import Any, TypeVar, cast

import sqlite_utils

from medsynth.backends.base import BackendError, ChatModel, TransientBackendError
from medsynth.backends.calllog import CallLog
from medsynth.backends.engine import run_bounded, run_inline
from medsynth.errors import InputError

T = TypeVar("T")
R = TypeVar("R")
_DROPPED = object()  # a queued item a worker skipped: the run was stopped or closed


def run_prestarted(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    concurrency: int,
    window: int | None = None,
    stop: threading.Event | None = None,
) -> Generator[tuple[T, R | BaseException], None, None]:
    """:func:`~medsynth.backends.engine.run_bounded`'s contract (outcomes as they finish, at
    most ``window`` items taken ahead, ``stop`` drops queued work but yields running work),
    with every worker started before the first item is handed out.

    A thread pool starts a worker per submitted item; a worker started while the first ones
    already run waits for the GIL, so at 64 workers the first round of calls trickled out over
    about 0.3 s. Outcomes come back through a queue (no wait on every pending future)."""
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


def recoverable(error: BaseException) -> bool:
    """Errors that fail one item, not the run: bad input, an answer that fails its schema, a
    request the server refused. A server that cannot be reached (transient) stops the run.

    >>> recoverable(InputError("unreadable image")), recoverable(TransientBackendError("down"))
    (True, False)
    >>> recoverable(BackendError("HTTP 400")), recoverable(ValueError("a bug"))
    (True, False)
    """
    if isinstance(error, TransientBackendError):
        return False
    return isinstance(error, BackendError | InputError)


class Stage:
    """The shared scaffolding of one model-calling stage of one run."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        run_id: int | None,
        *,
        concurrency: int = 1,
        window: int | None = None,
        lock: threading.Lock | None = None,
        prestart: bool = False,
    ) -> None:
        self.db = db
        self.prestart = prestart  # workers started before the first item (run_prestarted)
        self.run_id = run_id
        self.concurrency = concurrency
        self.window = window
        self.lock = lock or threading.Lock()  # every use of the connection, from any thread
        self.logs: dict[str, CallLog] = {}

    def log(self, role: str, model: ChatModel, *, retries: int) -> CallLog:
        """The call log of ``role``'s model, sharing the stage's lock."""
        self.logs[role] = CallLog(
            self.db, model, role=role, run_id=self.run_id, retries=retries, lock=self.lock
        )
        return self.logs[role]

    def model_calls(self) -> dict[str, int]:
        """Calls made to each role's model in this run (cache hits not included)."""
        return {role: log.model_calls for role, log in self.logs.items()}

    def cache_hits(self) -> dict[str, int]:
        """Calls each role answered from the call log in this run."""
        return {role: log.cache_hits for role, log in self.logs.items()}

    def run(
        self,
        items: Iterable[T],
        work: Callable[[T], R],
        *,
        store: Callable[[T, R], Any],
        fail: Callable[[T, BaseException], Any] | None = None,
        is_recoverable: Callable[[BaseException], bool] = recoverable,
        after: Callable[[T], Any] | None = None,
    ) -> None:
        """Run ``work`` over ``items`` and store each outcome as it comes (see the module doc).

        ``after(item)`` runs once an outcome is stored (progress, a cancel point); it may raise
        to stop the run. ``items`` may grow while the run goes on: an iterator that has nothing
        ready now may raise StopIteration and have items again after the next ``store``."""
        stop = threading.Event()
        runner = run_prestarted if self.prestart else run_bounded
        outcomes = (
            run_inline(items, work, stop=stop)
            if self.concurrency == 1
            else runner(items, work, concurrency=self.concurrency, window=self.window, stop=stop)
        )
        fatal: BaseException | None = None
        with closing(cast(Any, outcomes)):
            for item, result in outcomes:
                if not isinstance(result, BaseException):
                    store(item, result)
                elif fail is not None and is_recoverable(result):
                    fail(item, result)
                else:
                    fatal = fatal or result
                    stop.set()
                    continue
                if fatal is None and after is not None:
                    after(item)
        if fatal is not None:
            raise fatal
