"""The MedSynth TUI application: screens as modes, global keys, the workspace connection."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from medsynth.tui.screens.dashboard import DashboardScreen
from medsynth.tui.widgets.image_view import preload
from medsynth.tui.widgets.nav import SCREENS
from medsynth.workspace import Workspace

# mode: (module under medsynth.tui.screens, screen class); the dashboard is imported up front
LAZY_SCREENS: dict[str, tuple[str, str]] = {
    "kg": ("kg", "KGScreen"),
    "ingest": ("ingest", "IngestScreen"),
    "synth": ("synth", "SynthScreen"),
    "train": ("train", "TrainScreen"),
    "eval": ("evaluate", "EvaluateScreen"),
    "chat": ("chat", "ChatScreen"),
    "review": ("review", "ReviewScreen"),
}


def _screen(module: str, name: str) -> Callable[[], Screen[Any]]:
    """A mode's screen, its module imported when the mode is first shown (or by the warm-up
    after the first frame): the first frame waits for the dashboard's imports only (the chat
    screen alone pulls in the backends' call log, the help screen the Markdown parser)."""

    def make() -> Screen[Any]:
        screen: Callable[[], Screen[Any]]
        screen = getattr(importlib.import_module(f"medsynth.tui.screens.{module}"), name)
        return screen()

    return make


class MedSynthApp(App[None]):
    """``medsynth tui``: the whole loop on one workspace."""

    CSS_PATH = "app.tcss"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        **{mode: _screen(module, name) for mode, (module, name) in LAZY_SCREENS.items()},
    }
    TITLE = "MedSynth"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "help"),
        Binding("question_mark", "help", "help", show=False),
        *[
            Binding(key, f"switch_mode('{mode}')", label, show=False)
            for mode, label, key in SCREENS
        ],
        Binding("ctrl+x", "cancel_job", "cancel job", priority=True),  # Input binds ctrl+x (cut)
    ]

    def __init__(self, root: Path, *, start: str = "dashboard") -> None:
        if start not in self.MODES:
            raise ValueError(f"no screen {start!r}; one of {', '.join(self.MODES)}")
        self.ws = Workspace.open(root)
        # the start mode is the app's first screen: no blank default screen drawn first, then
        # switched away from (each switch re-parses every stylesheet)
        self.DEFAULT_MODE = start  # type: ignore[misc]
        super().__init__()
        self.start_mode = start
        self.sub_title = str(self.ws.root)

    def on_mount(self) -> None:
        self.call_after_refresh(self.set_timer, 0.5, self._warm_imports)  # after the first frame

    def _warm_imports(self) -> None:
        """After the first frame, import what the screens need on first use (the screens'
        modules, PIL, the image reader) on a worker thread, so that opening a screen or showing
        the first image does not pause the interface. textual-image too when there is no
        terminal to ask (a headless app: tests, benchmarks); ``medsynth tui`` loads it before
        the app starts (see :func:`preload`)."""

        def load() -> None:
            for module, _name in LAZY_SCREENS.values():
                importlib.import_module(f"medsynth.tui.screens.{module}")
            importlib.import_module("medsynth.tui.screens.help")
            import medsynth.files  # noqa: F401

            stdout = sys.__stdout__
            if not (stdout and stdout.isatty()):
                preload()
            # what was imported is as long-lived as the app: out of the collector's reach, as
            # a job's start does (a job already running would scan it in each full collection)
            from medsynth.tui.jobs import freeze_heap

            freeze_heap()

        self.run_worker(load, thread=True, group="warm", exit_on_error=False)

    def action_help(self) -> None:
        from medsynth.tui.screens.help import HelpScreen  # markdown-it: only when asked

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_cancel_job(self) -> None:
        from medsynth.tui.widgets.job_panel import JobPanel

        if not any(panel.cancel() for panel in self.screen.walk_children(JobPanel)):
            self.notify("no job is running on this screen", severity="information", timeout=3)

    def on_unmount(self) -> None:
        self.ws.close()
