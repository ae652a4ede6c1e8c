"""Exports honour reviews and judge scores: samples a reviewer rejected are never exported,
``--min-score`` keeps samples whose mean judge score reaches it, ``--reviewed-only`` keeps the
accepted ones; the manifest records the selection and the card shows judge score distributions
per generator and the review numbers with judge-reviewer agreement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsynth.cli import main
from medsynth.errors import InputError
from medsynth.export import export_samples
from medsynth.review import data
from medsynth.review.data import CRITERIA, save_review
from medsynth.workspace import Workspace
from tests.fakes.review import copy_workspace, synth_workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_workspace(tmp_path_factory.mktemp("export-review"), records=2)


@pytest.fixture()
def ws(built: Path, tmp_path: Path) -> Workspace:
    opened = copy_workspace(built, tmp_path)
    yield opened
    opened.close()


def kept(ws: Workspace) -> list[int]:
    return [r[0] for r in ws.db.execute("SELECT id FROM samples WHERE status = 'kept' ORDER BY id")]


def exported(out: Path) -> list[int]:
    return [int(json.loads(line)["id"][1:]) for line in (out / "sft.jsonl").open()]


def judge(ws: Workspace, scores: dict[int, dict[str, int]]) -> None:
    for sample_id, by_criterion in scores.items():
        data.save_judgement(
            ws.db,
            sample_id,
            by_criterion,
            "",
            model="fake:judge",
            template="judge_rubric",
            template_version="1",
            call_id=None,
            run_id=None,
        )


def manifest(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return loaded


def test_reviewer_rejected_samples_are_never_exported(ws: Workspace, tmp_path: Path) -> None:
    ids = kept(ws)
    save_review(ws.db, ids[0], "Dr A", "reject", {}, "wrong side")
    save_review(ws.db, ids[1], "Dr A", "accept", {}, "")
    save_review(ws.db, ids[1], "Dr B", "reject", {}, "invented age")
    save_review(ws.db, ids[2], "Dr A", "reject", {}, "")
    save_review(ws.db, ids[2], "Dr A", "accept", {}, "on second look")  # the latest counts
    for n, options in enumerate(
        [{}, {"include_contaminated": True}, {"seed": 3}, {"generators": ["multihop", "hardneg"]}]
    ):
        out = tmp_path / f"out{n}"
        report = export_samples(ws, out, "trl-sft", **options)  # type: ignore[arg-type]
        written = exported(out)
        assert ids[0] not in written and ids[1] not in written
        if not options:
            assert sorted(written) == [i for i in ids if i not in ids[:2]]
            assert report.left_out == {"rejected_by_reviewer": 2}
            assert manifest(out)["selection"]["left_out"] == {"rejected_by_reviewer": 2}
            card = (out / "dataset_card.md").read_text()
            assert "samples a reviewer rejected left out; left out: 2 rejected by reviewer" in card


def test_min_score_keeps_and_drops_the_right_samples(ws: Workspace, tmp_path: Path) -> None:
    ids = kept(ws)
    # means: 5.0, 3.5 (kept at 3.5), 3.25 (dropped), 1.0; the rest unjudged
    scores = {
        ids[0]: dict.fromkeys(CRITERIA, 5),
        ids[1]: {"accuracy": 4, "relevance": 4, "completeness": 3, "usefulness": 3},
        ids[2]: {"accuracy": 4, "relevance": 3, "completeness": 3, "usefulness": 3},
        ids[3]: dict.fromkeys(CRITERIA, 1),
    }
    judge(ws, scores)
    out = tmp_path / "min"
    report = export_samples(ws, out, "trl-sft", min_score=3.5)
    assert exported(out) == ids[:2]
    assert report.left_out == {"below_min_score": 2, "not_judged": len(ids) - 4}
    selection = manifest(out)["selection"]
    assert selection["min_score"] == 3.5 and selection["reviewed_only"] is False
    everything = export_samples(ws, tmp_path / "all", "trl-sft", min_score=1)
    assert everything.samples == 4  # every judged sample, no unjudged one
    with pytest.raises(InputError, match="1-5 scale"):
        export_samples(ws, tmp_path / "bad", "trl-sft", min_score=5.5)
    with pytest.raises(InputError, match="not judged"):
        export_samples(ws, tmp_path / "none", "trl-sft", min_score=4, generators=["describe"])


def test_reviewed_only_keeps_accepted_samples(ws: Workspace, tmp_path: Path) -> None:
    ids = kept(ws)
    save_review(ws.db, ids[0], "Dr A", "accept", {"accuracy": 5}, "")
    save_review(ws.db, ids[1], "Dr A", None, {"accuracy": 2}, "scores only: not accepted")
    save_review(ws.db, ids[2], "Dr A", "accept", {}, "")
    save_review(ws.db, ids[2], "Dr B", "reject", {}, "")
    save_review(ws.db, ids[3], "Dr B", "accept", {}, "")
    out = tmp_path / "reviewed"
    report = export_samples(ws, out, "trl-sft", reviewed_only=True)
    assert exported(out) == [ids[0], ids[3]]
    assert report.left_out == {"rejected_by_reviewer": 1, "not_accepted_by_reviewer": len(ids) - 3}
    judge(ws, {ids[0]: dict.fromkeys(CRITERIA, 2), ids[3]: dict.fromkeys(CRITERIA, 4)})
    both = export_samples(ws, tmp_path / "both", "trl-sft", reviewed_only=True, min_score=3)
    assert both.samples == 1 and exported(tmp_path / "both") == [ids[3]]


def test_card_shows_judge_distributions_and_review_numbers(ws: Workspace, tmp_path: Path) -> None:
    ids = kept(ws)
    generator = dict(ws.db.execute("SELECT id, generator FROM samples").fetchall())
    judged = {i: dict.fromkeys(CRITERIA, 1 + n % 5) for n, i in enumerate(ids)}
    judge(ws, judged)
    # reviewers agree with the judge's order on accuracy and on accept / reject
    for sample_id in ids[:6]:
        score = judged[sample_id]["accuracy"]
        verdict = "accept" if score >= 4 else "reject"
        save_review(ws.db, sample_id, "Dr A", verdict, {"accuracy": score}, "")
    out = tmp_path / "card"
    report = export_samples(ws, out, "trl-sft")
    card = (out / "dataset_card.md").read_text()
    meta = manifest(out)
    dist = meta["judge_scores"]
    written = exported(out)
    for gen in {generator[i] for i in written}:
        mine = [i for i in written if generator[i] == gen]
        counts = dist[gen]["criteria"]["accuracy"]["counts"]
        assert dist[gen]["judged"] == len(mine)
        assert counts == {
            str(k): sum(1 for i in mine if judged[i]["accuracy"] == k) for k in range(1, 6)
        }
        row = f"| {gen} | accuracy | {len(mine)} | " + " | ".join(
            str(counts[str(k)]) for k in range(1, 6)
        )
        assert row in card
    assert "## Judge scores" in card and f"{report.samples} of {report.samples} exported" in card
    reviews = meta["reviews"]
    rejected = sum(1 for i in ids[:6] if judged[i]["accuracy"] < 4)
    assert reviews["reviewed"] == 6 and reviews["rejected"] == rejected
    assert reviews["agreement"]["spearman"]["accuracy"] == {"rho": 1.0, "pairs": 6}
    assert reviews["agreement"]["kappa"]["value"] == 1.0
    assert "## Reviews" in card and "- reviewed: 6 of" in card
    assert f"acceptance rate {(6 - rejected) / 6:.1%}" in card
    assert "| accuracy |" in card and "Cohen's kappa" in card and "): 1.0 over 6 pair(s)" in card


def test_card_without_judge_or_reviews_says_so(ws: Workspace, tmp_path: Path) -> None:
    export_samples(ws, tmp_path / "plain", "trl-sft")
    card = (tmp_path / "plain" / "dataset_card.md").read_text()
    assert "No exported sample was scored by the judge (`medsynth judge`)." in card
    assert "No sample was reviewed" in card


def test_cli_export_review_options(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = kept(ws)
    judge(ws, {ids[0]: dict.fromkeys(CRITERIA, 5), ids[1]: dict.fromkeys(CRITERIA, 5)})
    save_review(ws.db, ids[0], "Dr A", "accept", {}, "")
    save_review(ws.db, ids[1], "Dr A", "reject", {}, "")
    out = tmp_path / "cli"
    args = ["export", str(out), "-f", "trl-sft", "-w", str(ws.root), "--min-score", "4"]
    assert main([*args, "--reviewed-only"]) == 0
    text = capsys.readouterr().out
    assert "exported 1 sample(s)" in text and "rejected by reviewer 1" in text
    assert exported(out) == [ids[0]]
    assert main([*args, "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 1
    assert main(["export", str(tmp_path / "x"), "-f", "trl-sft", "--min-score", "9"]) == 2
