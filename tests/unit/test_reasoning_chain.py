"""MEDSAGE trajectories written stage by stage: the calls in order with the label hidden from
localization and visual analysis, a knowledge step that names the label regenerated then
rejected, the region's crop sent with the full image, the transformed regions used by default,
and resume from the call log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.config import SynthConfig
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.synth import make_kg, make_records, reply
from tests.unit.test_synth_generators import samples

STEP = {
    "write the first step": "LOC",
    "write the second step": "VIS",
    "write the third step": "KNO",
    "write the last step": "CON",
    "You check": "CHECK",
}


def step_of(messages: list[Message]) -> str:
    system = str(messages[0]["content"])
    return next((name for cue, name in STEP.items() if cue in system), "other")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)  # the third has a box and two dataset questions
    return ws


def boxed_record(ws: Workspace) -> int:
    return int(ws.db.execute("SELECT id FROM records ORDER BY id").fetchall()[2][0])


def run(ws: Workspace, model: ScriptedChat, **opts: Any) -> None:
    synthesize(
        ws,
        ["reasoning"],
        options=SynthConfig(**opts),
        models={"vision_generator": model, "verifier": model},
    )


def test_calls_chain_in_order_and_the_label_stays_hidden(ws: Workspace) -> None:
    model = ScriptedChat(reply)
    run(ws, model, reasoning_questions=2, reasoning_rois=1)
    rows = samples(ws, "reasoning", None)
    organ_rows = [r for r in rows if r["question"] == "Which organ is shown?"]
    assert organ_rows and all(r["status"] == "kept" for r in rows)
    label = organ_rows[0]["ground_truth"]
    for question in {r["question"] for r in rows}:  # each task's calls, in the order made
        order = [
            step_of(c["messages"])  # type: ignore[arg-type]
            for c in model.calls
            if question in str(c["messages"][-1]["content"])  # type: ignore[index]
        ]
        assert order == ["LOC", "VIS", "KNO", "CON", "CHECK"]
    for call in model.calls:
        messages: list[Message] = call["messages"]  # type: ignore[assignment]
        text = " ".join(str(m["content"]) for m in messages)
        if step_of(messages) in ("LOC", "VIS") and "Which organ is shown?" in text:
            assert label.lower() not in text.lower()  # the box's label is the answer: hidden
            assert "Correct answer" not in text
        if step_of(messages) == "CON" and "Which organ is shown?" in text:
            assert f"Correct answer: {label}" in text  # the integrator may see it
    row = organ_rows[0]
    assert row["meta"]["prompt_versions"]["synth_reasoning"] == row["template_version"] == "2"
    assert set(row["meta"]["prompt_versions"]) == {
        "synth_reasoning_loc",
        "synth_reasoning_vis",
        "synth_reasoning_kno",
        "synth_reasoning",
    }
    assert len(row["call_ids"]) == 5  # four stages and the check


def test_knowledge_naming_the_label_is_regenerated_then_rejected(ws: Workspace) -> None:
    def tells(messages: list[Message]) -> str:
        if step_of(messages) == "KNO":
            return json.dumps({"knowledge": "This pattern means the organ is the Lung."})
        return reply(messages)

    model = ScriptedChat(tells)
    run(ws, model, reasoning_questions=2, reasoning_rois=1)
    rows = samples(ws, "reasoning", None)
    organ = [r for r in rows if r["question"] == "Which organ is shown?"]
    assert organ and organ[0]["ground_truth"] == "Lung"
    row = organ[0]
    assert row["status"] == "rejected"
    assert row["reason"].startswith("knowledge states the label")
    assert row["meta"]["attempt"] == 1  # written twice
    assert row["meta"]["earlier_failures"] == ["knowledge states the label"]
    kno = [c for c in model.calls if step_of(c["messages"]) == "KNO"]  # type: ignore[arg-type]
    organ_kno = [c for c in kno if "Which organ is shown?" in str(c["messages"][-1])]  # type: ignore[index]
    assert len(organ_kno) == 2 and organ_kno[0]["seed"] != organ_kno[1]["seed"]  # a new seed
    # the yes/no question's knowledge cannot state "Yes": kept on the first attempt
    other = next(r for r in rows if r["question"] != "Which organ is shown?")
    assert other["status"] == "kept" and other["meta"]["attempt"] == 0


def test_a_retry_that_passes_is_kept_with_the_first_reason(ws: Workspace) -> None:
    seen: list[int] = []

    def second_time_right(messages: list[Message]) -> str:
        if step_of(messages) == "CHECK":
            seen.append(1)
            if len(seen) == 1:
                return json.dumps({"consistent": False, "reason": "the steps disagree"})
        return reply(messages)

    run(ws, ScriptedChat(second_time_right), reasoning_questions=1, reasoning_rois=1)
    rows = samples(ws, "reasoning", None)
    retried = [r for r in rows if r["meta"]["attempt"] == 1]
    assert len(retried) == 1 and retried[0]["status"] == "kept"
    assert retried[0]["meta"]["earlier_failures"] == ["checker: inconsistent (the steps disagree)"]
    assert retried[0]["meta"]["seed"] != rows[0]["meta"]["seed"] or len(rows) == 1


def test_no_retry_rejects_at_once(ws: Workspace) -> None:
    def never(messages: list[Message]) -> str:
        if step_of(messages) == "CHECK":
            return json.dumps({"consistent": False, "reason": "broken chain"})
        return reply(messages)

    run(ws, ScriptedChat(never), reasoning_questions=1, reasoning_rois=1, reasoning_retries=0)
    rows = samples(ws, "reasoning", None)
    assert rows and all(r["status"] == "rejected" for r in rows)
    assert all(r["meta"]["attempt"] == 0 and "broken chain" in r["reason"] for r in rows)


def test_crop_goes_with_the_full_image_and_transforms_are_used_by_default(
    ws: Workspace,
) -> None:
    shown: list[tuple[str, list[Any]]] = []

    def looks(messages: list[Message], images: list[Any]) -> str:
        shown.append((step_of(messages), [str(i) for i in images]))
        return reply(messages)

    model = ScriptedChat(looks, with_images=True)
    run(ws, model, reasoning_questions=1)  # default regions
    rid = boxed_record(ws)
    rows = [r for r in samples(ws, "reasoning", None) if r["record_id"] == rid]
    variants = [r["meta"]["roi"]["variant"] for r in sorted(rows, key=lambda r: r["task_key"])]
    assert sorted(variants) == ["box", "expand", "jitter", "sub", "whole"]
    boxed = [r for r in rows if r["meta"]["roi"]["box"]]
    assert len(boxed) == 4 and all(r["meta"]["crop"].startswith("crop:") for r in boxed)
    assert len({r["meta"]["crop"] for r in boxed}) == 4  # one crop per region
    whole = next(r for r in rows if r["meta"]["roi"]["variant"] == "whole")
    assert whole["meta"]["crop"] is None
    image = str(Path(rows[0]["images"][0]))
    crops = [imgs for step, imgs in shown if step in ("LOC", "VIS") and len(imgs) == 2]
    assert len(crops) == 2 * 4  # LOC and VIS of each boxed region: full image, then crop
    for imgs in crops:
        assert imgs[0] == image and Path(imgs[1]).name.startswith("crop-")
        crop = Path(imgs[1])
        assert crop.exists() and oct(crop.stat().st_mode & 0o777) == "0o600"
        from PIL import Image

        with Image.open(crop) as opened:
            assert opened.size[0] < 80 and opened.size[1] < 60  # a region, not the image
    assert all(len(imgs) == 1 for step, imgs in shown if step == "KNO")  # no crop there


def test_rerun_reads_every_step_from_the_log(ws: Workspace) -> None:
    first = ScriptedChat(reply)
    run(ws, first, reasoning_questions=1, reasoning_rois=2)
    before = samples(ws, "reasoning", None)
    ws.db.execute("DELETE FROM samples WHERE generator = 'reasoning'")
    ws.db.execute("DELETE FROM synth_tasks WHERE generator = 'reasoning'")
    second = ScriptedChat(reply)
    run(ws, second, reasoning_questions=1, reasoning_rois=2)
    after = samples(ws, "reasoning", None)
    assert not second.calls  # every seeded step answered from the call log
    assert [r["answer"] for r in after] == [r["answer"] for r in before]
