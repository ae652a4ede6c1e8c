"""Storing parsed KGs: entity resolution, types, aliases, dedup, rejects, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace
from tests.conftest import write

KG = (
    "head\trelation\ttail\thead_type\ttail_type\n"
    "Lung\tbelong to\tRespiratory System\t\t\n"
    "Lung Cancer\tlocation\tLung\t\t\n"
    "Lung Cancer\tsymptom\tcough, chest pain\t\t\n"
    "Lung cancers\ttreatment\tsurgery\t\t\n"  # spelling variant of the same entity
    "Lung Cancer\talias\tbronchial carcinoma, lung carcinoma\t\t\n"
    "Lung Cancer\tsymptom\tcough, chest pain\t\t\n"  # exact duplicate of line 4
    "Respiratory System\tfunction\tbreathing\t\t\n"
)


def entity(ws: Workspace, name: str) -> dict[str, object]:
    return next(ws.db.query("SELECT * FROM entities WHERE name = ?", [name]))


def test_entities_types_aliases_and_duplicates(ws: Workspace, tmp_path: Path) -> None:
    report = import_kg(ws, write(tmp_path / "kg.tsv", KG), "triples")
    assert report.triples_new == 6
    assert report.duplicates == [
        {
            "source": "kg.tsv:7",
            "duplicate_of": "kg.tsv:4",
            "triple": "Lung Cancer | symptom | cough, chest pain",
        }
    ]
    assert entity(ws, "Lung")["type"] == "organ"
    assert entity(ws, "Respiratory System")["type"] == "system"
    assert entity(ws, "Lung Cancer")["type"] == "disease"
    assert ws.db.table("entities").count == 3  # 'Lung cancers' merged into 'Lung Cancer'
    treatment = next(ws.db.query("SELECT * FROM triples WHERE relation = 'treatment'"))
    assert treatment["head"] == "Lung cancers"
    assert treatment["head_id"] == entity(ws, "Lung Cancer")["id"]
    location = next(ws.db.query("SELECT * FROM triples WHERE relation = 'location'"))
    assert location["tail_id"] == entity(ws, "Lung")["id"]
    aliases = {row["alias"] for row in ws.db.query("SELECT alias FROM aliases")}
    assert aliases == {"bronchial carcinoma", "lung carcinoma"}


def test_reimport_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "kg.tsv", KG)
    import_kg(ws, path, "triples")
    snapshot = {
        t: list(ws.db.query(f"SELECT * FROM {t} ORDER BY id"))
        for t in ("entities", "triples", "aliases")
    }
    again = import_kg(ws, path, "triples")
    assert again.triples_new == 0
    assert again.triples_already_present == 6
    assert again.entities_new == 0
    assert again.aliases_new == 0
    for table, rows in snapshot.items():
        assert list(ws.db.query(f"SELECT * FROM {table} ORDER BY id")) == rows


def test_bad_rows_become_rejects_and_the_rest_lands(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "kg.csv", b"head,relation,tail\nA,r,x\nB,r\n,r,y\nC,r,\xff\n")
    report = import_kg(ws, path, "triples")
    assert report.triples_new == 1
    rejects = list(ws.db.query("SELECT stage, source, reason, run_id FROM rejects ORDER BY source"))
    assert [(r["stage"], r["source"]) for r in rejects] == [
        ("kg import", "kg.csv:3"),
        ("kg import", "kg.csv:4"),
        ("kg import", "kg.csv:5"),
    ]
    assert all(r["run_id"] for r in rejects)
    # the same bad rows imported again are not stored twice
    import_kg(ws, path, "triples")
    assert ws.db.table("rejects").count == 3
    run = next(ws.db.query("SELECT * FROM runs ORDER BY id LIMIT 1"))
    assert run["command"] == "kg import"
    assert run["status"] == "ok"
    assert '"medsynth"' in run["versions"]


def test_strict_import_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "kg.csv", "head,relation,tail\nA,r,x\nB,r\n")
    with pytest.raises(InputError, match="1 bad row") as info:
        import_kg(ws, path, "triples", strict=True)
    assert info.value.source == "kg.csv:3"
    assert ws.db.table("triples").count == 0
    assert ws.db.table("entities").count == 0
    run = next(ws.db.query("SELECT * FROM runs"))
    assert run["status"] == "failed"


def test_chinese_triples_resolve_through_name_map(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "KG"
    write(folder / "en_disease.csv", "disease#attribute#value\nFlu#location#Lung\n")
    write(folder / "en_organ_rel.csv", "organ#attribute#value\nLung#belong to#Respiratory System\n")
    write(folder / "disease.csv", "disease,relation,object\n流感,发病部位,肺\n")
    write(folder / "disease-en-zh.json", '{"Flu": "流感"}')
    write(folder / "organ-en-zh.json", '{"Lung": "肺"}')
    import_kg(ws, folder, "slake")
    zh = next(ws.db.query("SELECT * FROM triples WHERE language = 'zh'"))
    assert zh["head_id"] == entity(ws, "Flu")["id"]
    assert zh["relation"] == "location"
    assert zh["tail_id"] == entity(ws, "Lung")["id"]
    assert ws.db.table("entities").count == 3
