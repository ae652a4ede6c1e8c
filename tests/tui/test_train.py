"""The Train screen: the preflight equals what training computes, a smoke SFT run plots every
recorded step, cancel saves a checkpoint and Resume finishes, and bad input is a notification."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Log

from medsynth.train import preflight
from medsynth.tui.app import MedSynthApp
from medsynth.tui.jobs import Job
from medsynth.tui.screens.train import TrainScreen
from medsynth.tui.widgets.curves import TrainCurves
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.train_tables import size
from medsynth.workspace import Workspace
from tests.tui.conftest import SIZE, wait_for
from tests.unit.train_fixtures import build_export

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
RSS = 700 * 1024**2


@pytest.fixture
def train_ws(tui_ws: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The TUI workspace with an export to train on; memory readings fixed so that two
    estimates of the same settings are equal."""
    build_export(tui_ws / "exports" / "export-1")
    monkeypatch.setattr(preflight, "current_rss", lambda: RSS)
    monkeypatch.setattr(preflight, "device_budget", lambda d, f=0.95: (8 * preflight.GIB, "test"))
    return tui_ws


async def open_train(pilot: Any, app: MedSynthApp, **fields: str) -> TrainScreen:
    await pilot.press("f6")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TrainScreen)
    for field_id, value in fields.items():
        screen.query_one(f"#{field_id}", Input).value = value
    return screen


def rows_of(root: Path, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    ws = Workspace.open(root)
    try:
        cursor = ws.db.execute(sql, params)
        cols = [d[0] for d in cursor.description]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]
    finally:
        ws.close()


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_preflight_then_smoke_run_plots_every_step(train_ws: Path) -> None:
    app = MedSynthApp(train_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, app, **{"tf-name": "tui-sft", "tf-max-steps": "3"})
        panel = screen.query_one(JobPanel)
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: panel.state == "done" and screen.estimate is not None)
        await pilot.pause(0.3)
        estimate = screen.estimate
        assert estimate is not None and estimate["fits"]
        shown = dict(cells(screen.query_one("#train-preflight", DataTable)))
        assert shown["total"] == size(estimate["total_bytes"])
        assert shown["weights"] == size(estimate["parts_bytes"]["weights"])
        assert shown["fits"] == "yes"

        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: panel.state != "running", timeout=180)
        await pilot.pause(0.3)  # the Finished message reaches the screen after the panel
        assert panel.state == "done"
        (run,) = rows_of(train_ws, "SELECT * FROM train_runs WHERE name = ?", ["tui-sft"])
        assert run["status"] == "ok"
        # what training computed for the same settings is what the preflight showed
        assert run["estimate_bytes"] == estimate["total_bytes"]
        assert json.loads(run["preflight"])["parts_bytes"] == estimate["parts_bytes"]
        steps = rows_of(
            train_ws, "SELECT step FROM train_steps WHERE train_run_id = ?", [run["id"]]
        )
        curves = screen.query_one(TrainCurves)
        assert len(steps) == 3 and curves.points == len(steps)
        assert curves.steps == [s["step"] for s in steps]
        assert "step 3/3" in str(screen.query_one("#train-stats").render())
        assert "step 3/3" in "\n".join(screen.query_one(JobPanel).query_one(Log).lines)
        table = cells(screen.query_one("#train-runs", DataTable))
        assert table[0][1] == "tui-sft" and "ok" in table[0][3] and table[0][4] == "3"


async def test_cancel_keeps_a_checkpoint_and_resume_finishes(
    train_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Job.progress

    def slow(job: Job, done: int, total: int, label: str = "") -> None:
        if label == "steps":
            time.sleep(0.5)  # time for the test to press cancel between steps
        original(job, done, total, label)

    monkeypatch.setattr(Job, "progress", slow)
    app = MedSynthApp(train_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, app, **{"tf-name": "tui-stop", "tf-max-steps": "4"})
        panel = screen.query_one(JobPanel)
        curves = screen.query_one(TrainCurves)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: curves.points >= 1, timeout=120)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: panel.state != "running", timeout=60)
        await pilot.pause(0.3)
        assert panel.state == "cancelled"
        (first,) = rows_of(train_ws, "SELECT * FROM train_runs WHERE name = ?", ["tui-stop"])
        assert first["status"] == "cancelled"
        done = [
            r["step"]
            for r in rows_of(
                train_ws,
                "SELECT step FROM train_steps WHERE train_run_id = ? ORDER BY step",
                [first["id"]],
            )
        ]
        assert done and done[-1] < 4
        assert (Path(first["output_dir"]) / f"checkpoint-{done[-1]}").is_dir()
        table = screen.query_one("#train-runs", DataTable)
        assert "cancelled" in cells(table)[0][3]

        table.focus()
        table.move_cursor(row=0)
        before = panel.job
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: panel.job is not before and panel.state != "running", 180)
        await pilot.pause(0.3)  # the Finished message reaches the screen after the panel
        assert panel.state == "done"
        runs = rows_of(
            train_ws, "SELECT * FROM train_runs WHERE name = ? ORDER BY id", ["tui-stop"]
        )
        assert [r["status"] for r in runs] == ["cancelled", "ok"]
        assert runs[1]["resumed_from"].endswith(f"checkpoint-{done[-1]}")
        rest = [
            r["step"]
            for r in rows_of(
                train_ws,
                "SELECT step FROM train_steps WHERE train_run_id = ? ORDER BY step",
                [runs[1]["id"]],
            )
        ]
        assert done + rest == [1, 2, 3, 4]  # nothing lost, nothing repeated
        assert curves.points == len(rest)
        assert (Path(first["output_dir"]) / "adapter" / "adapter_model.safetensors").is_file()


