"""Snapshot tests of the main screens (pytest-textual-snapshot; SVGs in __snapshots__/).

The workspace path differs per test run, so each snapshot shows it as ``<workspace>``; cursor
blinking is off. Update after an intended change with ``pytest tests/tui --snapshot-update``
and review the SVG diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from medsynth.tui.app import MedSynthApp
from medsynth.tui.widgets.job_panel import JobPanel
from tests.tui.conftest import SIZE, wait_for


async def steady(pilot: Pilot[Any]) -> None:
    """Hide the per-run workspace path and job timings, stop blinking cursors, settle."""
    app = pilot.app
    root = str(app.ws.root)  # type: ignore[attr-defined]
    app.sub_title = "<workspace>"
    for widget in app.screen.query("#dash-workspace"):
        assert isinstance(widget, Static)
        widget.update("workspace [b]<workspace>[/b]")
    for field in app.screen.query(Input):
        field.cursor_blink = False
        field.value = field.value.replace(root, "<workspace>")
    for static in app.screen.query(Static):
        content = static.content
        if isinstance(content, str) and root in content:
            static.update(content.replace(root, "<workspace>"))
    for panel in app.screen.query(JobPanel):  # rate, ETA and durations differ run to run
        if panel.state != "idle":
            panel.query_one(".job-title", Label).update(f"{panel.title}: {panel.state}")
            panel.query_one(".job-status", Static).update("")
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


def _at(mode: str, then: Any = None) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await dashboard_ready(pilot)
        await pilot.press(
            {"kg": "f3", "ingest": "f4", "synth": "f5", "train": "f6", "eval": "f7", "chat": "f8"}[
                mode
            ]
        )
        await pilot.pause()
        if then is not None:
            await then(pilot)
        await steady(pilot)

    return run_before


def test_kg_browser(snap_compare: Any, snapshot_ws: Path) -> None:
    async def search(pilot: Pilot[Any]) -> None:
        await pilot.press(*"lung", "enter")
        await pilot.pause(0.3)

    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("kg", search))


def test_ingest_records(snap_compare: Any, snapshot_ws: Path) -> None:
    async def records(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t")
        await pilot.pause(0.3)

    assert snap_compare(
        MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("ingest", records)
    )


def test_synthesize_after_a_hardneg_run(snap_compare: Any, snapshot_ws: Path) -> None:
    async def hardneg(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        for box in screen.query(Checkbox):
            box.value = box.id == "gen-hardneg"
        await pilot.press("ctrl+r")
        panel = screen.query_one(JobPanel)
        await wait_for(pilot, lambda: panel.state == "done", timeout=120)
        await pilot.pause(0.3)

    assert snap_compare(
        MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("synth", hardneg)
    )


def test_train_form(snap_compare: Any, snapshot_ws: Path) -> None:
    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("train"))


def test_evaluate_form(snap_compare: Any, snapshot_ws: Path) -> None:
    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("eval"))


def test_chat_start(snap_compare: Any, snapshot_ws: Path) -> None:
    assert snap_compare(MedSynthApp(snapshot_ws), terminal_size=SIZE, run_before=_at("chat"))
