"""The Synthesize screen: a run with progress and a live preview, a sample's provenance, cancel
and resume, export, and errors that name the cause and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, Static

from medsynth.tui.app import MedSynthApp
from medsynth.tui.screens.synth import SynthScreen
from medsynth.tui.widgets import synth_form
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.sample_preview import QUESTION_WIDTH
from medsynth.workspace import Workspace
from tests.tui.conftest import SIZE, wait_for

MODEL_TIMEOUT = 240.0  # the embedded SmolLM2 on a shared 2-core CPU


async def open_synth(app: MedSynthApp, pilot: Pilot[None], *generators: str) -> SynthScreen:
    """F5, then tick only ``generators``."""
    await pilot.press("f5")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, SynthScreen)
    for name in synth_form.GENERATORS:
        screen.query_one(f"#gen-{name}", Checkbox).value = name in generators
    return screen


def fill(screen: SynthScreen, **values: str) -> None:
    for key, value in values.items():
        screen.query_one(f"#{key.replace('_', '-')}", Input).value = value


async def run_job(
    pilot: Pilot[None],
    screen: SynthScreen,
    key: str = "ctrl+r",
    state: str = "done",
    timeout: float = 60.0,
) -> None:
    """Press ``key`` (run or export) and wait for the new job to end in ``state``."""
    screen.preview.table.focus()  # keys reach the screen from the table (an Input eats ctrl+x)
    before, ended = screen.panel.job, screen.ended
    await pilot.press(key)
    await wait_for(pilot, lambda: screen.panel.job is not before, timeout=5)
    await wait_for(pilot, lambda: screen.ended > ended, timeout)
    assert screen.panel.state == state


def table_rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def db_rows(ws: Workspace, sql: str, params: list[Any] | None = None) -> list[Any]:
    return ws.db.execute(sql, params or []).fetchall()


def last_run(ws: Workspace) -> str:
    return str(
        db_rows(ws, "SELECT status FROM runs WHERE command = 'synth' ORDER BY id DESC")[0][0]
    )


def test_form_lists_match_the_services() -> None:
    from medsynth.export import FORMATS
    from medsynth.synth.model import GENERATORS

    assert synth_form.GENERATORS == GENERATORS
    assert tuple(FORMATS) == synth_form.FORMATS


async def test_hardneg_run_fills_the_preview_and_shows_provenance(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_synth(app, pilot, "hardneg")
        assert screen.preview.table.row_count == 0  # no samples yet
        await run_job(pilot, screen)
        ws = app.ws
        planned = db_rows(ws, "SELECT count(DISTINCT record_id) FROM matches")[0][0]
        progress = screen.last_progress
        assert progress is not None and progress.label == "hardneg"
        assert progress.done == progress.total == planned == 4
        status = str(screen.panel.query_one(".job-status", Static).render())
        assert "hardneg: 4/4 records" in status

        # the preview holds exactly the samples in the database
        samples = db_rows(ws, "SELECT id, question, status FROM samples ORDER BY id")
        assert samples and {s[0] for s in samples} == {
            s[0] for s in db_rows(ws, "SELECT id FROM samples WHERE generator = 'hardneg'")
        }
        rows = table_rows(screen.preview.table)
        assert [int(r[0]) for r in rows] == [s[0] for s in samples]
        for row, (_id, question, status) in zip(rows, samples, strict=True):
            assert row[3] == status
            assert " ".join(question.split()).startswith(row[4].rstrip("…"))
            assert len(row[4]) <= QUESTION_WIDTH

        # the summary counts what the run wrote
        kept = db_rows(ws, "SELECT count(*) FROM samples WHERE status IN ('kept', 'duplicate')")
        summary = str(screen.query_one("#synth-summary", Static).render())
        assert f"hardneg: kept {kept[0][0]}, rejected" in summary
        assert screen.report is not None and screen.report.run_id is not None
        assert last_run(ws) == "ok"

        # selecting a sample shows its KG path, provenance and its record's image
        await pilot.press("down")
        await pilot.pause()
        chosen = samples[1][0]
        assert screen.preview.shown == chosen
        names = ["entities", "template", "version", "seed", "answer", "images", "root"]
        values = db_rows(
            ws,
            "SELECT s.path_entities, s.template, s.template_version, s.seed, s.answer, "
            "r.images, d.root FROM samples s JOIN records r ON r.id = s.record_id "
            "JOIN datasets d ON d.id = r.dataset_id WHERE s.id = ?",
            [chosen],
        )[0]
        detail = dict(zip(names, values, strict=True))
        text = str(screen.query_one("#preview-text", Static).render())
        entities = json.loads(detail["entities"])
        assert entities, "hardneg samples carry a KG path"
        assert "KG path: " + " → ".join(entities) in " ".join(text.split("\n"))
        assert f"template {detail['template']} v{detail['version']}" in text
        assert f"seed {detail['seed']}" in text and f"A: {detail['answer']}" in text
        image = screen.query_one("#preview-image", ImageView)
        expected = (Path(detail["root"]) / json.loads(detail["images"])[0]).resolve()
        assert image.path == expected

        # the status filter: kept, then rejected
        await pilot.press("ctrl+f")
        await pilot.pause()
        kept_ids = [r[0] for r in db_rows(ws, "SELECT id FROM samples WHERE status = 'kept'")]
        assert [int(r[0]) for r in table_rows(screen.preview.table)] == kept_ids
        await pilot.press("ctrl+f")
        await pilot.pause()
        rejected = db_rows(ws, "SELECT id FROM samples WHERE status = 'rejected'")
        assert [int(r[0]) for r in table_rows(screen.preview.table)] == [r[0] for r in rejected]
        assert "rejected" in str(screen.query_one("#synth-filter", Static).render())


async def test_multihop_on_one_record_with_the_embedded_model(snapshot_ws: Path) -> None:
    # snapshot_ws: every record grounded (exact matches written directly); with the model's own
    # grounding, the nonsense mentions it makes for some demo records are refused (issue 13)
    app = MedSynthApp(snapshot_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_synth(app, pilot, "multihop")
        fill(screen, synth_limit="1", synth_k="1")
        await run_job(pilot, screen, timeout=MODEL_TIMEOUT)
        ws = app.ws
        tasks = db_rows(ws, "SELECT record_id, status FROM synth_tasks")
        assert len(tasks) == 1 and tasks[0][1] == "done"
        samples = db_rows(ws, "SELECT id, model FROM samples WHERE generator = 'multihop'")
        assert samples and all("SmolLM2" in s[1] for s in samples)
        assert [int(r[0]) for r in table_rows(screen.preview.table)] == [s[0] for s in samples]
        assert screen.last_progress is not None and screen.last_progress.done == 1
        warnings = [n for n in app._notifications if n.severity == "warning"]
        assert any("embedded SmolLM2" in n.message for n in warnings)
        assert last_run(ws) == "ok"


def _ledger(ws: Workspace) -> tuple[list[Any], list[Any]]:
    tasks = db_rows(ws, "SELECT task_key, status, samples FROM synth_tasks ORDER BY task_key")
    samples = db_rows(
        ws,
        "SELECT task_key, position, question, answer, status FROM samples "
        "ORDER BY task_key, position",
    )
    return tasks, samples


async def test_cancel_keeps_finished_samples_and_a_rerun_completes(
    snapshot_ws: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(snapshot_ws, reference)  # for an uninterrupted run afterwards
    app = MedSynthApp(snapshot_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_synth(app, pilot, "multihop")
        fill(screen, synth_k="1")
        screen.preview.table.focus()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last_progress is not None, MODEL_TIMEOUT)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: screen.ended == 1, MODEL_TIMEOUT)
        assert screen.panel.state == "cancelled"
        ws = app.ws
        assert last_run(ws) == "cancelled"
        assert any("cancelled" in n.title for n in app._notifications)
        assert "cancelled" in str(screen.query_one("#synth-summary", Static).render())
        tasks_before, samples_before = _ledger(ws)
        assert 1 <= len(tasks_before) < 4  # record 1 was finished, not all four
        assert len(screen.preview.table.rows) == len(samples_before)

        await run_job(pilot, screen, timeout=MODEL_TIMEOUT)
        assert last_run(ws) == "ok"
        tasks, samples = _ledger(ws)
        assert set(tasks_before) <= set(tasks)  # kept across the cancel, not redone
        assert {(s[0], s[1], s[2]) for s in samples_before} <= {(s[0], s[1], s[2]) for s in samples}
        assert len({t[0] for t in tasks}) == len(tasks) == 4
        assert len({(s[0], s[1]) for s in samples}) == len(samples)
        report = screen.report
        # the rerun runs only what the cancel left (a task whose output fails its schema ends
        # "failed", also counted)
        assert report.tasks["multihop"] + report.tasks_failed["multihop"] == 4 - len(tasks_before)

    # the same run, uninterrupted (model calls come from the call log: same seeds, same answers)
    from medsynth.synth.service import synthesize

    ws = Workspace.open(reference)
    try:
        options = ws.config.synth.model_copy(update={"multihop_per_record": 1})
        synthesize(ws, ["multihop"], options=options)
        done = Workspace.open(snapshot_ws)
        try:
            ref_tasks, ref_samples = _ledger(ws)
            tasks, samples = _ledger(done)
        finally:
            done.close()
    finally:
        ws.close()
    assert [t[0] for t in tasks] == [t[0] for t in ref_tasks]
    assert [(s[0], s[1]) for s in samples] == [(s[0], s[1]) for s in ref_samples]


async def test_export_trl_sft_writes_the_kept_samples(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_synth(app, pilot, "hardneg")
        await run_job(pilot, screen)
        out = tui_ws / "exports" / "tui-trl-sft"
        assert screen.query_one("#export-out", Input).value == str(out)
        for _ in range(2):  # the second export replaces the first
            await run_job(pilot, screen, "ctrl+o")
        kept = app.ws.db.execute("SELECT count(*) FROM samples WHERE status = 'kept'").fetchone()
        report = screen.export_report
        assert report is not None and report.samples == kept[0] > 0
        lines = (out / "sft.jsonl").read_text().splitlines()
        assert len(lines) == kept[0]
        for name in report.files:
            assert (out / name).is_file()
        assert {"sft.jsonl", "manifest.json", "dataset_card.md"} <= set(report.files)
        summary = str(screen.query_one("#synth-summary", Static).render())
        assert f"exported {kept[0]} sample(s) as trl-sft" in summary and str(out) in summary
        assert "sft.jsonl" in summary


async def test_errors_name_the_cause_and_the_fix(snapshot_ws: Path, tmp_path: Path) -> None:
    from medsynth.config import load_config, write_config

    config = load_config(snapshot_ws / "medsynth.toml")
    dead = {"backend": "ollama", "model": "llava", "host": "http://127.0.0.1:9"}
    config.models.vision_generator = config.models.vision_generator.model_copy(update=dead)
    write_config(snapshot_ws / "medsynth.toml", config)
    app = MedSynthApp(snapshot_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_synth(app, pilot, "multihop")

        # a bad form value: a notification, no job
        fill(screen, synth_limit="0")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.panel.state == "idle"
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert "limit" in error.message and "fix: enter a whole number" in error.message

        # the generator model's server is dead
        fill(screen, synth_limit="1", synth_k="1")
        await run_job(pilot, screen, state="failed")
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert "http://127.0.0.1:9" in error.message and "cannot connect" in error.message
        assert "fix:" in error.message and "ollama serve" in error.message
        assert last_run(app.ws) == "failed"

        # no samples yet: export says so and how to make some
        await run_job(pilot, screen, "ctrl+o", state="failed")
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert "no kept samples" in error.message and "medsynth synth" in error.message

        # the output path is an existing file
        with app.ws.db.conn:  # one kept sample, so that the export gets to the folder
            app.ws.db.execute(
                "INSERT INTO samples (task_key, position, record_id, generator, sample_type, "
                "question, answer, images, status) SELECT 'x', 0, id, 'hardneg', 'negative', "
                "'q?', 'a', '[]', 'kept' FROM records LIMIT 1"
            )
        target = tmp_path / "a-file.txt"
        target.write_text("not a folder")
        fill(screen, export_out=str(target))
        await run_job(pilot, screen, "ctrl+o", state="failed")
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert f"{target}: exists and is not a folder" in error.message
        assert "fix: choose a new folder" in error.message
        assert target.read_text() == "not a folder"

        # a folder holding other files is not mixed with an export
        other = tmp_path / "mine"
        other.mkdir()
        (other / "notes.txt").write_text("keep me")
        fill(screen, export_out=str(other))
        await run_job(pilot, screen, "ctrl+o", state="failed")
        error = [n for n in app._notifications if n.severity == "error"][-1]
        assert "holds no earlier export" in error.message and "new or empty folder" in error.message
        assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
