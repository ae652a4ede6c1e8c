"""What ``medsynth tui`` imports before its first frame (in a fresh interpreter: this test
process has imported every screen already)."""

from __future__ import annotations

import subprocess
import sys

LATER = (  # imported when first shown, or by the warm-up after the first frame
    "medsynth.tui.screens.chat",
    "medsynth.tui.screens.evaluate",
    "medsynth.tui.screens.help",
    "medsynth.tui.screens.ingest",
    "medsynth.tui.screens.kg",
    "medsynth.tui.screens.review",
    "medsynth.tui.screens.synth",
    "medsynth.tui.screens.train",
    "medsynth.backends.calllog",  # the chat screen's
    "markdown_it",  # the help screen's
    "textual_plotext",  # the train screen's curves
    "PIL",  # images (and see test_the_terminal_query_imports_no_textual)
    "textual_image",
    "torch",
    "transformers",
)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_the_app_imports_only_the_dashboard_screen() -> None:
    loaded = loaded_after("import medsynth.tui.app")
    assert "medsynth.tui.screens.dashboard" in loaded
    assert sorted(loaded.intersection(LATER)) == []


def test_the_terminal_query_imports_no_textual() -> None:
    """``medsynth tui`` asks the terminal what it can draw on a thread while it imports Textual
    and builds the app: the thread's imports (Pillow, textual-image) and the app's must be
    apart, so neither waits on a module the other is importing."""
    loaded = loaded_after("import medsynth.tui, medsynth.tui.terminal")
    assert sorted(m for m in loaded if m.split(".")[0] in ("textual", "PIL")) == []
