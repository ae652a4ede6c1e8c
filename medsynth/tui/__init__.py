"""The Textual TUI (``medsynth tui``): one screen per step of the loop, long jobs in workers.

Core modules never import this package (an import-linter contract in pyproject.toml checks it);
the TUI calls the same services as the CLI.
"""

from __future__ import annotations

from pathlib import Path


def run(root: Path) -> None:
    """Start the TUI on the workspace at ``root`` (opened, and checked, first); the terminal is
    asked what it can draw meanwhile (see :mod:`medsynth.tui.terminal`)."""
    from medsynth.tui.terminal import preload_in_background

    preloaded = preload_in_background()
    try:
        from medsynth.tui.app import MedSynthApp

        app = MedSynthApp(root)
    finally:
        preloaded()
    app.run()
