"""One runner for the stages that ask models about many items: ground, synth, eval and judge.

A :class:`Stage` owns what those stages used to write each for itself: the lock that guards the
workspace connection (shared by its call logs, built with it), the runner choice (the calling
thread at concurrency 1, above it :func:`~medsynth.backends.engine.run_bounded`'s workers, all
started before the first item), the error policy and the call counts.

The error policy: an item's outcome is stored (``store``); an error the stage can recover from
(``recoverable``: bad input, an answer that fails its schema, a refused request) is stored as a
failure (``fail``) and the run goes on; any other error (the server is down, a bug, a cancel)
stops the run: nothing new is asked, the answers already on their way are still stored, then the
first such error is raised. Callers turn that exception into a run status with
:func:`medsynth.store.runs.run_status`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import closing
from typing import Any, TypeVar

import sqlite_utils

from medsynth.backends.base import BackendError, ChatModel, TransientBackendError
from medsynth.backends.calllog import CallLog
from medsynth.backends.engine import run_bounded, run_inline
from medsynth.errors import InputError

T = TypeVar("T")
R = TypeVar("R")


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
    ) -> None:
        self.db = db
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
        outcomes = (
            run_inline(items, work, stop=stop)
            if self.concurrency == 1
            else run_bounded(
                items, work, concurrency=self.concurrency, window=self.window, stop=stop
            )
        )
        fatal: BaseException | None = None
        with closing(outcomes):
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
