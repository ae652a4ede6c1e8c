"""Each generator's logic with a scripted model: paths chosen, templates filled, negatives never a
grounded disease, m and k honoured, scenarios dealt evenly, augmentation counts, checks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.config import SynthConfig
from medsynth.synth.interpret import GUIDES
from medsynth.synth.pubmedvision import ALIGN_MULTI, ALIGN_SINGLE, SCENARIOS
from medsynth.synth.reasoning import stages_of
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.records import add_record, png
from tests.fakes.synth import ground_record, make_kg, make_records, reply


def models(fn: Any = reply) -> dict[str, Any]:
    model = ScriptedChat(fn)
    return {"generator": model, "vision_generator": model, "verifier": model}


def samples(ws: Workspace, generator: str, status: str | None = "kept") -> list[dict[str, Any]]:
    rows = list(
        ws.db.query(
            "SELECT * FROM samples WHERE generator = ? AND (? IS NULL OR status = ?) "
            "ORDER BY task_key, position",
            [generator, status, status],
        )
    )
    for row in rows:
        for column in ("path_triples", "path_entities", "images", "meta", "call_ids"):
            row[column] = json.loads(row[column])
    return rows


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 10)
    return ws


def test_multihop_paths_and_checks(ws: Workspace) -> None:
    model = ScriptedChat(reply)
    report = synthesize(
        ws,
        ["multihop"],
        options=SynthConfig(multihop_per_record=2),
        models={"vision_generator": model},
    )
    rows = samples(ws, "multihop", None)
    per_record = Counter(r["record_id"] for r in rows)
    assert max(per_record.values()) == 2  # k honoured (Lung Cancer has 3+ paths)
    assert report.kept["multihop"] == len(rows) > 0
    for row in rows:
        triples = row["path_triples"]
        assert triples and row["path_entities"]
        prompt = next(
            str(c["messages"][-1]["content"])
            for c in model.calls
            if f"chain {row['answer'].split('chain ')[1][:6]}" in reply(c["messages"])  # type: ignore[arg-type]
        )
        heads = [
            t[0]
            for t in ws.db.execute(
                f"SELECT head FROM triples WHERE id IN ({','.join('?' * len(triples))})", triples
            )
        ]
        assert all(head in prompt for head in heads)  # the path was put into the template
        assert row["template"] == "synth_multihop" and row["template_version"] == "1"
        assert row["model"] == "fake:scripted" and row["call_ids"]
    # the same seed chooses the same paths; the run is read from the log
    again = synthesize(
        ws,
        ["multihop"],
        options=SynthConfig(multihop_per_record=2),
        models={"vision_generator": model},
    )
    assert sum(again.tasks.values()) == 0


def test_multihop_rejects_bad_pairs(ws: Workspace) -> None:
    def naming(messages: list[Message]) -> str:
        if "case-000" in str(messages):  # breaks the template's form, repair included
            return json.dumps({"question": "Is this Lung Cancer", "answer": "Yes."})
        chain = str(messages[-1]["content"]).split("Chain of facts", 1)[-1]
        last = (
            chain.split("->")[-1].split("\n")[0].strip()
        )  # a fact of the path: the gate wants one
        return json.dumps(
            {
                "question": "What does Lung Cancer mean here?",
                "answer": f"It spreads along the chain to {last}. The facts say so.",
            }
        )

    synthesize(
        ws,
        ["multihop"],
        options=SynthConfig(multihop_per_record=1),
        models={"vision_generator": ScriptedChat(naming)},
    )
    rows = samples(ws, "multihop", "rejected")
    assert {r["record_id"] for r in rows} == {6}  # case-005: its own disease is Lung Cancer
    assert all("question names the disease (Lung Cancer)" in r["reason"] for r in rows)
    assert len(samples(ws, "multihop")) == 8  # the other diseases' records keep the question
    failed = ws.db.execute(
        "SELECT reason FROM synth_tasks WHERE status = 'failed' AND task_key LIKE 'multihop:r1:%'"
    ).fetchone()
    assert "does not match the schema" in failed[0]
    assert (
        ws.db.execute(
            "SELECT count(*) FROM rejects WHERE stage = 'synth' AND source LIKE 'record 1 task %'"
        ).fetchone()[0]
        == 1
    )


def test_hardneg_never_a_grounded_disease(ws: Workspace) -> None:
    for mode in ("similar", "random"):
        synthesize(
            ws, ["hardneg"], options=SynthConfig(negatives=2, negatives_mode=mode), models={}
        )
    rows = samples(ws, "hardneg", None)  # the two modes may ask the same question: duplicates
    assert {r["status"] for r in rows} <= {"kept", "duplicate"}
    grounded = {
        rid: {
            n
            for (n,) in ws.db.execute(
                "SELECT e.name FROM matches m JOIN entities e ON e.id = m.entity_id "
                "WHERE m.record_id = ? AND m.kind = 'disease'",
                [rid],
            )
        }
        for rid in {r["record_id"] for r in rows}
    }
    by_task = Counter(r["task_key"] for r in rows)
    assert set(by_task.values()) == {2}  # m honoured
    assert len(by_task) == 20  # 10 records x 2 modes
    for row in rows:
        negative = row["meta"]["negative"]
        assert negative not in grounded[row["record_id"]]
        assert negative in row["question"] and row["answer"] == "No." and row["key_answer"] == "no"
        assert row["path_triples"] and negative in row["path_entities"]
    similar = [r for r in rows if r["meta"]["mode"] == "similar"]
    assert all(-1.0001 <= r["meta"]["image_similarity"] <= 1.0001 for r in similar)
    ranks = [
        [r["meta"]["image_similarity"] for r in rows if r["task_key"] == key]
        for key in {r["task_key"] for r in similar}
    ]
    assert all(a >= b for a, b in ranks)  # most similar first


def test_keyanswer_follows_multihop(ws: Workspace) -> None:
    synthesize(
        ws, ["multihop", "keyanswer"], options=SynthConfig(multihop_per_record=2), models=models()
    )
    parents = samples(ws, "multihop")
    rl = samples(ws, "keyanswer")
    assert len(rl) == len(parents) > 0
    for child in rl:
        parent = next(
            p for p in parents if f"{p['task_key']}#{p['position']}" == child["meta"]["parent"]
        )
        assert child["question"] == parent["question"]
        assert child["ground_truth"] == parent["answer"]
        assert child["path_entities"] == parent["path_entities"]
        assert child["key_answer"] == child["key_answer"].lower().rstrip(".")
        assert child["key_answer"] in parent["answer"].lower()  # the gate checks it too
        assert "." not in child["key_answer"]


def test_pubmedvision_one_call_even_scenarios(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    ids = make_records(ws, tmp_path, 20)
    model = ScriptedChat(reply)
    synthesize(ws, ["describe", "instruct"], models={"vision_generator": model})
    assert len(model.calls) == 20  # instruct read describe's call from the log
    described, instructed = samples(ws, "describe"), samples(ws, "instruct")
    assert len(described) == len(instructed) == len(ids)
    assert all(r["question"] in ALIGN_SINGLE for r in described)
    scenarios = Counter(r["meta"]["scenario"] for r in instructed)
    assert scenarios == dict.fromkeys((s.name for s in SCENARIOS), 2)
    assert all(r["system"] for r in instructed)
    # a two-image record draws from the multi-image set
    dataset_id = ws.db.execute("SELECT id FROM datasets").fetchone()[0]
    png(tmp_path / "data" / "pair-b.png", seed=99)
    pair = add_record(ws, dataset_id, ["0.png", "pair-b.png"], "case-pair: two views.")
    ground_record(ws, pair, "Pneumonia", "Lung")
    synthesize(ws, ["describe"], models={"vision_generator": model})
    row = next(r for r in samples(ws, "describe") if r["record_id"] == pair)
    assert row["question"] in ALIGN_MULTI and len(row["images"]) == 2


def test_reasoning_augmentation_and_checker(ws: Workspace) -> None:
    opts = SynthConfig(reasoning_questions=2, reasoning_rois=2, reasoning_knowledge=2)

    def picky(messages: list[Message]) -> str:
        if "You check" in str(messages[0]["content"]) and "Which organ" in str(messages[-1]):
            return json.dumps({"consistent": False, "reason": "localization names another organ"})
        return reply(messages)

    synthesize(
        ws,
        ["multihop", "keyanswer", "reasoning"],
        options=opts.model_copy(update={"multihop_per_record": 2}),
        models=models(picky),
    )
    rows = samples(ws, "reasoning", None)
    by_record = Counter(r["record_id"] for r in rows)
    assert set(by_record.values()) == {2 * 2 * 2}  # questions x regions x knowledge templates
    boxed = [r for r in rows if r["meta"]["question_source"] == "dataset"]
    assert boxed and {r["meta"]["roi"]["variant"] for r in boxed} == {"box", "whole"}
    generated = [r for r in rows if r["meta"]["question_source"] != "dataset"]
    assert generated and {r["meta"]["roi"]["variant"] for r in generated} == {"text", "whole"}
    for row in rows:
        stages = stages_of(row["answer"])
        assert list(stages) == ["LOC", "VIS", "KNO", "CON", "ANS"]
        assert stages["ANS"] == row["ground_truth"]
        assert row["meta"]["knowledge_template"] in GUIDES  # an interpretation template
        assert row["meta"]["facts_view"] in ("all", "focused")
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert rejected and all("Which organ" in r["question"] for r in rejected)
    assert all("checker: inconsistent" in r["reason"] for r in rejected)
    assert all(r["meta"]["attempt"] == 1 and r["meta"]["earlier_failures"] for r in rejected)


def test_near_duplicate_questions_are_dropped(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 1)

    def same(messages: list[Message]) -> str:
        chain = str(messages[-1]["content"]).split("Chain of facts", 1)[-1]
        last = (
            chain.split("->")[-1].split("\n")[0].strip()
        )  # a fact of the path: the gate wants one
        return json.dumps(
            {
                "question": "What does this finding imply?",
                "answer": f"It implies spread to {last}. The facts say so.",
            }
        )

    report = synthesize(
        ws,
        ["multihop"],
        options=SynthConfig(multihop_per_record=3),
        models={"vision_generator": ScriptedChat(same)},
    )
    statuses = Counter(r["status"] for r in samples(ws, "multihop", None))
    assert statuses == {"kept": 1, "duplicate": 2} and report.duplicates == 2


def test_unknown_generator_is_an_error(ws: Workspace) -> None:
    from medsynth.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown generator"):
        synthesize(ws, ["multihop,bogus"], models={})


def test_bad_image_is_a_reject_and_the_run_goes_on(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)
    (tmp_path / "data" / "1.png").write_bytes(b"not a png")
    report = synthesize(ws, ["hardneg"], models={})
    assert report.tasks_failed["hardneg"] == 1 and report.tasks["hardneg"] == 2
    reject = ws.db.execute("SELECT source, reason FROM rejects WHERE stage = 'synth'").fetchone()
    assert "task hardneg:r2" in reject[0] and reject[1]


def test_contamination_flags_test_images_and_specific_questions(tmp_path: Path) -> None:
    import shutil

    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)
    synthesize(ws, ["describe", "hardneg"], models={"vision_generator": ScriptedChat(reply)})
    slake = tmp_path / "slake"
    (slake / "imgs" / "xmlab1").mkdir(parents=True)
    shutil.copy(tmp_path / "data" / "0.png", slake / "imgs" / "xmlab1" / "source.png")
    for n in range(2, 8):  # a generic question asked of six other images
        png(slake / "imgs" / f"xmlab{n}" / "source.png", seed=900 + n)
    rows = [
        {
            "img_name": "xmlab1/source.png",
            "question": "Is this the chest?",
            "answer": "Yes",
            "q_lang": "en",
            "qid": 1,
            "answer_type": "CLOSED",
        },
        *[
            {
                "img_name": f"xmlab{n}/source.png",
                "question": "Please describe this image.",
                "answer": "CT",
                "q_lang": "en",
                "qid": 10 + n,
                "answer_type": "OPEN",
            }
            for n in range(2, 8)
        ],
    ]
    (slake / "test.json").write_text(json.dumps(rows), encoding="utf-8")
    report = synthesize(
        ws,
        ["describe"],
        models={"vision_generator": ScriptedChat(reply)},
        contamination=[slake / "test.json"],
    )
    flagged = list(
        ws.db.query("SELECT record_id, contamination FROM samples WHERE status = 'contaminated'")
    )
    first = ws.db.execute("SELECT min(id) FROM records").fetchone()[0]
    assert report.contaminated == len(flagged) > 0
    assert {r["record_id"] for r in flagged} == {first}  # the generic question flags nothing
    hits = json.loads(flagged[0]["contamination"])
    assert hits[0]["kind"] == "image_sha256" and "xmlab1" in hits[0]["image"]
