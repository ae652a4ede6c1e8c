"""Real SLAKE data end to end: ``ingest`` (train, English, contexts derived from the annotations),
then ``medsynth ground --limit 24`` into the real SLAKE KG with the embedded GGUF model (every role
at its default); and stage-1 coverage of SLAKE's own annotations.

SmolLM2-135M names entities badly and agrees too readily: the test checks the pipeline (every
record grounded or rejected with a reason, counts that add up, provenance), not the quality.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from medsynth.cli import main
from medsynth.config import CONFIG_FILE, write_config
from medsynth.ground import exact_coverage_slake
from medsynth.ground.plausible import MentionRules
from medsynth.ingest import ingest
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.workspace import Workspace
from tests.conftest import shared_path

pytestmark = pytest.mark.slow
RECORDS = 24


@pytest.fixture(scope="module")
def slake_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = shared_path("slake")
    ws = Workspace.init(tmp_path_factory.mktemp("ground_slake") / "ws")
    import_kg(ws, root / "KG", "slake")
    link_entity_images(ws, root / "imgs", "slake-detection")
    build_indexes(ws)
    ws.config.ground.top_k = 3  # three verifier calls at most per unmatched mention: keeps it fast
    ws.config.ground.max_tokens = 48
    write_config(ws.root / CONFIG_FILE, ws.config)
    ingest(ws, root, "slake", filters=False)
    with ws.db.conn:  # keep the first RECORDS images: the small model takes ~2 s a record
        ws.db.execute(
            "DELETE FROM records WHERE id NOT IN (SELECT id FROM records ORDER BY id LIMIT ?)",
            [RECORDS],
        )
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def grounded(slake_ws: Workspace) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["ground", "--limit", str(RECORDS), "-w", str(slake_ws.root), "--json"]) == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_every_record_is_grounded_or_rejected_with_a_reason(
    slake_ws: Workspace, grounded: dict[str, Any]
) -> None:
    run = grounded["run"]
    assert run["records"] == RECORDS
    assert run["grounded"] + run["rejected"] == RECORDS
    assert run["extraction_with_image"] is False  # SmolLM2 has no vision projector
    db = slake_ws.db
    ids = [r[0] for r in db.execute("SELECT id FROM records")]
    for record_id in ids:
        matches = db.execute(
            "SELECT count(*) FROM matches WHERE record_id = ?", [record_id]
        ).fetchone()[0]
        reasons = [
            r[0]
            for r in db.execute(
                "SELECT reason FROM rejects WHERE stage = 'ground' AND source = ?",
                [f"record {record_id}"],
            )
        ]
        assert matches == 2 or (matches == 0 and reasons and all(reasons)), record_id
    for row in db.query("SELECT * FROM extractions"):
        call = next(db.query("SELECT * FROM llm_calls WHERE id = ?", [row["call_id"]]))
        assert call["role"] == "vision_generator" and call["backend"] == "llamacpp"
        assert json.loads(call["image_hashes"]) == []
    rules = MentionRules()
    for row in db.query("SELECT * FROM matches WHERE stage = 'fuzzy'"):
        verified = [c for c in json.loads(row["candidates"]) if c["verified"]]
        assert [c["entity_id"] for c in verified] == [row["entity_id"]]
        assert verified[0]["call_id"] is not None
        assert not verified[0]["below_floor"]
        assert rules.shape(row["mention"]) is None, row["mention"]  # never a sentence
    for row in db.query("SELECT * FROM matches WHERE stage IN ('fuzzy', 'unmatched')"):
        for c in json.loads(row["candidates"]):  # nothing under the floor was asked
            assert c["call_id"] is None or not c["below_floor"], (row["mention"], c)
    for row in db.query("SELECT * FROM matches WHERE stage = 'refused'"):
        reason = db.execute(
            "SELECT reason FROM rejects WHERE stage = 'ground mention' AND source = ?",
            [f"record {row['record_id']} {row['kind']}"],
        ).fetchone()
        assert reason and reason[0].startswith(("plausibility: ", "exact: ")), row
    matched = db.execute(
        "SELECT count(DISTINCT record_id) FROM matches WHERE entity_id IS NOT NULL"
    ).fetchone()[0]
    with_triples = db.execute("SELECT count(DISTINCT record_id) FROM record_triples").fetchone()[0]
    assert with_triples == matched


def test_report_adds_up(grounded: dict[str, Any]) -> None:
    report = grounded["report"]
    print("\nSLAKE grounding report:", json.dumps(report["overall"], indent=1))
    for block in [*report["datasets"], report["overall"]]:
        processed = block["records_processed"]
        assert processed == RECORDS
        assert block["records_pending"] == 0
        assert block["records_grounded"] + block["records_rejected"] == processed
        for kind, row in block["kinds"].items():
            assert row["exact"] + row["fuzzy"] + row["unmatched"] == processed, kind
            assert sum(row["unmatched_detail"].values()) == row["unmatched"], kind
        mentions = block["mentions"]
        assert mentions["exact"] + mentions["fuzzy"] + mentions["unmatched"] == mentions["total"]
        assert sum(block["reject_reasons"].values()) == block["records_rejected"]
        refused = block["refused"]
        assert list(refused) == ["plausibility", "exact", "fuzzy floor", "verifier"]
        for row in refused.values():
            assert sum(row["reasons"].values()) == row["refused"]
        assert (
            refused["plausibility"]["refused"] + refused["exact"]["refused"]
            == (mentions["refused"])
        )
    assert [b["dataset"] for b in report["datasets"]] == ["slake-train-en"]


def test_rerun_makes_no_model_calls(slake_ws: Workspace, grounded: dict[str, Any]) -> None:
    before = slake_ws.db.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["ground", "-n", str(RECORDS), "-w", str(slake_ws.root), "--json"]) == 0
    assert slake_ws.db.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == before


def test_exact_stage_coverage_of_slake_annotations(slake_ws: Workspace) -> None:
    coverage = exact_coverage_slake(slake_ws, shared_path("slake"))
    print("\nSLAKE exact-stage coverage:", json.dumps(coverage["overall"]))
    assert coverage["images"] == 514
    detection, location = coverage["detection"], coverage["location"]
    assert (detection["distinct"], detection["distinct_matched"]) == (44, 21)
    assert "Left Kidney" in detection["unmatched"]  # side-specific labels need the fuzzy stage
    assert location["distinct_matched"] == 2  # Lung, Brain; Abdomen, Chest_lung... are regions
    assert 45.0 <= coverage["overall"]["percent"] <= 65.0
    assert 50.0 <= detection["percent"] <= 70.0
