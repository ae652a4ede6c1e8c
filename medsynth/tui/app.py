"""The MedSynth TUI application: screens as modes, global keys, the workspace connection."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from medsynth.tui.screens.chat import ChatScreen
from medsynth.tui.screens.dashboard import DashboardScreen
from medsynth.tui.screens.evaluate import EvaluateScreen
from medsynth.tui.screens.help import HelpScreen
from medsynth.tui.screens.ingest import IngestScreen
from medsynth.tui.screens.kg import KGScreen
from medsynth.tui.screens.synth import SynthScreen
from medsynth.tui.screens.train import TrainScreen
from medsynth.tui.widgets.image_view import preload
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.nav import SCREENS
from medsynth.workspace import Workspace


def _review_screen() -> Screen[Any]:
    """The Review screen, imported on first use (its data layer loads PIL: start-up stays fast)."""
    from medsynth.tui.screens.review import ReviewScreen

    return ReviewScreen()


class MedSynthApp(App[None]):
    """``medsynth tui``: the whole loop on one workspace."""

    CSS_PATH = "app.tcss"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        "kg": KGScreen,
        "ingest": IngestScreen,
        "synth": SynthScreen,
        "train": TrainScreen,
        "eval": EvaluateScreen,
        "chat": ChatScreen,
        "review": _review_screen,
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
        self.ws = Workspace.open(root)
        super().__init__()
        self.start_mode = start
        self.sub_title = str(self.ws.root)

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode)
        self.set_timer(0.5, self._warm_imports)

    def _warm_imports(self) -> None:
        """After the first frame, import what the screens need on first use (PIL, the image
        reader) on a worker thread, so the first image shown does not pause the interface.
        textual-image too when there is no terminal to ask (a headless app: tests, benchmarks);
        ``medsynth tui`` loads it before the app starts (see :func:`preload`)."""

        def load() -> None:
            import medsynth.files  # noqa: F401

            stdout = sys.__stdout__
            if not (stdout and stdout.isatty()):
                preload()

        self.run_worker(load, thread=True, group="warm", exit_on_error=False)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_cancel_job(self) -> None:
        if not any(panel.cancel() for panel in self.screen.walk_children(JobPanel)):
            self.notify("no job is running on this screen", severity="information", timeout=3)

    def on_unmount(self) -> None:
        self.ws.close()
