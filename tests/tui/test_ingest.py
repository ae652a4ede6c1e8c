"""Ingest & Ground: ingest a folder with progress, ground a record and see the counts, the
record view, cancel a ground and run it again, and the errors a bad form gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, ProgressBar, Select, Static, TabbedContent

from medsynth.ground.queries import match_counts, resolve_image
from medsynth.ingest.sources import FORMATS
from medsynth.kg.phantom import render
from medsynth.tui.app import MedSynthApp
from medsynth.tui.screens.ingest import IngestScreen
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.record_jobs import FORMATS as FORM_FORMATS
from medsynth.workspace import Workspace
from tests.tui.conftest import SIZE, wait_for

# (file stem, phantom entity, caption): captions with enough KG terms to pass the filters
NEW_CASES = (
    (
        "case11_spleen",
        "Splenomegaly",
        "Axial CT of the abdomen shows an enlarged spleen, splenomegaly, with a normal liver, "
        "kidney, gallbladder and pancreas.",
    ),
    (
        "case12_chest",
        "Pneumothorax",
        "Chest CT with a small pneumothorax of the right lung; the heart, aorta and trachea are "
        "normal, no pleural effusion.",
    ),
)


def write_cases(folder: Path, cases: tuple[tuple[str, str, str], ...] = NEW_CASES) -> Path:
    """Images (384 px phantoms, a variant the demo does not use) with same-name captions."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, entity, caption in cases:
        image = render(entity, 5).resize((384, 384), Image.Resampling.BICUBIC)
        image.save(folder / f"{stem}.png")
        (folder / f"{stem}.txt").write_text(caption + "\n", encoding="utf-8")
    return folder


def cells(table: DataTable[object]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def status(panel: JobPanel) -> str:
    return str(panel.query_one(".job-status", Static).render())


async def open_screen(pilot: Pilot[object]) -> IngestScreen:
    await pilot.press("f4")
    await pilot.pause()
    assert isinstance(pilot.app.screen, IngestScreen)
    return pilot.app.screen


async def type_into(pilot: Pilot[object], selector: str, text: str) -> None:
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)


def runs(ws: Workspace, command: str) -> list[str]:
    return [
        r[0]
        for r in ws.db.execute("SELECT status FROM runs WHERE command = ? ORDER BY id", [command])
    ]


def test_form_formats_are_the_ingest_formats() -> None:
    assert set(FORM_FORMATS) == set(FORMATS)


def test_record_images_stay_inside_the_root(tmp_path: Path) -> None:
    assert resolve_image(str(tmp_path), "a/b.png") == tmp_path.resolve() / "a" / "b.png"
    for bad in ("../outside.png", "/etc/passwd", "a/../../x.png"):
        try:
            resolve_image(str(tmp_path), bad)
        except Exception as exc:
            assert bad in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")


async def test_ingest_a_folder_then_ground_a_record(tui_ws: Path, tmp_path: Path) -> None:
    folder = write_cases(tmp_path / "new_cases")
    Image.new("L", (384, 384)).save(folder / "orphan.png")  # no caption: a reject
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        panel = screen.query_one(JobPanel)
        await type_into(pilot, "#ing-path", str(folder))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: panel.state != "running", timeout=120)
        assert panel.state == "done"
        items = len(NEW_CASES) + 1
        assert status(panel).startswith(f"ingest: {items}/{items} items")
        bar = panel.query_one(ProgressBar)
        assert bar.total == items and bar.progress == items
        db = app.ws.db
        kept = db.execute(
            "SELECT count(*) FROM records r JOIN datasets d ON d.id = r.dataset_id "
            "WHERE d.name = 'new_cases' AND r.status = 'kept'"
        ).fetchone()[0]
        assert kept == len(NEW_CASES)
        assert runs(app.ws, "ingest")[-1] == "ok"
        assert screen.query_one("#ing-dataset", Select).value == "new_cases"
        summary = str(screen.query_one("#ing-summary", Static).render())
        assert f"{kept} records, {kept} kept, 0 grounded, {kept} to ground" in summary
        newest_reject = cells(screen.query_one("#ing-rejects", DataTable))[0]
        assert newest_reject[1:] == [
            "ingest",
            "orphan.png",
            db.execute("SELECT reason FROM rejects ORDER BY id DESC LIMIT 1").fetchone()[0],
        ]
        assert "no caption" in newest_reject[3]

        await type_into(pilot, "#ing-limit", "1")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: panel.state != "running", timeout=240)
        assert panel.state == "done", status(panel)
        assert status(panel).startswith("ground: 1/1 records")
        assert runs(app.ws, "ground")[-1] == "ok"
        dataset_id = db.execute("SELECT id FROM datasets WHERE name = 'new_cases'").fetchone()[0]
        expected = match_counts(app.ws.db, dataset_id)
        assert sum(sum(s.values()) for s in expected.values()) == 2  # one record, two kinds
        shown = cells(screen.query_one("#ing-counts", DataTable))
        assert shown == [
            [
                kind,
                *(str(stages[s]) for s in ("exact", "fuzzy", "unmatched")),
                str(sum(stages.values())),
            ]
            for kind, stages in sorted(expected.items())
        ]
        assert f"1 grounded, {kept - 1} to ground" in str(
            screen.query_one("#ing-summary", Static).render()
        )

        # the record view: the grounded record's image, context, matches and triples
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert screen.query_one("#ing-tabs", TabbedContent).active == "ing-tab-records"
        records = screen.query_one("#ing-records", DataTable)
        record_id, key = db.execute(
            "SELECT r.id, r.key FROM records r JOIN matches m ON m.record_id = r.id "
            "WHERE r.dataset_id = ? LIMIT 1",
            [dataset_id],
        ).fetchone()
        row = next(i for i, r in enumerate(cells(records)) if r[0] == str(record_id))
        records.focus()
        records.move_cursor(row=row)
        await pilot.pause()
        view = screen.query_one("#record-image", ImageView)
        assert view.path == (folder / key).resolve()
        mention, stage = db.execute(
            "SELECT mention, stage FROM matches WHERE record_id = ? AND kind = 'disease'",
            [record_id],
        ).fetchone()
        text = str(screen.query_one("#record-matches", Static).render())
        assert repr(mention) in text
        if stage == "refused":  # a refused mention shows why (issue 13: no nonsense grounded)
            reason = db.execute(
                "SELECT reason FROM rejects WHERE stage = 'ground mention' AND source = ?",
                [f"record {record_id} disease"],
            ).fetchone()[0]
            assert f"refused: {reason}" in text
        else:
            assert "score" in text
        context = str(screen.query_one("#record-context", Static).render())
        assert context.startswith(next(c[2] for c in NEW_CASES if f"{c[0]}.png" == key)[:40])
        triples = db.execute(
            "SELECT count(*) FROM record_triples WHERE record_id = ?", [record_id]
        ).fetchone()[0]
        assert screen.query_one("#record-triples", DataTable).row_count == triples


