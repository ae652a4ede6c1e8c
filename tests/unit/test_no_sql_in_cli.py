"""The CLI holds no SQL either: its commands read the workspace through the same core query
modules as the TUI (``medsynth/*/queries.py``, ``medsynth/store/overview.py``, ...), so a
command and a screen never disagree about what a workspace holds."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_no_sql_in_tui import sql_calls

CLI = Path(__file__).resolve().parents[2] / "medsynth" / "cli"


def test_the_cli_calls_no_sql() -> None:
    assert sql_calls(CLI) == []
