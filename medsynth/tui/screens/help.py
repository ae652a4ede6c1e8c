"""Help: the keys of every screen and what the current one does (F1 or ?; Esc closes)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown

from medsynth.tui.widgets.nav import SCREENS

GLOBAL_KEYS = [
    ("F1 or ?", "this help"),
    *[(key.upper(), f"go to {label}") for _mode, label, key in SCREENS],
    ("ctrl+x", "cancel the running job (finished work is kept)"),
    ("tab / shift+tab", "move between fields"),
    ("ctrl+q", "quit"),
]


def _keys(bindings: list[BindingType]) -> list[tuple[str, str]]:
    rows = []
    for item in bindings:
        if isinstance(item, Binding):
            rows.append((item.key_display or item.key, item.description))
        elif isinstance(item, tuple) and len(item) >= 3:
            rows.append((str(item[0]), str(item[2])))
    return rows


def help_text(screen: Screen[object] | None) -> str:
    """Markdown: the global keys, then the screen's keys and help."""
    lines = ["# MedSynth keys", "", "| key | does |", "|---|---|"]
    lines += [f"| {key} | {what} |" for key, what in GLOBAL_KEYS]
    if screen is not None:
        title = getattr(screen, "TITLE", None) or type(screen).__name__
        own = _keys(list(getattr(screen, "BINDINGS", [])))
        lines += ["", f"# {title}", ""]
        if own:
            lines += ["| key | does |", "|---|---|"] + [f"| {k} | {w} |" for k, w in own]
        about = getattr(screen, "HELP", "")
        if about:
            lines += ["", about.strip()]
    lines += [
        "",
        "Long jobs run in the background with progress, rate and ETA; errors appear as "
        "notifications that say what to fix. A cancelled or failed job keeps everything it "
        "finished: start it again to go on.",
    ]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """The key list, over the current screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "close"),
        Binding("f1", "dismiss", "close", show=False),
        Binding("q", "dismiss", "close", show=False),
    ]

    def __init__(self, about: Screen[object] | None) -> None:
        super().__init__()
        self.about = about

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(help_text(self.about))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
