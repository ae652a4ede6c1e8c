"""PubMedVision's role-play scenarios (its Appendix D): who asks and who answers, the styles the
paper asks for, length caps that fit its published examples, and describe / instruct refused for
a text-only model unless the user allows blind samples (which are then marked)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from medsynth.backends.fake import ScriptedChat
from medsynth.config import SynthConfig
from medsynth.prompts import render
from medsynth.synth.pubmedvision import SCENARIOS, SCHEMA
from medsynth.synth.service import synthesize
from tests.fakes.synth import make_kg, make_records, reply

# scenario: (a word naming who asks, a word naming who answers), from the paper's prompts
ROLES = {
    "standard_qa": ("model", "expert"),
    "doctor_doctor": ("doctor", "doctor"),
    "senior_intern": ("senior doctor", "intern"),  # the senior doctor asks, the intern answers
    "intern_specialist": ("intern", "specialist"),
    "teacher_student": ("teacher", "student"),  # the teacher asks, the student answers
    "doctor_family": ("family member", "doctor"),
    "difficult_patient": ("patient", "doctor"),
    "evaluator_ai": ("quality-control", "AI model"),
    "ai_assists_doctor": ("doctor", "AI model"),
    "ai_assists_patient": ("patient", "AI model"),
}


def test_ten_scenarios_with_the_papers_askers_and_answerers() -> None:
    assert [s.name for s in SCENARIOS] == list(ROLES)
    for scenario in SCENARIOS:
        asker, answerer = ROLES[scenario.name]
        assert asker in scenario.asker, scenario.name
        assert answerer in scenario.answerer, scenario.name
        assert answerer.split()[-1].lower() in scenario.system.lower(), scenario.name


def test_styles_the_paper_asks_for() -> None:
    by_name = {s.name: s for s in SCENARIOS}
    assert "detailed" in by_name["standard_qa"].style  # standard Q&A answers are detailed
    assert "not give a final diagnosis" in by_name["ai_assists_doctor"].style
    assert "subtle detail" in by_name["evaluator_ai"].asker
    assert "their doctor" in by_name["ai_assists_patient"].style
    assert "diagnoses" in by_name["teacher_student"].asker


@pytest.mark.parametrize("length", [717, 1132])
def test_caps_fit_the_papers_longest_examples(length: int) -> None:
    reply_ = {"description": "d" * 1200, "question": "q?" * 100, "answer": "a" * length}
    jsonschema.validate(reply_, SCHEMA)  # raises when a cap is too small


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_prompt_names_who_asks_and_who_answers(scenario: object) -> None:
    messages, _ = render(
        "synth_pubmedvision", context="CT of the chest.", scenario=scenario, n_images=1,
        with_image=True,
    )  # fmt: skip
    system = " ".join(str(messages[0]["content"]).split())
    assert f"asked by {scenario.asker}" in system  # type: ignore[attr-defined]
    assert f"the reply of {scenario.answerer}" in system  # type: ignore[attr-defined]


def _blind() -> ScriptedChat:
    model = ScriptedChat(reply)
    model.supports_images = False  # type: ignore[misc]
    return model


def test_a_text_only_model_is_refused_unless_blind_samples_are_allowed(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)
    refused = synthesize(ws, ["describe", "instruct", "multihop"], models={
        "vision_generator": _blind(), "generator": ScriptedChat(reply)})  # fmt: skip
    data = refused.as_dict()
    assert set(data["refused"]) == {"describe", "instruct"}
    message = data["refused"]["describe"]
    assert "reads text only" in message and "--allow-blind" in message and "mmproj" in message
    assert "describe" not in data["tasks"] and data["tasks"].get("multihop", 0) > 0
    allowed = synthesize(
        ws, ["describe", "instruct"], options=SynthConfig(allow_blind=True),
        models={"vision_generator": _blind()},
    )  # fmt: skip
    assert allowed.as_dict()["refused"] == {}
    metas = [json.loads(m) for (m,) in ws.db.execute(
        "SELECT meta FROM samples WHERE generator IN ('describe', 'instruct')")]  # fmt: skip
    assert len(metas) == 6 and all(m["blinded"] is True for m in metas)
    seeing = synthesize(ws, ["describe"], models={"vision_generator": ScriptedChat(reply)})
    assert seeing.as_dict()["refused"] == {}
