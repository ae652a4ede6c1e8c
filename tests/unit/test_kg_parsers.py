"""Parsing of SLAKE and generic triple files, and every kind of bad row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.kg.slake import parse_slake
from medsynth.kg.triples import parse_triples
from tests.conftest import write


def slake_folder(tmp_path: Path, disease: str | bytes, organ_rel: str = "") -> Path:
    folder = tmp_path / "KG"
    write(folder / "en_disease.csv", disease)
    if organ_rel:
        write(folder / "en_organ_rel.csv", organ_rel)
    return folder


def test_slake_rows_types_and_sources(tmp_path: Path) -> None:
    folder = slake_folder(
        tmp_path,
        "disease#attribute#value\nFlu#location#Lung\nFlu#symptom#fever, cough\n",
        "organ#attribute#value\nLung#belong to#Respiratory System\n",
    )
    parsed = parse_slake(folder)
    assert parsed.files == ["en_organ_rel.csv", "en_disease.csv"]
    assert [(t.head, t.relation, t.tail) for t in parsed.triples] == [
        ("Lung", "belong to", "Respiratory System"),
        ("Flu", "location", "Lung"),
        ("Flu", "symptom", "fever, cough"),
    ]
    assert parsed.triples[1].source == "en_disease.csv:2"
    assert parsed.triples[1].head_type == "disease"
    assert parsed.triples[0].head_type == "organ"
    assert parsed.bad_rows == []


def test_slake_bad_rows_each_kind(tmp_path: Path) -> None:
    content = (
        b"disease#attribute#value\n"
        b"Flu#location\n"  # 2 fields
        b"Flu#location#Lung#extra\n"  # 4 fields
        b"#symptom#fever\n"  # empty head
        b"Flu##fever\n"  # empty relation
        b"Flu#cause#\n"  # empty tail
        b"Flu#cause#\xff\xfe virus\n"  # not UTF-8
        b"Flu#treatment#rest\n"  # good
    )
    parsed = parse_slake(slake_folder(tmp_path, content))
    reasons = {bad.source: bad.reason for bad in parsed.bad_rows}
    assert reasons["en_disease.csv:2"].startswith("expected 3 '#'-separated fields, found 2")
    assert reasons["en_disease.csv:3"].startswith("expected 3 '#'-separated fields, found 4")
    assert reasons["en_disease.csv:4"] == "empty head"
    assert reasons["en_disease.csv:5"] == "empty relation"
    assert reasons["en_disease.csv:6"] == "empty tail"
    assert "undecodable bytes" in reasons["en_disease.csv:7"]
    assert len(parsed.bad_rows) == 6
    assert [(t.head, t.tail, t.source) for t in parsed.triples] == [
        ("Flu", "rest", "en_disease.csv:8")
    ]


def test_slake_chinese_relations_and_name_maps(tmp_path: Path) -> None:
    folder = tmp_path / "KG"
    write(folder / "disease.csv", "disease,relation,object\n流感,发病部位,肺\n流感,主要症状,发热\n")
    write(folder / "disease-en-zh.json", json.dumps({"Flu": "流感"}, ensure_ascii=False))
    parsed = parse_slake(folder)
    assert [(t.relation, t.language) for t in parsed.triples] == [
        ("location", "zh"),
        ("symptom", "zh"),
    ]
    assert [(a.name, a.alias, a.language) for a in parsed.aliases] == [("Flu", "流感", "zh")]


def test_slake_folder_without_kg_files_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path / "notes.txt", "hello")
    with pytest.raises(InputError, match="no SLAKE KG files"):
        parse_slake(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        parse_slake(tmp_path / "missing")


def test_slake_broken_name_map_is_a_bad_row(tmp_path: Path) -> None:
    folder = tmp_path / "KG"
    write(folder / "organ-en-zh.json", "{not json")
    parsed = parse_slake(folder)
    assert len(parsed.bad_rows) == 1
    assert parsed.bad_rows[0].source == "organ-en-zh.json"


def test_triples_tsv_with_types_and_quoting(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kg.csv",
        'head,relation,tail,head_type,tail_type\nFlu,symptom,"fever, cough",disease,\n'
        "Lung,belong to,Respiratory System,organ,system\n",
    )
    parsed = parse_triples(path)
    assert [(t.head, t.tail, t.head_type, t.tail_type) for t in parsed.triples] == [
        ("Flu", "fever, cough", "disease", None),
        ("Lung", "Respiratory System", "organ", "system"),
    ]


def test_triples_bad_rows_each_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kg.tsv",
        b"head\trelation\ttail\thead_type\n"
        b"Flu\tsymptom\tfever\n"  # 3 of 4 fields
        b"\tsymptom\tfever\tdisease\n"  # empty head
        b"Flu\tsymptom\tfever\tillness\n"  # unknown type
        b"Flu\tcause\t\xc3\x28virus\tdisease\n"  # invalid UTF-8
        b"Flu\tcause\tvirus\tdisease\n",
    )
    parsed = parse_triples(path)
    reasons = {bad.source: bad.reason for bad in parsed.bad_rows}
    assert reasons == {
        "kg.tsv:2": "expected 4 fields, found 3",
        "kg.tsv:3": "empty head",
        "kg.tsv:4": "unknown head_type 'illness' (use one of disease, organ, system, other)",
        "kg.tsv:5": reasons["kg.tsv:5"],
    }
    assert "undecodable" in reasons["kg.tsv:5"]
    assert [(t.head, t.tail) for t in parsed.triples] == [("Flu", "virus")]


def test_triples_jsonl_bad_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kg.jsonl",
        '{"head": "Flu", "relation": "symptom", "tail": "fever", "language": "en"}\n'
        "{broken\n"
        '["Flu", "symptom", "fever"]\n'
        '{"head": "Flu", "relation": "", "tail": "x"}\n',
    )
    parsed = parse_triples(path)
    assert len(parsed.triples) == 1
    reasons = [bad.reason for bad in parsed.bad_rows]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "expected a JSON object with head, relation, tail"
    assert reasons[2] == "empty relation"


def test_triples_header_must_name_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "kg.csv", "a,b,c\nFlu,symptom,fever\n")
    with pytest.raises(InputError, match="header row lacks"):
        parse_triples(path)


def test_triples_folder_reads_every_triple_file(tmp_path: Path) -> None:
    write(tmp_path / "kg" / "a.csv", "head,relation,tail\nA,r,x\n")
    write(tmp_path / "kg" / "b.jsonl", '{"head": "B", "relation": "r", "tail": "y"}\n')
    write(tmp_path / "kg" / "readme.md", "ignored")
    parsed = parse_triples(tmp_path / "kg")
    assert parsed.files == ["a.csv", "b.jsonl"]
    assert len(parsed.triples) == 2


def test_crlf_and_bom_are_handled(tmp_path: Path) -> None:
    path = write(tmp_path / "kg.csv", b"\xef\xbb\xbfhead,relation,tail\r\nFlu,symptom,fever\r\n")
    parsed = parse_triples(path)
    assert [(t.head, t.tail) for t in parsed.triples] == [("Flu", "fever")]
