"""Long jobs for the TUI: a function run in a worker thread, reporting through a :class:`Job`.

A job function receives a :class:`Job` and returns its result. It calls ``job.progress`` (and
``job.check`` at other safe points); both raise :class:`~medsynth.errors.Cancelled` once the
user cancelled, which unwinds the service the job calls exactly like an interrupted command:
every finished task is already written, so running the job again goes on where it stopped.

The job opens its own workspace connection (``job.workspace()``): the UI thread keeps its own,
and SQLite's WAL mode lets both read while the job writes.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.errors import Cancelled
from medsynth.workspace import Workspace

PROGRESS_INTERVAL = 0.1  # seconds between progress messages (the last one always goes)
JOB_NICENESS = 10  # jobs yield the CPU to the interface (see lower_priority)


@dataclass(frozen=True)
class ProgressUpdate:
    """One progress report: ``done`` of ``total`` units (``total`` 0 when unknown)."""

    done: int
    total: int
    label: str
    elapsed: float

    @property
    def rate(self) -> float:
        """Units per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (None until it can be told)."""
        if self.total <= 0 or self.done <= 0 or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def describe(self, unit: str = "") -> str:
        """``12/40 records · 2.1/s · ETA 0:13`` (the parts that are known).

        >>> ProgressUpdate(10, 40, "ground", 5.0).describe("records")
        '10/40 records · 2.0/s · ETA 0:15'
        >>> ProgressUpdate(0, 0, "", 0.0).describe()
        'starting…'
        """
        if self.done == 0 and self.total == 0:
            return "starting…"
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        parts = [f"{count} {unit}".strip()]
        if self.rate:
            parts.append(f"{self.rate:.1f}/s")
        if self.eta is not None:
            parts.append(f"ETA {clock(self.eta)}")
        return " · ".join(parts)


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration.

    >>> clock(75.4), clock(3725)
    ('1:15', '1:02:05')
    """
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def lower_priority(niceness: int = JOB_NICENESS) -> bool:
    """Run the calling thread (and every thread it starts: model pools, llama.cpp's compute
    threads) at a lower CPU priority, so that a job using every core leaves the event loop
    room to draw. Linux only (there, niceness is per thread); False where it cannot be set."""
    if sys.platform != "linux":
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError:
        return False
    return True


def freeze_heap() -> None:
    """Move every object alive now (the app, loaded libraries, models and indexes an earlier job
    left) out of the garbage collector's reach, so the full collections a job's allocations
    trigger scan only the job's own objects. Measured: after grounding in the same process, a
    full collection during synthesis held the GIL, and so the event loop, for 453 ms.

    The cost: cyclic garbage that already exists when a job starts is never freed (most garbage
    is freed by the young generations long before; ``gc.freeze`` is CPython's documented tool
    for a long-lived heap); the young generations are collected first, which is cheap."""
    gc.collect(1)
    gc.freeze()


class Job:
    """What a job function sees: progress reporting, a cancel check, log lines, a workspace.

    ``on_progress`` and ``on_log`` are called on the worker thread; the TUI's
    :class:`~medsynth.tui.widgets.job_panel.JobPanel` turns them into messages.
    """

    def __init__(
        self,
        root: Path,
        *,
        on_progress: Callable[[ProgressUpdate], Any] = lambda _u: None,
        on_log: Callable[[str], Any] = lambda _t: None,
    ) -> None:
        self.root = root
        self._on_progress = on_progress
        self._on_log = on_log
        self._stop = threading.Event()
        self.started = time.perf_counter()
        self._last_sent = 0.0

    @property
    def cancelled(self) -> bool:
        """True once the user asked the job to stop."""
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._stop.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked the job to stop."""
        if self.cancelled:
            raise Cancelled("cancelled: finished work is kept; run the job again to go on")

    def progress(self, done: int, total: int, label: str = "") -> None:
        """Report progress (throttled to one message per ``PROGRESS_INTERVAL``); a cancel point."""
        self.check()
        now = time.perf_counter()
        if done < total and now - self._last_sent < PROGRESS_INTERVAL:
            return
        self._last_sent = now
        self._on_progress(ProgressUpdate(done, total, label, now - self.started))

    def log(self, text: str) -> None:
        """A line for the job's log (echo callbacks of the services)."""
        self._on_log(text)

    @contextmanager
    def workspace(self) -> Iterator[Workspace]:
        """The workspace on a connection of this thread's own, closed when the job ends."""
        ws = Workspace.open(self.root)
        try:
            yield ws
        finally:
            ws.close()
