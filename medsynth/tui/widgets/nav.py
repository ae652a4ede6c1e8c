"""The row of screen tabs under the header (mouse: click; keyboard: the function keys)."""

from __future__ import annotations

from textual.widgets import Tab, Tabs

# mode name, tab label, key
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "Dashboard", "f2"),
    ("kg", "KG", "f3"),
    ("ingest", "Ingest & Ground", "f4"),
    ("synth", "Synthesize", "f5"),
    ("train", "Train", "f6"),
    ("eval", "Evaluate", "f7"),
    ("chat", "Chat", "f8"),
    ("review", "Review", "f9"),
)


class NavBar(Tabs):
    """Tabs naming every screen; the active one is the screen shown."""

    DEFAULT_CLASSES = "nav"

    def __init__(self, active: str) -> None:
        tabs = [Tab(f"{label} {key.upper()}", id=f"nav-{mode}") for mode, label, key in SCREENS]
        super().__init__(*tabs, active=f"nav-{active}")
        self.can_focus = False

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        mode = (event.tab.id or "").removeprefix("nav-")
        if mode and mode != self.app.current_mode:
            self.app.switch_mode(mode)
