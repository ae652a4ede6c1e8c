"""The read-only query modules the TUI reads the workspace through (``medsynth/*/queries.py``), on
a real SQLite workspace: the tiny KG with entity images, five grounded records, samples, eval and
training runs written straight into their tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.eval import queries as eval_q
from medsynth.ground import queries as ground_q
from medsynth.kg import queries as kg_q
from medsynth.store.runs import record_reject, utc_now
from medsynth.synth import queries as synth_q
from medsynth.train import queries as train_q
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record
from tests.fakes.synth import make_kg, make_records


@pytest.fixture
def grounded(tmp_path: Path) -> Iterator[Workspace]:
    """The tiny KG and five grounded records in a dataset named ``cases``."""
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 5)
    yield ws
    ws.close()


def add_sample(ws: Workspace, record_id: int, n: int, status: str = "kept") -> int:
    with ws.db.conn:
        cursor = ws.db.conn.execute(
            "INSERT INTO samples (task_key, position, record_id, generator, sample_type, "
            "question, answer, path_entities, template, template_version, seed, status, "
            "created_at) VALUES (?, 0, ?, 'multihop', 'qa', ?, 'A.', ?, 'multihop', '1', 0, ?, ?)",
            [f"t{n}", record_id, f"question {n}?", json.dumps(["Lung"]), status, utc_now()],
        )
    return int(cursor.lastrowid or 0)


# ground: datasets, records, matches ---------------------------------------------------------


def test_datasets_records_and_match_counts(grounded: Workspace, tmp_path: Path) -> None:
    ws = grounded
    other = add_dataset(ws, "another", tmp_path / "other")
    add_record(ws, other, ["x.png"], "ungrounded", status="kept")
    add_record(ws, other, ["y.png"], "filtered", key="y", status="filtered")
    rows = ground_q.datasets(ws.db)
    assert [(r.name, r.kept, r.total, r.pending) for r in rows] == [
        ("another", 1, 2, 1),
        ("cases", 5, 5, 0),
    ]
    assert ground_q.dataset_names(ws.db) == ["another", "cases"]
    assert ground_q.dataset_names(ws.db, limit=1) == ["another"]
    cases = rows[1].id
    counts = ground_q.match_counts(ws.db, cases)
    assert set(counts) == {"disease", "organ"}
    assert sum(counts["disease"].values()) == 5 and set(counts["organ"]) == set(ground_q.STAGES)
    assert ground_q.match_counts(ws.db, other) == {}
    records = ground_q.records(ws.db, cases, limit=3)
    assert len(records) == 3 and all(len(r) == 5 for r in records)
    assert records[0][2:] == ("kept", "exact", "exact")
    assert ground_q.records(ws.db, other)[0][3:] == ("-", "-")


def test_record_view_and_refusals(grounded: Workspace, tmp_path: Path) -> None:
    ws = grounded
    record_id = ws.db.execute("SELECT min(id) FROM records").fetchone()[0]
    with ws.db.conn:
        source = f"record {record_id} organ"
        record_reject(
            ws.db, stage="ground mention", source=source, raw="", reason="no", run_id=None
        )
        record_reject(
            ws.db,
            stage="ground mention",
            source=source,
            raw="",
            reason="not plausible",
            run_id=None,
        )
        record_reject(ws.db, stage="ingest", source="x.txt", raw="", reason="no image", run_id=None)
        ws.db.execute(
            "UPDATE matches SET stage = 'unmatched', entity_id = NULL WHERE record_id = ? "
            "AND kind = 'organ'",
            [record_id],
        )
    view = ground_q.record_view(ws.db, record_id)
    assert view is not None
    assert view.image == (tmp_path / "data" / "0.png").resolve() and view.image_error == ""
    assert view.extraction == ("Lung Cancer", "Lung")
    by_kind = {m["kind"]: m for m in view.matches}
    assert by_kind["disease"]["entity"] == "Lung Cancer" and by_kind["disease"]["refusal"] == ""
    # the newest refusal of the mention
    assert by_kind["organ"]["refusal"] == "not plausible" and by_kind["organ"]["entity"] is None
    assert ("Lung Cancer", "location", "Lung") in view.triples
    assert ground_q.record_view(ws.db, 10_000) is None
    rejects = ground_q.rejects(ws.db)
    assert [(r.stage, r.reason) for r in rejects] == [
        ("ingest", "no image"),
        ("ground mention", "not plausible"),
        ("ground mention", "no"),
    ]
    assert len(ground_q.rejects(ws.db, limit=1)) == 1


def test_record_view_refuses_an_image_outside_the_root(grounded: Workspace) -> None:
    ws = grounded
    record_id = ws.db.execute("SELECT min(id) FROM records").fetchone()[0]
    with ws.db.conn:
        ws.db.execute("UPDATE records SET images = ? WHERE id = ?", ['["../x.png"]', record_id])
    view = ground_q.record_view(ws.db, record_id)
    assert view is not None and view.image is None
    assert "escapes the dataset root" in view.image_error
    with pytest.raises(InputError):
        ground_q.resolve_image("/data", "/etc/passwd")


def test_kept_record_images(grounded: Workspace, tmp_path: Path) -> None:
    ws = grounded
    images = ground_q.kept_record_images(ws.db, limit=2)
    assert len(images) == 2
    label, path = images[0]
    assert label.startswith("1 cases: case-000") and path == str(tmp_path / "data" / "0.png")


# kg: search and one entity ------------------------------------------------------------------


def test_search_entities_and_entity_view(grounded: Workspace) -> None:
    ws = grounded
    hits = kg_q.search_entities(ws.db, "lung")
    assert hits[0].name == "Lung"  # the exact match first
    assert {"Lung Cancer", "Lung"} <= {h.name for h in hits}
    assert [h.name for h in kg_q.search_entities(ws.db, "bronchial carcinoma")] == ["Lung Cancer"]
    assert kg_q.search_entities(ws.db, "50%_") == []  # LIKE wildcards are literal
    assert len(kg_q.search_entities(ws.db, "", limit=3)) == 3
    lung = hits[0]
    assert lung.triples == 1 and lung.images == 1
    view = kg_q.entity_view(ws.db, ws.root, lung.id, "en")
    assert view is not None and view.name == "Lung" and view.type == "organ"
    assert view.triples[0] == ("Lung", "belong to", "Respiratory System")
    assert ("Lung Cancer", "location", "Lung") in view.triples  # incoming after outgoing
    assert len(view.images) == 1 and view.images[0].is_file()
    cancer = next(h for h in hits if h.name == "Lung Cancer")
    cancer_view = kg_q.entity_view(ws.db, ws.root, cancer.id, "en")
    assert cancer_view is not None and cancer_view.aliases == ["bronchial carcinoma"]
    assert kg_q.entity_view(ws.db, ws.root, 10_000, "en") is None


# synth: samples -----------------------------------------------------------------------------


def test_sample_queries(grounded: Workspace) -> None:
    ws = grounded
    record_id = ws.db.execute("SELECT min(id) FROM records").fetchone()[0]
    assert synth_q.newest_sample_id(ws.db) == 0
    ids = [add_sample(ws, record_id, n, "kept" if n % 2 else "rejected") for n in range(6)]
    assert synth_q.newest_sample_id(ws.db) == ids[-1]
    latest = synth_q.latest_samples(ws.db, None, limit=3)
    assert [r.id for r in latest] == ids[3:]  # the newest, oldest first
    assert [r.id for r in synth_q.latest_samples(ws.db, "kept")] == ids[1::2]
    new = synth_q.new_samples(ws.db, ids[1], "rejected", limit=1)
    assert new == [synth_q.SampleRow(ids[2], "multihop", "qa", "rejected", "question 2?")]
    assert synth_q.sample_statuses(ws.db, [ids[0], ids[1], 10_000]) == {
        ids[0]: "rejected",
        ids[1]: "kept",
    }
    detail = synth_q.sample_detail(ws.db, ids[0])
    assert detail is not None and detail["question"] == "question 0?"
    assert json.loads(detail["record_images"]) == ["0.png"] and detail["dataset_root"]
    assert synth_q.sample_detail(ws.db, 10_000) is None


# eval and train runs ------------------------------------------------------------------------


def test_eval_run_queries(ws: Workspace) -> None:
    metrics = {"overall": {"n": 2, "average": 50.0}}
    with ws.db.conn:
        for n, (dataset, status) in enumerate((("slake", "done"), ("vqa-rad", "partial"))):
            ws.db.execute(
                "INSERT INTO eval_runs (key, name, dataset, split, model_spec, status, "
                "questions, data_file, metrics) VALUES (?, ?, ?, 'test', ?, ?, 2, ?, ?)",
                [
                    f"k{n}",
                    "first" if n == 0 else None,
                    dataset,
                    json.dumps({"spec": "llamacpp:embedded"}),
                    status,
                    f"/data/{dataset}.json",
                    json.dumps(metrics) if n == 0 else None,
                ],
            )
    runs = eval_q.eval_run_list(ws.db)
    assert [r["dataset"] for r in runs] == ["vqa-rad", "slake"]
    assert runs[1]["metrics"] == metrics and runs[0]["metrics"] is None
    assert runs[1]["model_spec"] == "llamacpp:embedded"
    assert len(eval_q.eval_run_list(ws.db, limit=1)) == 1
    first = eval_q.eval_run_metrics(ws.db, runs[1]["id"])
    assert first is not None and first.metrics == metrics
    assert first.summary() == f"eval run {first.id} (first): slake test, 2 q, done"
    assert eval_q.eval_run_metrics(ws.db, 10_000) is None
    assert eval_q.known_paths(ws.db) == {
        "vqa-rad": "/data/vqa-rad.json",
        "slake": "/data/slake.json",
    }


def test_train_run_queries(ws: Workspace) -> None:
    with ws.db.conn:
        for n, status in enumerate(("ok", "failed", "ok")):
            ws.db.execute(
                "INSERT INTO train_runs (name, kind, status, base_model, output_dir, "
                "estimate_bytes, started_at) VALUES (?, 'sft', ?, ?, ?, 1024, ?)",
                [f"run{n}", status, f"/m/base{n}", f"/runs/run{n}", utc_now()],
            )
        for step in (2, 1, 3):
            ws.db.execute(
                "INSERT INTO train_steps (train_run_id, step, loss) VALUES (1, ?, ?)",
                [step, 1.0 / step],
            )
    runs = train_q.recent_train_runs(ws.db)
    assert [(r["name"], r["step"]) for r in runs] == [("run2", None), ("run1", None), ("run0", 3)]
    assert runs[0]["estimate_bytes"] == 1024
    assert len(train_q.recent_train_runs(ws.db, limit=2)) == 2
    steps = train_q.run_steps(ws.db, 1)
    assert [s["step"] for s in steps] == [1, 2, 3] and steps[1]["loss"] == 0.5
    assert steps[0]["reward"] is None
    assert train_q.run_steps(ws.db, 1, limit=1) == [{"step": 1, "loss": 1.0, "reward": None}]
    run = train_q.train_run(ws.db, 2)
    assert run is not None and run["status"] == "failed" and run["base_model"] == "/m/base1"
    assert train_q.train_run(ws.db, 10_000) is None
    assert train_q.finished_adapters(ws.db) == [
        train_q.Adapter("/m/base2", "/runs/run2"),
        train_q.Adapter("/m/base0", "/runs/run0"),
    ]