async def test_cancel_ground_then_run_again(
    tui_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from medsynth.ground.service import Grounder
    from medsynth.ingest import ingest

    # grounding a record takes a moment, so the cancel lands while the first is in progress
    # (refused mentions make the embedded model's records quick to ground)
    slow = Grounder.ground_one

    def ground_one(self: Grounder, row: dict) -> object:
        time.sleep(1.5)
        return slow(self, row)

    monkeypatch.setattr(Grounder, "ground_one", ground_one)

    ws = Workspace.open(tui_ws)
    ingest(ws, write_cases(tmp_path / "more"), "folder", name="more")
    ws.close()
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        panel = screen.query_one(JobPanel)
        chooser = screen.query_one("#ing-dataset", Select)
        chooser.value = "more"
        await pilot.pause()
        db = app.ws.db
        grounded_sql = (
            "SELECT count(DISTINCT m.record_id) FROM matches m JOIN records r "
            "ON r.id = m.record_id JOIN datasets d ON d.id = r.dataset_id WHERE d.name = 'more'"
        )
        before = len(runs(app.ws, "ground"))
        screen.query_one("#ing-records", DataTable).focus()
        await pilot.press("ctrl+g")
        # cancel while the first record is being grounded: it finishes and is kept
        await wait_for(pilot, lambda: runs(app.ws, "ground")[before:] == ["running"], 120)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: panel.state != "running", timeout=240)
        assert panel.state == "cancelled"
        assert runs(app.ws, "ground")[before:] == ["cancelled"]
        assert db.execute(grounded_sql).fetchone()[0] == 1
        assert any("cancelled" in (n.title or "") for n in app._notifications)
        summary = screen.query_one("#ing-summary", Static)
        await wait_for(pilot, lambda: "1 grounded, 1 to ground" in str(summary.render()), 10)

        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: panel.state != "running", timeout=240)
        assert panel.state == "done", status(panel)
        assert status(panel).startswith("ground: 1/1 records")
        assert runs(app.ws, "ground")[before:] == ["cancelled", "ok"]
        assert db.execute(grounded_sql).fetchone()[0] == 2
        kinds = db.execute(
            "SELECT count(*), count(DISTINCT m.record_id || m.kind) FROM matches m "
            "JOIN records r ON r.id = m.record_id JOIN datasets d ON d.id = r.dataset_id "
            "WHERE d.name = 'more'"
        ).fetchone()
        assert kinds == (4, 4)  # two records, two kinds each, nothing twice
        summary = screen.query_one("#ing-summary", Static)  # refreshed when the screen gets
        await wait_for(pilot, lambda: "2 grounded, 0 to ground" in str(summary.render()), 10)


async def test_errors_name_the_cause(tui_ws: Path, tmp_path: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(pilot)
        panel = screen.query_one(JobPanel)
        db = app.ws.db
        counts = [db.table(t).count for t in ("runs", "datasets", "records", "rejects")]
        missing = tmp_path / "no" / "such_folder"
        await type_into(pilot, "#ing-path", str(missing))
        await pilot.press("enter")
        await wait_for(pilot, lambda: panel.state != "running", timeout=60)
        assert panel.state == "failed"
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and str(missing) in errors[-1].message
        assert "no such file or folder" in errors[-1].message and "fix:" in errors[-1].message
        assert [db.table(t).count for t in ("runs", "datasets", "records", "rejects")] == counts

        await type_into(pilot, "#ing-limit", "-3")
        await pilot.press("ctrl+g")
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert "'-3' is not a positive whole number" in errors[-1].message
        assert "fix:" in errors[-1].message
        assert panel.state == "failed"  # no job was started
        assert db.table("runs").count == counts[0]
