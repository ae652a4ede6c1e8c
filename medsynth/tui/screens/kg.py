"""KG (placeholder until its screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from medsynth.tui.screens.base import MedScreen


class KGScreen(MedScreen):
    """KG."""

    MODE = "kg"
    TITLE = "KG"

    def compose_body(self) -> ComposeResult:
        yield Static("KG")
