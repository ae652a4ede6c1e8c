"""Ingest & Ground (placeholder until its screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from medsynth.tui.screens.base import MedScreen


class IngestScreen(MedScreen):
    """Ingest & Ground."""

    MODE = "ingest"
    TITLE = "Ingest & Ground"

    def compose_body(self) -> ComposeResult:
        yield Static("Ingest & Ground")
