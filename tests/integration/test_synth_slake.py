"""Every generator with the real embedded GGUF model (SmolLM2-135M via llama.cpp) on real SLAKE
records: ingested from ../shared/data, grounded from SLAKE's own detection labels (so the test
does not depend on the small model's extraction), KG = SLAKE's KG with its entity images.

The model is medically poor: the tests check the pipeline with a real model (tasks end as samples
or as rejects with reasons, provenance, the call log), not the medicine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from medsynth.config import SynthConfig
from medsynth.ingest import ingest
from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.service import import_kg, link_entity_images
from medsynth.synth.service import load_models, synthesize
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.fakes.synth import ground_record

pytestmark = pytest.mark.slow
OPTIONS = SynthConfig(
    multihop_per_record=1,
    reasoning_questions=1,
    reasoning_rois=1,
    reasoning_knowledge=1,
    max_tokens=200,
    reformat_max_tokens=320,
    allow_blind=True,  # the embedded SmolLM2 reads text only: describe / instruct are blinded
)


@pytest.fixture(scope="module")
def slake_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = shared_path("slake")
    ws = Workspace.init(tmp_path_factory.mktemp("synth_slake") / "ws")
    import_kg(ws, root / "KG", "slake")
    link_entity_images(ws, root / "imgs", "slake-detection")
    ingest(ws, root, "slake", split="train")
    matcher = ExactMatcher(ws.db)
    chosen = 0
    for record_id, meta in ws.db.execute("SELECT id, meta FROM records ORDER BY id").fetchall():
        labels = [b["label"] for b in json.loads(meta)["boxes"]]
        disease = next((x for x in labels if matcher.match(x, "disease")), None)
        organ = next((x for x in labels if matcher.match(x, "organ")), None)
        if disease and organ:
            ground_record(ws, record_id, disease, organ)
            chosen += 1
            if chosen == 2:
                break
    assert chosen == 2
    ws.models = load_models(ws, {"generator", "vision_generator", "verifier"})  # type: ignore[attr-defined]
    yield ws
    ws.close()


def run(ws: Workspace, *generators: str) -> dict[str, int]:
    report = synthesize(ws, list(generators), options=OPTIONS, models=ws.models)  # type: ignore[attr-defined]
    return {g: report.tasks[g] + report.tasks_failed[g] for g in generators}


def rows(ws: Workspace, generator: str) -> list[dict]:
    return list(ws.db.query("SELECT * FROM samples WHERE generator = ?", [generator]))


def failures(ws: Workspace, generator: str) -> list[tuple[str, str]]:
    return ws.db.execute(
        "SELECT task_key, reason FROM synth_tasks WHERE generator = ? AND status = 'failed'",
        [generator],
    ).fetchall()


@pytest.mark.parametrize("generator", ["multihop", "describe", "instruct", "reasoning"])
def test_model_generators_end_in_samples_or_reasons(slake_ws: Workspace, generator: str) -> None:
    if generator == "instruct":
        run(slake_ws, "describe")  # instruct reads describe's call from the log
    ran = run(slake_ws, generator)
    samples, failed = rows(slake_ws, generator), failures(slake_ws, generator)
    assert ran[generator] == 2  # 2 records, 1 task each
    assert len({s["task_key"] for s in samples}) + len(failed) == 2
    for sample in samples:
        assert sample["model"].startswith("llamacpp:SmolLM2-135M")
        assert sample["template"].startswith("synth_") and sample["template_version"]
        assert json.loads(sample["call_ids"])
        assert sample["status"] in ("kept", "rejected", "duplicate")
        assert sample["status"] == "kept" or sample["reason"]
        assert json.loads(sample["images"])[0].endswith("source.jpg")
        if generator in ("describe", "instruct"):
            assert json.loads(sample["meta"])["blinded"] is True
    for _task, reason in failed:
        assert "schema" in reason or "failed" in reason
    calls = slake_ws.db.execute(
        "SELECT count(*) FROM llm_calls WHERE template LIKE 'synth_%' AND status IN "
        "('ok', 'invalid')"
    ).fetchone()[0]
    assert calls > 0
    if generator == "reasoning":
        for sample in samples:
            meta = json.loads(sample["meta"])
            assert meta["question_source"] == "dataset" and meta["roi"]["variant"] == "box"
            assert sample["answer"].endswith(f"<ANS>{sample['ground_truth']}</ANS>")


def test_hardneg_and_keyanswer(slake_ws: Workspace) -> None:
    run(slake_ws, "hardneg")
    negatives = rows(slake_ws, "hardneg")
    assert len(negatives) == 4  # m = 2 per record
    grounded = {
        name
        for (name,) in slake_ws.db.execute(
            "SELECT e.name FROM matches m JOIN entities e ON e.id = m.entity_id "
            "WHERE m.kind = 'disease'"
        )
    }
    assert all(json.loads(n["meta"])["negative"] not in grounded for n in negatives)
    run(slake_ws, "multihop")
    kept = [r for r in rows(slake_ws, "multihop") if r["status"] == "kept"]
    run(slake_ws, "keyanswer")
    assert len(rows(slake_ws, "keyanswer")) + len(failures(slake_ws, "keyanswer")) == len(kept)
