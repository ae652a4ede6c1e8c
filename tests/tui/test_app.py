"""The app shell: screens, keys, help, dashboard counts, the job panel's cancel and errors."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import DataTable

from medsynth.errors import InputError
from medsynth.tui.app import MedSynthApp
from medsynth.tui.jobs import Job
from medsynth.tui.screens.dashboard import DashboardScreen
from medsynth.tui.screens.help import HelpScreen
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.nav import SCREENS
from tests.tui.conftest import SIZE, wait_for


def cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_every_screen_opens_by_key_and_by_click(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, DashboardScreen)
        for mode, _label, key in SCREENS:
            await pilot.press(key)
            await pilot.pause()
            assert app.current_mode == mode
            assert mode == app.screen.MODE  # type: ignore[attr-defined]
        await pilot.click("#nav-dashboard")
        await pilot.pause()
        assert app.current_mode == "dashboard"


async def test_help_lists_global_and_screen_keys(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("Markdown").source  # type: ignore[attr-defined]
        assert "ctrl+x" in text and "F5" in text
        assert "check models" in text  # the dashboard's own binding
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_dashboard_counts_match_the_database(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#dash-counts", DataTable)
        rows = dict((r[0], r[1]) for r in cells(table))
        db = app.ws.db
        assert rows["entities"] == str(db.table("entities").count)
        assert rows["triples"] == str(db.table("triples").count)
        assert rows["records: demo"] == "4 kept of 4"
        assert rows["records grounded"] == "4"
        runs = cells(app.screen.query_one("#dash-runs", DataTable))
        assert [r[1] for r in runs][:2] == ["ground", "ingest"]
        models = app.screen.query_one("#dash-models", DataTable)
        await wait_for(pilot, lambda: models.row_count == 6, timeout=60)
        roles = {r[0]: r[3] for r in cells(models)}
        assert "weak" in roles["generator"]  # the embedded SmolLM2
        assert "ok" in roles["text_encoder"]


def _slow_job(job: Job) -> int:
    for i in range(200):
        job.progress(i, 200, "counting")
        time.sleep(0.02)
    return 200


def _bad_job(job: Job) -> None:
    job.progress(1, 2)
    raise InputError("cannot read it", source="x.json", hint="fix the file")


async def test_job_panel_cancel_and_error(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        panel = JobPanel(tui_ws, "items")
        await app.screen.mount(panel)
        assert panel.start("count", _slow_job)
        await wait_for(pilot, lambda: "counting" in str(panel.query_one(".job-status").render()))
        assert not panel.start("again", _slow_job)  # one job at a time
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: panel.state == "cancelled", timeout=10)
        assert any("cancelled" in n.title for n in app._notifications)
        assert panel.start("bad", _bad_job)
        await wait_for(pilot, lambda: panel.state == "failed", timeout=10)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "x.json: cannot read it" in errors[-1].message
        assert "fix the file" in errors[-1].message


async def test_every_screen_binding_names_an_action_the_screen_has(tui_ws: Path) -> None:
    """Each key in a footer leads somewhere: the action exists, and a focus target exists."""
    import re

    from textual.binding import Binding

    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        for mode, _label, key in SCREENS:
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            for binding in screen.BINDINGS:
                assert isinstance(binding, Binding)
                name = binding.action.split("(", 1)[0]
                assert hasattr(screen, f"action_{name}"), (mode, binding.action)
                focus = re.fullmatch(r"focus\('(.+)'\)", binding.action)
                if focus:
                    assert len(screen.query(focus.group(1))) == 1, (mode, binding.action)
                    await pilot.press(binding.key)
                    await pilot.pause()
                    assert app.focused is screen.query_one(focus.group(1)), (mode, binding.key)
