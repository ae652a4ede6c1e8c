"""Review sheets: export the queue to CSV, fill it in as a clinician would, import it back (with a
tampered row, a bad score, an unknown id, edited text and a blank row reported by row number),
then the review numbers; file permissions, Chinese text and formula cells."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.errors import InputError
from medsynth.review import data
from medsynth.review.csvio import COLUMNS, export_csv, import_csv
from medsynth.workspace import Workspace
from tests.fakes.review import copy_workspace, synth_workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_workspace(tmp_path_factory.mktemp("review-csv"))


@pytest.fixture()
def ws(built: Path, tmp_path: Path) -> Workspace:
    opened = copy_workspace(built, tmp_path)
    yield opened
    opened.close()


def read_sheet(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def write_sheet(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_sheet_round_trip_with_bad_rows(ws: Workspace, tmp_path: Path) -> None:
    ids = data.queue(ws.db, limit=1000)
    with ws.db.conn:  # Chinese text and a cell a spreadsheet would run as a formula
        ws.db.execute(
            "UPDATE samples SET question = '这张图片显示肾结石吗？' WHERE id = ?", [ids[0]]
        )
        ws.db.execute("UPDATE samples SET answer = '=1+1 is not a formula' WHERE id = ?", [ids[1]])
    data.save_judgement(
        ws.db,
        ids[0],
        dict.fromkeys(data.CRITERIA, 4),
        "fine",
        model="fake:j",
        template="judge_rubric",
        template_version="1",
        call_id=None,
        run_id=None,
    )
    sheet = tmp_path / "sheet.csv"
    exported = export_csv(ws, sheet, limit=8, reviewer="Dr A")
    assert exported.sample_ids == ids[:8]
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_sheet(sheet)
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 8
    assert rows[0]["question"] == "这张图片显示肾结石吗？"
    assert rows[0]["judge_accuracy"] == "4" and rows[1]["judge_accuracy"] == ""
    assert rows[1]["answer"] == "'=1+1 is not a formula"
    assert all(r["reviewer"] == "Dr A" and r["verdict"] == "" for r in rows)
    assert "images" not in rows[0] and all(r["context"] for r in rows)

    # the clinician fills it in
    rows[0].update(verdict="accept", accuracy="5", relevance="4", note="好")  # row 2
    rows[1].update(verdict="Reject", accuracy="1", note="wrong organ")  # row 3
    rows[2].update(verdict="accept", usefulness="7")  # row 4: bad score
    rows[3].update(sample_id=str(ids[0]), verdict="accept")  # row 5: tampered id
    rows[4].update(verdict="reject", answer=rows[4]["answer"] + " (edited)")  # row 6
    rows[5].update(sample_id="999999", verdict="accept")  # row 7: unknown id
    rows[6].update(verdict="maybe")  # row 8: bad verdict
    rows[7].update(reviewer="", accuracy="3.0")  # row 9: reviewer from the option
    write_sheet(sheet, rows)
    report = import_csv(ws, sheet, reviewer="Dr B")
    assert report.rows == 8 and report.stored == 3 and report.blank == 0
    errors = {e.row: str(e) for e in report.errors}
    assert sorted(errors) == [4, 5, 6, 7, 8]
    assert "usefulness '7' is not a whole number from 1 to 5" in errors[4]
    assert "fix: write a whole number from 1 (worst) to 5 (best)" in errors[4]
    assert "fingerprint does not match" in errors[5] and f"sample {ids[0]}" in errors[5]
    assert "answer text was edited" in errors[6]
    assert "no such sample" in errors[7]
    assert "'maybe' is not accept or reject" in errors[8]
    views = {i: data.sample_view(ws.db, i) for i in ids[:8]}
    (first,) = views[ids[0]].reviews
    assert (first.reviewer, first.verdict, first.source) == ("Dr A", "accept", "csv")
    assert first.scores == {"accuracy": 5, "relevance": 4} and first.note == "好"
    assert views[ids[1]].reviews[0].verdict == "reject"
    (last,) = views[ids[7]].reviews
    assert (last.reviewer, last.verdict, last.scores) == ("Dr B", None, {"accuracy": 3})
    for i in ids[2:7]:
        assert views[i].reviews == []

    stats = data.review_stats(ws.db)
    assert stats["reviewed"] == 3 and stats["accepted"] == 1 and stats["rejected"] == 1
    assert stats["accept_rate"] == 0.5 and stats["reviewers"] == {"Dr A": 2, "Dr B": 1}

    again = import_csv(ws, sheet, reviewer="Dr B")  # the same sheet twice: nothing new
    assert again.stored == 0 and again.unchanged == 3
    assert ws.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 3


def test_changed_sample_blank_rows_and_bad_files(ws: Workspace, tmp_path: Path) -> None:
    sheet = tmp_path / "s.csv"
    export_csv(ws, sheet, limit=3, order="generator")
    rows = read_sheet(sheet)
    with ws.db.conn:  # the sample changed after the sheet was written
        ws.db.execute(
            "UPDATE samples SET key_answer = 'changed' WHERE id = ?", [int(rows[0]["sample_id"])]
        )
    rows[0].update(reviewer="Dr A", verdict="accept")
    write_sheet(sheet, rows)
    report = import_csv(ws, sheet)
    assert report.blank == 2 and report.stored == 0
    assert [e.row for e in report.errors] == [2] and "fingerprint" in report.errors[0].message
    rows[0]["reviewer"] = ""
    rows[1].update(verdict="accept")
    write_sheet(sheet, rows)
    report = import_csv(ws, sheet)
    assert [e.fix for e in report.errors][-1].startswith("fill in the reviewer column")
    with pytest.raises(InputError, match="exists"):
        export_csv(ws, sheet, limit=3)
    assert export_csv(ws, sheet, limit=2, force=True).samples == 2
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a review sheet"):
        import_csv(ws, other)
    with pytest.raises(InputError, match="cannot read"):
        import_csv(ws, tmp_path / "missing.csv")


def test_cli_export_import_stats(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "cli.csv"
    root = str(ws.root)
    code = main(["review", "export", str(sheet), "-w", root, "-n", "4", "--order", "generator"])
    assert code == 0 and "wrote 4 sample(s)" in capsys.readouterr().out
    rows = read_sheet(sheet)
    rows[0].update(verdict="accept", accuracy="4")
    rows[1].update(verdict="reject", accuracy="0")
    write_sheet(sheet, rows)
    assert main(["review", "import", str(sheet), "-w", root, "-r", "Dr C"]) == 2
    out = capsys.readouterr().out
    assert "1 review(s) stored" in out and "row 3 (sample" in out and "accuracy '0'" in out
    assert main(["review", "stats", "-w", root, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reviewed"] == 1 and stats["accepted"] == 1
    assert main(["review", "-w", root]) == 0
    assert "1 of" in capsys.readouterr().out
    sample = int(rows[2]["sample_id"])
    assert (
        main(["review", "add", str(sample), "-r", "Dr C", "--verdict", "reject", "-w", root]) == 0
    )
    capsys.readouterr()
    assert main(["review", "show", str(sample), "-w", root, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reviews"][0]["source"] == "cli" and shown["reviews"][0]["verdict"] == "reject"
    assert main(["review", "queue", "-w", root, "--json", "-n", "100"]) == 0
    queued = json.loads(capsys.readouterr().out)
    assert sample not in queued and int(rows[0]["sample_id"]) not in queued
    assert main(["review", "add", str(sample), "-r", " ", "--note", "x", "-w", root]) == 2
    assert "reviewer" in capsys.readouterr().err
