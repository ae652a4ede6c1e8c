"""A file that fails as a whole in a multi-file KG import is loud: the real SLAKE KG with a
corrupt name map (or a file with the wrong delimiter) writes nothing and exits non-zero, saying
what it would cost; ``--keep-going`` imports the rest and reports the damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.errors import InputError
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace


def copy_kg(slake_kg: Path, folder: Path) -> Path:
    target = folder / "KG"
    shutil.copytree(slake_kg, target)
    return target


def corrupt_map(kg: Path) -> None:
    """Cut disease-en-zh.json in half: no longer JSON."""
    path = kg / "disease-en-zh.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def entity_count(ws: Workspace) -> int:
    return int(ws.db.execute("SELECT count(*) FROM entities").fetchone()[0])


def test_corrupt_name_map_writes_nothing_and_says_what_it_costs(
    tmp_path: Path, slake_kg: Path
) -> None:
    good = Workspace.init(tmp_path / "good")
    healthy = import_kg(good, slake_kg, "slake")
    assert healthy.failed_files == []
    kg = copy_kg(slake_kg, tmp_path)
    corrupt_map(kg)

    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(InputError) as err:
        import_kg(ws, kg, "slake")
    text = str(err.value)
    assert "disease-en-zh.json: could not be read" in text
    assert "Chinese names in the other files become entities of their own" in text
    assert "--keep-going" in text and "nothing was written" in text
    assert entity_count(ws) == 0
    assert ws.db.execute("SELECT count(*) FROM triples").fetchone()[0] == 0
    status = ws.db.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0]
    assert status == "failed"

    kept = import_kg(ws, kg, "slake", keep_going=True)
    assert [f.file for f in kept.failed_files] == ["disease-en-zh.json"]
    # the damage, in numbers: more entities, many of them named only in Chinese
    assert entity_count(ws) > entity_count(good) + 100
    assert kept.entities_chinese_only > healthy.entities_chinese_only + 100
    good.close()
    ws.close()


def test_cli_exit_code_and_keep_going(
    tmp_path: Path, slake_kg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kg = copy_kg(slake_kg, tmp_path)
    corrupt_map(kg)
    Workspace.init(tmp_path / "ws").close()
    args = ["kg", "import", str(kg), "--no-index", "-w", str(tmp_path / "ws")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "disease-en-zh.json: could not be read" in err and "--keep-going" in err
    assert main([*args, "--keep-going"]) == 0
    out = capsys.readouterr().out
    assert "FAILED FILE disease-en-zh.json" in out
    assert "only a Chinese name" in out


def test_wrong_delimiter_file_fails_but_a_few_bad_rows_do_not(
    tmp_path: Path, slake_kg: Path
) -> None:
    kg = copy_kg(slake_kg, tmp_path)
    organ = kg / "en_organ.csv"
    organ.write_text(organ.read_text(encoding="utf-8").replace("#", "\t"), encoding="utf-8")
    ws = Workspace.init(tmp_path / "ws")
    with pytest.raises(InputError, match=r"en_organ.csv: nothing usable: all \d+ rows rejected"):
        import_kg(ws, kg, "slake")
    ws.close()

    kg2 = copy_kg(slake_kg, tmp_path / "two")
    disease = kg2 / "en_disease.csv"
    lines = disease.read_text(encoding="utf-8").splitlines()
    lines[5] = "a row with no separator at all"
    disease.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws2 = Workspace.init(tmp_path / "ws2")
    report = import_kg(ws2, kg2, "slake")  # one bad row: a reject, not a failed file
    assert report.failed_files == []
    assert [r.source for r in report.rejects] == ["en_disease.csv:6"]
    ws2.close()
