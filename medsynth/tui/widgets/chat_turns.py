"""The chat transcript's pieces: a user turn, a (streaming) model reply, an event line.

A :class:`ReplyTurn` grows as :class:`~medsynth.chat.ChatChunk` batches arrive; its think part
sits in a :class:`~textual.widgets.Collapsible` (collapsed, titled with its word count), its
answer below, and a status line says whether it is streaming, done, cancelled or failed.
Text is shown as plain text (a model's ``[`` is not markup).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static


def words(text: str) -> int:
    """How many words ``text`` has.

    >>> words(" the liver  is large ")
    4
    """
    return len(text.split())


class UserTurn(Static):
    """A question as typed."""

    DEFAULT_CLASSES = "chat-user"

    def __init__(self, text: str) -> None:
        super().__init__(Text.assemble(("you: ", "bold"), text))
        self.text = text


class EventTurn(Static):
    """Something that happened in the session (images, KG facts, a new session, a note)."""

    DEFAULT_CLASSES = "chat-event"

    def __init__(self, text: str) -> None:
        super().__init__(Text(text))
        self.text = text


class ReplyTurn(Vertical):
    """The model's reply: think part (collapsible), answer, status."""

    DEFAULT_CLASSES = "chat-reply"

    def __init__(self) -> None:
        super().__init__()
        self.think = ""
        self.answer = ""
        self.status = "streaming"
        self.batches = 0  # chunk batches applied (one per message from the worker)
        self.note = ""
        self._ready = False

    def compose(self) -> ComposeResult:
        with Collapsible(title="reasoning (0 words)", collapsed=True, classes="reply-think"):
            yield Static("", classes="reply-think-text")
        yield Static(Text("model: …", style="italic"), classes="reply-answer")
        yield Static("streaming…", classes="reply-status")

    def on_mount(self) -> None:
        self._ready = True
        self._render_parts()

    def apply(self, chunks: Iterable[Any]) -> None:
        """Add a batch of chunks (``restart`` replaces the part so far)."""
        for chunk in chunks:
            before = self.think if chunk.kind == "think" else self.answer
            now = chunk.text if chunk.restart else before + chunk.text
            if chunk.kind == "think":
                self.think = now
            else:
                self.answer = now
        self.batches += 1
        self._render_parts()

    def _render_parts(self) -> None:
        if not self._ready:  # chunks that come before the widget is up are shown on mount
            return
        think = self.query_one(Collapsible)
        think.display = bool(self.think)
        if self.think:
            think.title = f"reasoning ({words(self.think)} words)"
            self.query_one(".reply-think-text", Static).update(Text(self.think.strip()))
        self.query_one(".reply-answer", Static).update(
            Text.assemble(("model: ", "bold"), self.answer.strip() or "…")
        )
        if self.status != "streaming":
            label = {
                "done": "done",
                "cancelled": "cancelled: the partial reply above is kept",
                "failed": "failed: no reply",
            }.get(self.status, self.status)
            note = f" · {self.note}" if self.note else ""
            self.query_one(".reply-status", Static).update(label + note)
        self.set_class(self.status == "cancelled", "-cancelled")
        self.set_class(self.status == "failed", "-failed")

    def finish(self, status: str, note: str = "") -> None:
        """End the reply: ``done``, ``cancelled`` (partial kept) or ``failed``."""
        self.status, self.note = status, note
        self._render_parts()
