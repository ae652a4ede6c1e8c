"""A job's face: title, progress bar with rate and ETA, a log, a cancel key; runs the worker.

The worker thread only posts messages (``JobPanel.Progress``, ``Log``, ``Finished``, ``Failed``,
``Stopped``); the panel updates itself from them and lets them bubble to its screen, which
reacts (refresh a preview, show a result). Errors become notifications naming the cause and the
fix; unexpected ones leave their traceback in the workspace's ``logs/tui.log``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Label, Log, ProgressBar, Static

from medsynth.errors import Cancelled, MedsynthError
from medsynth.files import open_private
from medsynth.tui.jobs import Job, ProgressUpdate, clock, freeze_heap, lower_priority

JobFunction = Callable[[Job], Any]


class JobPanel(Vertical):
    """Runs one job at a time in a thread worker and shows how it goes."""

    DEFAULT_CLASSES = "job-panel"

    state: reactive[str] = reactive("idle")  # idle | running | done | failed | cancelled

    class Progress(Message):
        """The job reported progress."""

        def __init__(self, panel: JobPanel, update: ProgressUpdate) -> None:
            super().__init__()
            self.panel = panel
            self.update = update

    class Logged(Message):
        """The job wrote a log line."""

        def __init__(self, panel: JobPanel, text: str) -> None:
            super().__init__()
            self.panel = panel
            self.text = text

    class Finished(Message):
        """The job returned ``result``."""

        def __init__(self, panel: JobPanel, title: str, result: Any) -> None:
            super().__init__()
            self.panel = panel
            self.title = title
            self.result = result

    class Failed(Message):
        """The job raised; ``error`` says what and how to fix it."""

        def __init__(self, panel: JobPanel, title: str, error: str) -> None:
            super().__init__()
            self.panel = panel
            self.title = title
            self.error = error

    class Stopped(Message):
        """The user cancelled the job; what it finished is kept."""

        def __init__(self, panel: JobPanel, title: str) -> None:
            super().__init__()
            self.panel = panel
            self.title = title

    def __init__(self, root: Path, unit: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root = root
        self.unit = unit
        self.title = ""
        self.job: Job | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="job-head"):
            yield Label("no job yet", classes="job-title")
            yield Button("Cancel (ctrl+x)", id="job-cancel", variant="error", disabled=True)
        yield ProgressBar(total=1, show_eta=False, classes="job-bar")  # idle: 0%, no pulse
        yield Static("", classes="job-status")
        yield Log(max_lines=500, classes="job-log")

    @property
    def running(self) -> bool:
        """True while a job is running."""
        return self.state == "running"

    def start(self, title: str, fn: JobFunction, unit: str | None = None) -> bool:
        """Run ``fn(job)`` in a worker; False (and a warning) if a job is already running."""
        if self.running:
            self.app.notify(
                f"{self.title} is still running: wait for it or cancel it (ctrl+x)",
                severity="warning",
            )
            return False
        self.title = title
        self.unit = unit if unit is not None else self.unit
        self.state = "running"
        self.query_one(".job-title", Label).update(f"{title}: running")
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(".job-status", Static).update("starting…")
        self.query_one("#job-cancel", Button).disabled = False
        self.query_one(Log).clear()
        self.job = Job(
            self.root,
            on_progress=lambda u: self.post_message(self.Progress(self, u)),
            on_log=lambda t: self.post_message(self.Logged(self, t)),
        )
        self._run(self.job, fn, title)
        return True

    @work(thread=True, exclusive=True, group="job")
    def _run(self, job: Job, fn: JobFunction, title: str) -> None:
        lower_priority()
        freeze_heap()
        try:
            result = fn(job)
        except Cancelled:
            self.post_message(self.Stopped(self, title))
        except MedsynthError as exc:
            self.post_message(self.Failed(self, title, str(exc)))
        except Exception as exc:
            where = self._log_traceback()
            self.post_message(
                self.Failed(
                    self,
                    title,
                    f"{type(exc).__name__}: {exc}\n  fix: the traceback is in {where}; "
                    "finished work is kept, run the job again once the cause is fixed",
                )
            )
        else:
            self.post_message(self.Finished(self, title, result))

    def _log_traceback(self) -> Path:
        logs = self.root / "logs"
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = logs / "tui.log"
        with os.fdopen(open_private(path, append=True), "a", encoding="utf-8") as handle:
            handle.write(traceback.format_exc() + "\n")
        return path

    def cancel(self) -> bool:
        """Ask the running job to stop at its next check; False when nothing runs."""
        if not self.running or self.job is None:
            return False
        self.job.cancel()
        self.query_one(".job-title", Label).update(f"{self.title}: stopping…")
        self.query_one("#job-cancel", Button).disabled = True
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "job-cancel":
            event.stop()
            self.cancel()

    def on_job_panel_progress(self, message: Progress) -> None:
        update = message.update
        bar = self.query_one(ProgressBar)
        if update.total:
            bar.update(total=update.total, progress=update.done)
        label = f"{update.label}: " if update.label else ""
        status = self.query_one(".job-status", Static)
        status.update(label + update.describe(self.unit), layout=False)  # one fixed line

    def on_job_panel_logged(self, message: Logged) -> None:
        self.query_one(Log).write_line(message.text)

    def on_job_panel_finished(self, message: Finished) -> None:
        self._end("done", f"{message.title}: done in {self._elapsed()}")
        bar = self.query_one(ProgressBar)
        bar.update(total=bar.total or 1, progress=bar.total or 1)

    def on_job_panel_failed(self, message: Failed) -> None:
        self._end("failed", f"{message.title}: failed")
        self.query_one(Log).write_line(message.error)
        self.app.notify(
            message.error, title=f"{message.title} failed", severity="error", timeout=20
        )

    def on_job_panel_stopped(self, message: Stopped) -> None:
        self._end("cancelled", f"{message.title}: cancelled after {self._elapsed()}")
        self.app.notify(
            "finished work is kept; start the job again to go on where it stopped",
            title=f"{message.title} cancelled",
            severity="warning",
        )

    def _elapsed(self) -> str:
        return clock(time.perf_counter() - self.job.started) if self.job else "0:00"

    def _end(self, state: str, text: str) -> None:
        status = self.query_one(".job-status", Static)
        if str(status.content) == "starting…":  # a job that reported no progress
            status.update(state, layout=False)
        self.state = state
        self.query_one(".job-title", Label).update(text)
        self.query_one("#job-cancel", Button).disabled = True
