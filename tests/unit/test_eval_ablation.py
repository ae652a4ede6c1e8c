"""Visual reliance: the same SLAKE questions with the image replaced (blank, noise, shuffled);
a scripted model that reads the image loses its score, one that answers from the words keeps it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.errors import InputError
from medsynth.eval.ablation import shuffle_map
from medsynth.eval.compare import compare
from medsynth.eval.loaders import load_slake
from medsynth.eval.runner import EvalRequest, run_eval
from medsynth.workspace import Workspace
from tests.conftest import shared_path

N = 24


def _request(name: str, ablation: str = "") -> EvalRequest:
    return EvalRequest(
        dataset="slake", path=shared_path("slake"), split="validate", limit=N, name=name,
        model=name, image_ablation=ablation,
    )  # fmt: skip


def _looker() -> ScriptedChat:
    evalset = load_slake(shared_path("slake"), "validate", limit=N)
    truth = {(q.question, str(evalset.image_path(q))): q.answer for q in evalset.questions}

    def answer(messages: list[Message], images: list[object]) -> str:
        return truth.get((str(messages[-1]["content"]), str(images[0])), "I cannot tell")

    return ScriptedChat(answer, model="looker", with_images=True)


def test_a_model_that_reads_the_image_relies_on_it(ws: Workspace) -> None:
    base = run_eval(ws, _request("looker"), model=_looker())
    blank = run_eval(ws, _request("looker-blank", "blank"), model=_looker())
    assert base["metrics"]["overall"]["average"] == 100.0
    assert blank["metrics"]["overall"]["average"] == 0.0
    data = compare(ws, ["looker", "looker-blank"], samples=300)
    (reliance,) = data["visual_reliance"]
    assert reliance["ablation"] == "blank"
    by_type = {row["answer_type"]: row for row in reliance["rows"]}
    assert by_type["all"]["drop"] == 100.0 and by_type["all"]["kept"] == 0.0
    assert by_type["CLOSED"]["excludes_zero"] and by_type["OPEN"]["ci"][0] > 0
    hashes = [json.loads(h) for (h,) in ws.db.execute("SELECT image_hashes FROM llm_calls")]
    assert sum(1 for h in hashes if h[0].startswith("ablation:blank:")) == N
    blanks = list((ws.path("cache") / "ablation").iterdir())
    assert blanks and all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in blanks)


def test_a_model_that_answers_from_the_words_does_not(ws: Workspace) -> None:
    def words_only() -> ScriptedChat:
        return ScriptedChat(lambda m: "yes" if "?" in str(m[-1]["content"]) else "no")

    real = run_eval(ws, _request("words"), model=words_only())["eval_run_id"]
    run_eval(ws, _request("words-noise", "noise"), model=words_only())
    moved = run_eval(ws, _request("words-shuffled", "shuffled"), model=words_only())["eval_run_id"]
    data = compare(ws, ["words", "words-noise", "words-shuffled"], samples=300)
    assert [r["ablation"] for r in data["visual_reliance"]] == ["noise", "shuffled"]
    for reliance in data["visual_reliance"]:
        for row in reliance["rows"]:
            assert row["drop"] == 0.0 and not row["excludes_zero"]
    hashes = [json.loads(h)[0] for (h,) in ws.db.execute("SELECT image_hashes FROM llm_calls")]
    assert sum(1 for h in hashes if h.startswith("ablation:noise:")) == N

    def shown(eval_run_id: int) -> dict[str, str]:
        sql = (
            "SELECT p.qid, c.image_hashes FROM eval_predictions p JOIN llm_calls c "
            "ON c.id = p.call_id WHERE p.eval_run_id = ?"
        )
        return {q: json.loads(h)[0] for q, h in ws.db.execute(sql, [eval_run_id])}

    real_images, moved_images = shown(real), shown(moved)
    assert len(real_images) == len(moved_images) == N
    assert all(moved_images[q] != real_images[q] for q in real_images)  # another image each
    assert set(moved_images.values()) <= set(real_images.values())  # ... from the same set


def test_shuffled_images_are_other_images_of_the_set() -> None:
    evalset = load_slake(shared_path("slake"), "validate", limit=N)
    images = [str(evalset.image_path(q)) for q in evalset.questions]
    moved = shuffle_map(images, seed=0)
    assert len(set(images)) > 1 and all(moved[i] != i and moved[i] in images for i in images)


def test_ablation_needs_a_model_that_sees_images(ws: Workspace) -> None:
    blind = ScriptedChat(["x"] * N)
    blind.supports_images = False  # type: ignore[misc]
    with pytest.raises(InputError, match="needs a model that sees images"):
        run_eval(ws, _request("blind", "blank"), model=blind)


def test_ablated_runs_are_separate_runs(ws: Workspace, tmp_path: Path) -> None:
    first = run_eval(ws, _request("a"), model=_looker())
    second = run_eval(ws, _request("b", "blank"), model=_looker())
    assert first["eval_run_id"] != second["eval_run_id"]
    assert second["options"]["image_ablation"] == "blank"
