"""Chat (placeholder until its screen lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from medsynth.tui.screens.base import MedScreen


class ChatScreen(MedScreen):
    """Chat."""

    MODE = "chat"
    TITLE = "Chat"

    def compose_body(self) -> ComposeResult:
        yield Static("Chat")
