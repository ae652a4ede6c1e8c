"""What every screen shares: header, the screen tabs, footer, the workspace, help text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from medsynth.tui.widgets.nav import NavBar
from medsynth.workspace import Workspace

if TYPE_CHECKING:
    from medsynth.tui.app import MedSynthApp


class MedScreen(Screen[None]):
    """A top-level screen (one app mode); subclasses fill :meth:`compose_body`."""

    MODE: ClassVar[str] = ""
    HELP: ClassVar[str] = ""

    @property
    def medsynth(self) -> MedSynthApp:
        """The app, typed."""
        from medsynth.tui.app import MedSynthApp

        assert isinstance(self.app, MedSynthApp)
        return self.app

    @property
    def ws(self) -> Workspace:
        """The UI thread's workspace connection (read here; jobs open their own)."""
        return self.medsynth.ws

    @property
    def root(self) -> Path:
        """The workspace folder."""
        return self.medsynth.ws.root

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()
