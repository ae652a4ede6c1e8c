"""``eval score``: predictions made elsewhere scored against the official file. The round trip
(an eval run's predictions written by ``eval export`` and scored by ``eval score``) gives
identical metrics; rows that match nothing are reported and the rest is scored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.testing

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.cli import app
from medsynth.errors import InputError
from medsynth.eval.external import export_predictions, score_file
from medsynth.eval.loaders import load_slake
from medsynth.eval.runner import EvalRequest, run_eval
from medsynth.workspace import Workspace
from tests.conftest import shared_path

N = 20


def _run(ws: Workspace) -> dict[str, object]:
    evalset = load_slake(shared_path("slake"), "validate", limit=N)
    answers = {q.question: q.answer for q in evalset.questions[::2]}

    def half(messages: list[Message]) -> str:  # right on some questions, wrong on others
        return answers.get(str(messages[-1]["content"]), "the liver")

    request = EvalRequest(
        dataset="slake", path=shared_path("slake"), split="validate", limit=N, name="here",
        model="half",
    )  # fmt: skip
    return run_eval(ws, request, model=ScriptedChat(half))


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_round_trip_gives_identical_metrics(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    result = _run(ws)
    out = tmp_path / f"preds{suffix}"
    assert export_predictions(ws, int(result["eval_run_id"]), out) == N  # type: ignore[call-overload]
    scored = score_file(
        ws, out, dataset="slake", path=shared_path("slake"), split="validate", name="elsewhere"
    )
    assert scored["scored"] == N and scored["unmatched"] == []
    # the official file has more questions than the run asked: only the first N are predicted
    assert scored["status"] == "partial"
    assert scored["metrics"] == result["metrics"]
    assert 0 < result["metrics"]["overall"]["average"] < 100  # type: ignore[index]
    row = ws.db.execute(
        "SELECT model, backend, model_spec FROM eval_runs WHERE id = ?", [scored["eval_run_id"]]
    ).fetchone()
    assert row[0] == f"external:{out.name}" and row[1] == "external"
    assert json.loads(row[2])["sha256"] == scored["sha256"]


def test_rows_by_question_text_and_image_and_bad_rows(ws: Workspace, tmp_path: Path) -> None:
    evalset = load_slake(shared_path("slake"), "validate")
    unique = next(q for q in evalset.questions if sum(
        1 for o in evalset.questions if o.question == q.question) == 1)  # fmt: skip
    repeated = next(
        q for q in evalset.questions
        if sum(1 for o in evalset.questions if o.question == q.question) > 1
        and sum(1 for o in evalset.questions if (o.question, o.image) == (q.question, q.image)) == 1
    )  # fmt: skip
    lines = [
        {"question": unique.question.upper(), "prediction": unique.answer},  # text, normalised
        {"question": repeated.question, "image": repeated.image, "prediction": repeated.answer},
        {"question": repeated.question, "prediction": "x"},  # ambiguous without the image
        {"qid": "no-such-id", "prediction": "x"},
        {"qid": evalset.questions[0].qid},  # no prediction
        {"qid": unique.qid, "prediction": "a second answer"},  # answered by line 1
    ]
    file = tmp_path / "p.jsonl"
    text = "\n".join(json.dumps(line) for line in lines) + '\nnot json\n["a list"]\n'
    file.write_text(text, encoding="utf-8")
    result = score_file(ws, file, dataset="slake", path=shared_path("slake"), split="validate")
    assert result["scored"] == 2
    reasons = {p["source"]: p["reason"] for p in result["unmatched"]}
    assert "images: give qid or image" in reasons["p.jsonl:3"]
    assert "no question with id" in reasons["p.jsonl:4"]
    assert reasons["p.jsonl:5"] == "row without a prediction"
    assert reasons["p.jsonl:6"] == f"question {unique.qid} already answered at p.jsonl:1"
    assert reasons["p.jsonl:7"].startswith("not JSON")  # a bad line is named, the rest scored
    assert reasons["p.jsonl:8"] == "not a JSON object"
    assert len(reasons) == 6
    assert result["metrics"]["overall"]["exact_match"]["value"] == 100.0  # the first answer kept
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n[1]\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("no row could be read (bad.jsonl:1: not JSON")):
        score_file(ws, bad, dataset="slake", path=shared_path("slake"), split="validate")


def test_cli_export_score_and_report(ws: Workspace, tmp_path: Path) -> None:
    result = _run(ws)
    runner = typer.testing.CliRunner()
    out = tmp_path / "p.jsonl"
    base = ["-w", str(ws.root)]
    done = runner.invoke(app, ["eval", "export", str(result["eval_run_id"]), "-o", str(out), *base])
    assert done.exit_code == 0, done.output
    done = runner.invoke(
        app,
        ["eval", "score", str(out), "-d", "slake", "--path", str(shared_path("slake")),
         "--split", "validate", "--name", "outside", *base],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{N} of" in done.output
    done = runner.invoke(app, ["eval", "show", "outside", "--scorer", "all", *base])
    assert done.exit_code == 0 and "llava-med" in done.output and "multimedeval" in done.output
    done = runner.invoke(app, ["eval", "compare", "here", "outside", "--scorer", "all", *base])
    assert done.exit_code == 0 and done.output.count("shared question") == 3
    done = runner.invoke(
        app, ["eval", "report", "here", "outside", "-o", str(tmp_path / "r"), *base]
    )
    assert done.exit_code == 0 and (tmp_path / "r" / "report.html").is_file()


AWKWARD = ["yes\nno", "", "left\u2028lung", 'the "liver", and\r\nspleen', "no\x85yes", "  "]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_round_trip_keeps_awkward_answers(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    """Line breaks inside an answer (plain, Unicode, CSV-quoted), quotes and empty answers
    survive export and scoring: every question is scored, with the same metrics."""
    seen: list[str] = []

    def awkward(messages: list[Message]) -> str:
        question = str(messages[-1]["content"])
        if question not in seen:
            seen.append(question)
        return AWKWARD[seen.index(question) % len(AWKWARD)]

    request = EvalRequest(
        dataset="slake", path=shared_path("slake"), split="validate", limit=N, model="awkward"
    )
    result = run_eval(ws, request, model=ScriptedChat(awkward))
    stored = ws.db.execute(
        "SELECT COUNT(*) FROM eval_predictions WHERE eval_run_id = ? AND prediction = ''",
        [result["eval_run_id"]],
    ).fetchone()[0]
    assert stored >= 1  # the empty answers are stored as answers
    out = tmp_path / f"awkward{suffix}"
    assert export_predictions(ws, int(result["eval_run_id"]), out) == N  # type: ignore[call-overload]
    scored = score_file(ws, out, dataset="slake", path=shared_path("slake"), split="validate")
    assert scored["unmatched"] == [] and scored["scored"] == N
    assert scored["metrics"] == result["metrics"]
