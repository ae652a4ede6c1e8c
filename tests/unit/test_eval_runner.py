"""Eval runs with scripted models: stored predictions, resume, skipped questions, compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.backends.base import BackendError, Message
from medsynth.backends.fake import ScriptedChat
from medsynth.config import Config
from medsynth.errors import ConfigError, InputError
from medsynth.eval.compare import compare, resolve_run
from medsynth.eval.loaders import load_slake
from medsynth.eval.models import parse_model_spec, weights_fingerprint
from medsynth.eval.runner import EvalRequest, predictions, run_eval
from medsynth.workspace import Workspace
from tests.conftest import shared_path

SLAKE_N = 12


def truths() -> dict[str, str]:
    questions = load_slake(shared_path("slake"), "validate").questions[:SLAKE_N]
    return {q.question: q.answer for q in questions}


def request(name: str = "") -> EvalRequest:
    return EvalRequest(
        dataset="slake",
        path=shared_path("slake"),
        split="validate",
        limit=SLAKE_N,
        name=name,
        model="fake",
    )


def question_of(messages: list[Message]) -> str:
    return str(messages[-1]["content"])


def test_every_prediction_is_stored_and_scored(ws: Workspace) -> None:
    answers = truths()
    model = ScriptedChat(lambda m: f"<think>hmm</think><answer>{answers[question_of(m)]}</answer>")
    result = run_eval(ws, request("oracle"), model=model)
    assert result["predicted"] == result["questions"] == SLAKE_N
    assert result["metrics"]["overall"]["exact_match"]["value"] == 100.0
    assert result["metrics"]["overall"]["average"] == 100.0
    assert result["images_seen"] is True and result["warnings"] == []
    assert all(call["images"] == 1 and call["temperature"] == 0.0 for call in model.calls)
    rows = predictions(ws, result["eval_run_id"])
    assert [r["qid"] for r in rows][:2] == ["9835", "9836"]
    assert rows[0]["prediction"].startswith("<think>") and rows[0]["scored_text"] == "MRI"
    stored = ws.db.execute(
        "SELECT template, template_version, model_spec, images_seen FROM eval_runs"
    ).fetchone()
    assert stored[:2] == ("eval_vqa", "2") and stored[3] == 1
    assert json.loads(stored[2])["spec"] == "fake"
    calls = ws.db.execute("SELECT COUNT(*) FROM llm_calls WHERE role = 'eval'").fetchone()[0]
    assert calls == SLAKE_N


def test_a_killed_run_resumes_where_it_stopped(ws: Workspace) -> None:
    answered: list[str] = []

    def first(messages: list[Message]) -> str | BaseException:
        if len(answered) == 5:
            return KeyboardInterrupt()
        answered.append(question_of(messages))
        return "yes"

    with pytest.raises(KeyboardInterrupt):
        run_eval(ws, request(), model=ScriptedChat(first, model="m"))
    assert ws.db.execute("SELECT COUNT(*) FROM eval_predictions").fetchone()[0] == 5
    assert ws.db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    second = ScriptedChat(lambda m: "yes", model="m")
    result = run_eval(ws, request(), model=second)
    assert len(second.calls) == SLAKE_N - 5  # only the questions without a prediction
    assert result["resumed_from"] == 5 and result["asked_now"] == SLAKE_N - 5
    assert result["predicted"] == SLAKE_N and result["status"] == "done"
    third = ScriptedChat([], model="m")  # nothing left to ask: an empty script is enough
    assert run_eval(ws, request(), model=third)["eval_run_id"] == result["eval_run_id"]


def test_failed_questions_are_skipped_and_asked_again(ws: Workspace) -> None:
    first_question = next(iter(truths()))

    def flaky(messages: list[Message]) -> str | BaseException:
        if question_of(messages) == first_question:
            return BackendError("model refused", source="fake")
        return "no"

    questions = load_slake(shared_path("slake"), "validate").questions[:SLAKE_N]
    failing = [q.qid for q in questions if q.question == first_question]
    assert failing[0] == "9835"
    result = run_eval(ws, request(), model=ScriptedChat(flaky, model="f"))
    assert result["status"] == "partial" and result["predicted"] == SLAKE_N - len(failing)
    assert result["skipped"] == [{"qid": q, "reason": "model refused"} for q in failing]
    rejects = ws.db.execute("SELECT COUNT(*) FROM rejects WHERE stage = 'eval'").fetchone()[0]
    assert rejects == len(failing)
    again = run_eval(ws, request(), model=ScriptedChat(lambda m: "MRI", model="f"))
    assert again["status"] == "done" and again["asked_now"] == len(failing)


def test_text_only_model_is_reported(ws: Workspace) -> None:
    model = ScriptedChat(lambda m: "yes", model="text")
    model.supports_images = False
    result = run_eval(ws, request(), model=model)
    assert result["images_seen"] is False
    assert "NOT seen" in result["warnings"][0]
    assert all(call["images"] == 0 for call in model.calls)
    system = json.loads(ws.db.execute("SELECT messages FROM llm_calls LIMIT 1").fetchone()[0])[0]
    assert "cannot be shown to you" in system["content"]


def test_compare_by_hand(ws: Workspace) -> None:
    answers = truths()
    run_eval(ws, request("base"), model=ScriptedChat(lambda m: "yes", model="a"))
    run_eval(ws, request("tuned"), model=ScriptedChat(lambda m: answers[question_of(m)], model="b"))
    table = compare(ws, ["base", "tuned"], samples=500)
    assert table["questions_compared"] == SLAKE_N
    rows = {(r["group"], r["metric"]): r for r in table["rows"]}
    closed = rows[("overall", "closed_accuracy")]
    closed_truths = [
        a
        for q in load_slake(shared_path("slake"), "validate").questions[:SLAKE_N]
        if q.answer_type == "CLOSED"
        for a in [q.answer]
    ]
    expected_base = round(
        100 * sum(a.lower() == "yes" for a in closed_truths) / len(closed_truths), 2
    )
    assert closed["values"] == [expected_base, 100.0]
    assert closed["n"] == len(closed_truths)
    diff = closed["diffs"][0]
    assert diff["diff"] == round(100.0 - expected_base, 2)
    assert diff["ci"][0] <= diff["diff"] <= diff["ci"][1]
    assert rows[("overall", "exact_match")]["values"][1] == 100.0
    assert any(group.startswith("type ") for group, _ in rows)
    assert resolve_run(ws, "1")["name"] == "base"
    with pytest.raises(InputError, match="no eval run"):
        resolve_run(ws, "nope")
    with pytest.raises(InputError, match="at least two"):
        compare(ws, ["base"])


def test_model_specs(tmp_path: Path) -> None:
    config = Config()
    embedded = parse_model_spec("llamacpp:embedded", config)
    assert (embedded.role.backend, embedded.role.model, embedded.embedded) == (
        "llamacpp",
        "embedded",
        True,
    )
    assert parse_model_spec("vision_generator", config).role_name == "vision_generator"
    with pytest.raises(ConfigError, match="names no model folder"):
        parse_model_spec("base_model", config)
    adapter = tmp_path / "adapter"
    hf = parse_model_spec(f"hf:{tmp_path}/model,adapter={adapter},load_in_4bit=true", config)
    assert hf.role.backend == "hf" and hf.role.model == str(tmp_path / "model")
    assert hf.role.adapter == str(adapter) and hf.role.load_in_4bit is True
    ollama = parse_model_spec("ollama:qwen2.5vl:7b@http://10.0.0.5:11434", config)
    assert (ollama.role.model, ollama.role.host) == ("qwen2.5vl:7b", "http://10.0.0.5:11434")
    assert ollama.hosts() == ["10.0.0.5"]
    assert parse_model_spec("ollama:llava", config).role.host == ""
    openai = parse_model_spec("openai:med@http://127.0.0.1:8000/v1", config)
    assert openai.role.host == "http://127.0.0.1:8000/v1"
    for bad in ("nothing", "gpu:model", "openai:med", "hf:/x,adapter", "hf:/x,colour=red"):
        with pytest.raises(ConfigError):
            parse_model_spec(bad, config)


def test_weights_fingerprint_follows_the_adapter(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"lora 1")
    spec = parse_model_spec(f"hf:{tmp_path}/model,adapter={tmp_path}/adapter", Config())
    first = weights_fingerprint(spec.role)
    assert len(first) == 12 and first == weights_fingerprint(spec.role)
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"lora 2")
    assert weights_fingerprint(spec.role) != first  # retrained in place: a new cache identity
    assert weights_fingerprint(parse_model_spec("ollama:x", Config()).role) == ""
