"""Snapshot tests of the main screens (pytest-textual-snapshot; SVGs in __snapshots__/).

The workspace path differs per test run, so each snapshot shows it as ``<workspace>``; cursor
blinking is off. Update after an intended change with ``pytest tests/tui --snapshot-update``
and review the SVG diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from medsynth.tui.app import MedSynthApp
from tests.tui.conftest import SIZE, wait_for


async def steady(pilot: Pilot[Any]) -> None:
    """Hide the per-run workspace path, stop blinking cursors, let the screen settle."""
    app = pilot.app
    app.sub_title = "<workspace>"
    for widget in app.screen.query("#dash-workspace"):
        assert isinstance(widget, Static)
        widget.update("workspace [b]<workspace>[/b]")
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def dashboard_ready(pilot: Pilot[Any]) -> None:
    models = pilot.app.screen.query_one("#dash-models", DataTable)
    await wait_for(pilot, lambda: models.row_count == 6, timeout=60)
    await steady(pilot)


def test_dashboard(snap_compare: Any, snapshot_ws: Path) -> None:
    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=dashboard_ready)


def test_help(snap_compare: Any, snapshot_ws: Path) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await dashboard_ready(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=open_help)