async def test_bad_input_is_a_notification(train_ws: Path) -> None:
    missing = train_ws / "no-such-export"
    app = MedSynthApp(train_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, app, **{"tf-max-steps": "0"})
        await pilot.press("ctrl+r")
        await pilot.pause()
        error = list(app._notifications)[-1]
        assert "max steps" in error.message and "fix:" in error.message
        assert screen.query_one(JobPanel).state == "idle"

        screen.query_one("#tf-max-steps", Input).value = "2"
        screen.query_one("#tf-data", Input).value = str(missing)
        await pilot.press("ctrl+r")
        panel = screen.query_one(JobPanel)
        await wait_for(pilot, lambda: panel.state == "failed", timeout=60)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert str(missing) in errors[-1].message and "fix:" in errors[-1].message
        assert rows_of(train_ws, "SELECT id FROM train_runs", []) == []


async def test_start_refuses_what_the_preflight_says_will_not_fit(
    train_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "device_budget", lambda d, f=0.95: (1024**2, "tiny test"))
    app = MedSynthApp(train_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_train(pilot, app, **{"tf-name": "too-big"})
        panel = screen.query_one(JobPanel)
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: panel.state == "done" and screen.estimate is not None)
        assert dict(cells(screen.query_one("#train-preflight", DataTable)))["fits"] == "NO"
        assert "does NOT fit" in str(screen.query_one("#train-verdict").render())
        await pilot.press("ctrl+r")
        await pilot.pause()
        refused = [n for n in app._notifications if n.title == "training refused"]
        assert refused and "Force" in refused[-1].message
        assert panel.state == "done"  # the preflight job; no training job started
        assert rows_of(train_ws, "SELECT id FROM train_runs", []) == []


async def test_export_writes_the_selected_run_as_gguf(train_ws: Path, tiny_models: Path) -> None:
    """ctrl+e on a finished run: GGUF + mmproj + Modelfile beside its adapter (the tiny
    Idefics3; its tokenizer needs the configured pre-tokenizer fallback)."""
    from medsynth.config import CONFIG_FILE, write_config

    ws = Workspace.open(train_ws)
    ws.config.train.export_tokenizer_fallback = "gpt-2"
    ws.config.train.export_quant = "q8_0"
    write_config(ws.root / CONFIG_FILE, ws.config)
    ws.close()
    app = MedSynthApp(train_ws)
    async with app.run_test(size=SIZE) as pilot:
        fields = {"tf-name": "tui-idefics", "tf-max-steps": "1"}
        screen = await open_train(
            pilot, app, **fields, **{"tf-model": str(tiny_models / "idefics3")}
        )
        panel = screen.query_one(JobPanel)
        await pilot.press("ctrl+e")  # nothing finished yet: a warning, no job
        await pilot.pause()
        assert panel.state != "running"
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: panel.state != "running", timeout=180)
        await pilot.pause(0.3)
        assert panel.state == "done"
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: panel.state == "running", timeout=10)
        await wait_for(pilot, lambda: panel.state != "running", timeout=180)
        log = "\n".join(panel.query_one(Log).lines)
        assert panel.state == "done", log
    folder = train_ws / "adapters" / "tui-idefics" / "export-gguf"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "Modelfile",
        "README.md",
        "medsynth_export.json",
        "mmproj-tui-idefics-f16.gguf",
        "tui-idefics-q8_0.gguf",
    ]
    assert f"exported tui-idefics to {folder}" in log
