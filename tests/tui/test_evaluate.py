"""The Evaluate screen: a few real SLAKE questions answered by the embedded model, the metrics
table equal to the stored run, two runs compared, cancel and resume, and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, ProgressBar

from medsynth.eval.queries import scorer_overview
from medsynth.tui.app import MedSynthApp
from medsynth.tui.jobs import Job
from medsynth.tui.screens.evaluate import EvaluateScreen
from medsynth.tui.widgets.eval_tables import compare_table, metric_rows, scorer_rows
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.tui.conftest import SIZE, wait_for


async def open_eval(pilot: Any, app: MedSynthApp, **fields: str) -> EvaluateScreen:
    await pilot.press("f7")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, EvaluateScreen)
    values = {"ef-path": str(shared_path("slake")), "ef-model": "llamacpp:embedded", **fields}
    for field_id, value in values.items():
        screen.query_one(f"#{field_id}", Input).value = value
    screen.query_one("#ef-split").value = "validate"  # type: ignore[attr-defined]
    return screen


def cells(table: DataTable[Any]) -> list[tuple[str, ...]]:
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def eval_rows(root: Path) -> list[dict[str, Any]]:
    ws = Workspace.open(root)
    try:
        cursor = ws.db.execute("SELECT * FROM eval_runs ORDER BY id")
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]
    finally:
        ws.close()


def count(root: Path, sql: str, params: list[Any]) -> int:
    ws = Workspace.open(root)
    try:
        return int(ws.db.execute(sql, params).fetchone()[0])
    finally:
        ws.close()


async def run_and_wait(pilot: Any, panel: JobPanel) -> None:
    before = panel.job
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: panel.job is not before and panel.state != "running", 180)
    await pilot.pause(0.3)  # the Finished message reaches the screen after the panel


async def test_run_shows_the_stored_metrics_and_compares_two_runs(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_eval(pilot, app, **{"ef-limit": "4", "ef-name": "four"})
        panel = screen.query_one(JobPanel)
        await run_and_wait(pilot, panel)
        assert panel.state == "done"
        bar = panel.query_one(ProgressBar)
        assert bar.total == 4 and bar.progress == 4
        (run,) = eval_rows(tui_ws)
        assert run["status"] == "done" and run["name"] == "four" and run["questions"] == 4
        assert count(tui_ws, "SELECT count(*) FROM eval_predictions", []) == 4
        shown = cells(screen.query_one("#eval-metrics", DataTable))
        assert shown == metric_rows(json.loads(run["metrics"]))
        assert {"overall", "OPEN", "CLOSED"} & {r[0] for r in shown} >= {"overall"}
        assert "4/4 predicted" in str(screen.query_one("#eval-summary").render())
        scorers = cells(screen.query_one("#eval-scorers", DataTable))
        assert [r[0] for r in scorers] == ["strict", "llava-med", "multimedeval"]
        ws = Workspace.open(tui_ws)
        try:
            assert scorers == scorer_rows(scorer_overview(ws.db, run["id"]))
        finally:
            ws.close()

        # a second run on the first three questions (answers come from the call log)
        screen.query_one("#ef-limit", Input).value = "3"
        screen.query_one("#ef-name", Input).value = "three"
        await run_and_wait(pilot, panel)
        assert panel.state == "done"
        first, second = eval_rows(tui_ws)
        runs = screen.query_one("#eval-runs", DataTable)
        assert [r[1] for r in cells(runs)] == [str(second["id"]), str(first["id"])]

        await pilot.press("ctrl+o")  # nothing marked yet
        await pilot.pause()
        assert "two or more" in list(app._notifications)[-1].message
        runs.focus()
        runs.move_cursor(row=1)  # the first run is the baseline
        await pilot.press("space")
        runs.move_cursor(row=0)
        await pilot.press("enter")
        assert screen.marked == [first["id"], second["id"]]
        assert cells(runs)[0][0] == "✓"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: panel.state == "done" and "compare" in panel.title, 60)
        await pilot.pause(0.3)
        from medsynth.eval.compare import compare

        ws = Workspace.open(tui_ws)
        try:
            expected = compare(ws, [str(first["id"]), str(second["id"])])
        finally:
            ws.close()
        columns, rows = compare_table(expected)
        table = screen.query_one("#eval-compare", DataTable)
        assert [str(c.label) for c in table.ordered_columns] == columns
        assert cells(table) == rows
        assert expected["questions_compared"] == 3
        assert "3 shared" in str(table.border_title)


async def test_cancel_keeps_answers_and_running_again_finishes(
    tui_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Job.progress

    def slow(job: Job, done: int, total: int, label: str = "") -> None:
        if label == "answered":
            time.sleep(1.5)  # the embedded model answers faster than a test can press a key
        original(job, done, total, label)

    monkeypatch.setattr(Job, "progress", slow)
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_eval(pilot, app, **{"ef-limit": "3"})
        panel = screen.query_one(JobPanel)
        await pilot.press("ctrl+r")
        status = panel.query_one(".job-status")
        await wait_for(pilot, lambda: "answered: 1/3" in str(status.render()), timeout=120)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: panel.state != "running", timeout=60)
        await pilot.pause(0.3)
        assert panel.state == "cancelled"
        (run,) = eval_rows(tui_ws)
        assert run["status"] == "cancelled"
        asked = count(tui_ws, "SELECT count(*) FROM eval_predictions", [])
        assert 1 <= asked < 3
        last = count(tui_ws, "SELECT max(id) FROM runs WHERE command = 'eval'", [])
        assert (
            count(tui_ws, "SELECT count(*) FROM runs WHERE id = ? AND status = 'cancelled'", [last])
            == 1
        )

        await run_and_wait(pilot, panel)
        assert panel.state == "done"
        (again,) = eval_rows(tui_ws)
        assert again["id"] == run["id"] and again["status"] == "done"
        assert count(tui_ws, "SELECT count(*) FROM eval_predictions", []) == 3
        assert (
            count(
                tui_ws,
                "SELECT count(DISTINCT qid) FROM eval_predictions WHERE eval_run_id = ?",
                [run["id"]],
            )
            == 3
        )


async def test_bad_input_is_a_notification(tui_ws: Path) -> None:
    missing = tui_ws / "no-such-slake"
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_eval(pilot, app, **{"ef-path": str(missing), "ef-limit": "2"})
        await pilot.press("ctrl+r")
        await pilot.pause()
        error = list(app._notifications)[-1]
        assert error.severity == "error"
        assert str(missing) in error.message and "fix:" in error.message
        panel = screen.query_one(JobPanel)
        assert panel.state == "idle"

        screen.query_one("#ef-path", Input).value = str(shared_path("slake"))
        screen.query_one("#ef-model", Input).value = "nonsense:thing"
        await run_and_wait(pilot, panel)
        assert panel.state == "failed"
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert "nonsense:thing" in error.message and "fix:" in error.message
        assert eval_rows(tui_ws) == []
