"""medsynth.store.overview: the counts and run list that the CLI and the dashboard share."""

from __future__ import annotations

import json
from pathlib import Path

from medsynth.store.overview import (
    blinded_counts,
    dataset_contexts,
    first_kept_samples,
    image_use_counts,
    recent_runs,
    record_matches,
    reject_rows,
    sample_counts,
    sample_rows,
    workspace_counts,
)
from medsynth.store.runs import RunRecorder, record_reject
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png


def test_counts_and_runs(ws: Workspace, tmp_path: Path) -> None:
    empty = workspace_counts(ws.db)
    assert empty["entities"] == 0 and empty["datasets"] == [] and empty["samples"] == {}
    dataset_id = add_dataset(ws, "scans", tmp_path)
    png(tmp_path / "a.png", seed=1)
    add_record(ws, dataset_id, ["a.png"], "one")
    add_record(ws, dataset_id, ["a.png"], "two", key="b", status="filtered")
    for command in ("ingest", "ground"):
        with RunRecorder(ws.db, command, {}):
            pass
    counts = workspace_counts(ws.db)
    assert counts["datasets"] == [("scans", 1, 2)]
    assert counts["grounded"] == 0 and sample_counts(ws.db) == {}
    runs = recent_runs(ws.db, 5)
    assert [r["command"] for r in runs] == ["ground", "ingest"]
    assert runs[0]["status"] == "ok" and "resumed_by" in runs[0]


def test_rejects_and_samples_as_the_cli_lists_them(ws: Workspace, tmp_path: Path) -> None:
    for stage, source in (("ingest", "a.txt"), ("ground", "b"), ("ingest", "c.txt")):
        record_reject(ws.db, stage=stage, source=source, raw="x", reason="bad", run_id=None)
    assert [r["source"] for r in reject_rows(ws.db)] == ["a.txt", "b", "c.txt"]
    assert [r["source"] for r in reject_rows(ws.db, "ingest", limit=1)] == ["a.txt"]
    assert set(reject_rows(ws.db)[0]) == {"id", "run_id", "stage", "source", "reason", "raw"}
    record_id = add_record(ws, add_dataset(ws, "scans", tmp_path), ["a.png"], "one")
    with ws.db.conn:
        for n, (generator, status) in enumerate(
            (("vqa", "kept"), ("caption", "kept"), ("vqa", "rejected"), ("vqa", "kept"))
        ):
            ws.db.table("samples").insert(
                {"task_key": f"t{n}", "position": 0, "record_id": record_id,
                 "generator": generator, "sample_type": "q", "question": f"q{n}", "answer": "a",
                 "template": generator, "template_version": "1", "seed": 0, "status": status,
                 "created_at": "2026-01-01T00:00:00Z"}
            )  # fmt: skip
    assert [r["question"] for r in sample_rows(ws.db, "kept")] == ["q0", "q1", "q3"]
    assert [r["question"] for r in sample_rows(ws.db, "kept", "vqa", limit=1)] == ["q0"]
    assert [r["question"] for r in sample_rows(ws.db, "rejected")] == ["q2"]


def test_kept_samples_by_whether_a_call_saw_the_image(ws: Workspace, tmp_path: Path) -> None:
    record_id = add_record(ws, add_dataset(ws, "scans", tmp_path), ["a.png"], "one")
    with ws.db.conn:
        calls = ws.db.table("llm_calls")
        seen = calls.insert({"image_hashes": '["file-sha256:ab"]'}, alter=False).last_pk
        blind = calls.insert({"image_hashes": "[]"}, alter=False).last_pk
        rows = [  # generator, status, call ids, meta
            ("describe", "kept", [seen], "{}"),
            ("describe", "kept", [blind], '{"blinded": true}'),
            ("hardneg", "kept", [], "{}"),
            ("describe", "rejected", [seen], "{}"),
        ]
        for n, (generator, status, call_ids, meta) in enumerate(rows):
            ws.db.table("samples").insert(
                {"task_key": f"t{n}", "position": 0, "record_id": record_id,
                 "generator": generator, "sample_type": "q", "question": f"q{n}", "answer": "a",
                 "template": generator, "template_version": "1", "seed": 0, "status": status,
                 "created_at": "2026-01-01T00:00:00Z", "call_ids": json.dumps(call_ids),
                 "meta": meta}
            )  # fmt: skip
    assert image_use_counts(ws.db) == {
        "describe": {"with_image": 1, "text_only": 1},
        "hardneg": {"with_image": 0, "text_only": 1},
    }
    assert blinded_counts(ws.db) == {"describe": 1}


def test_records_of_a_dataset_and_what_grounding_matched(ws: Workspace, tmp_path: Path) -> None:
    demo = add_dataset(ws, "demo", tmp_path)
    other = add_dataset(ws, "scans", tmp_path / "other")
    first = add_record(ws, demo, ["a.png"], "one")
    add_record(ws, other, ["a.png"], "elsewhere")
    second = add_record(ws, demo, ["b.png"], "two", status="filtered")
    assert dataset_contexts(ws.db, "demo") == [(first, "one"), (second, "two")]
    assert dataset_contexts(ws.db, "missing") == []
    with ws.db.conn:
        entity = (
            ws.db.table("entities")
            .insert({"name": "Pneumonia", "norm": "pneumonia", "type": "disease", "language": "en"})
            .last_pk
        )
        for kind, mention, stage, entity_id in (
            ("disease", "pneumonia", "exact", entity),
            ("organ", "lung", "unmatched", None),
        ):
            ws.db.table("matches").insert(
                {"record_id": first, "kind": kind, "mention": mention, "stage": stage,
                 "entity_id": entity_id, "created_at": "2026-01-01T00:00:00Z"}
            )  # fmt: skip
    assert sorted(record_matches(ws.db, first)) == [
        ("disease", "pneumonia", "exact", "Pneumonia"),
        ("organ", "lung", "unmatched", None),
    ]
    assert record_matches(ws.db, second) == []


def test_first_kept_sample_of_each_generator(ws: Workspace, tmp_path: Path) -> None:
    assert first_kept_samples(ws.db) == []
    record_id = add_record(ws, add_dataset(ws, "scans", tmp_path), ["a.png"], "one")
    rows = [("vqa", "rejected"), ("caption", "kept"), ("vqa", "kept"), ("vqa", "kept")]
    with ws.db.conn:
        for n, (generator, status) in enumerate(rows):
            ws.db.table("samples").insert(
                {"task_key": f"t{n}", "position": 0, "record_id": record_id,
                 "generator": generator, "sample_type": "q", "question": f"q{n}", "answer": "a",
                 "template": generator, "template_version": "1", "seed": 0, "status": status,
                 "created_at": "2026-01-01T00:00:00Z", "model": "tiny"}
            )  # fmt: skip
    examples = first_kept_samples(ws.db)
    assert [(e["generator"], e["question"]) for e in examples] == [("caption", "q1"), ("vqa", "q2")]
    assert set(examples[0]) == {
        "generator", "sample_type", "question", "answer", "key_answer", "path_entities",
        "template", "template_version", "model",
    }  # fmt: skip
