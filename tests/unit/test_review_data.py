"""The review data layer: migration 9, saving and validating reviews, the sample view, the queue
orders, review numbers and the export selection rules."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.review import data, summary
from medsynth.review.data import CRITERIA, queue, review_stats, sample_view, save_review
from medsynth.workspace import Workspace
from tests.fakes.review import copy_workspace, synth_workspace


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_workspace(tmp_path_factory.mktemp("review-data"))


@pytest.fixture()
def ws(built: Path, tmp_path: Path) -> Workspace:
    opened = copy_workspace(built, tmp_path)
    yield opened
    opened.close()


def kept(ws: Workspace, generator: str | None = None) -> list[int]:
    return [
        r[0]
        for r in ws.db.execute(
            "SELECT id FROM samples WHERE status = 'kept' AND (? IS NULL OR generator = ?) "
            "ORDER BY id",
            [generator, generator],
        )
    ]


def judge_all(ws: Workspace, score_of: dict[int, int] | None = None) -> None:
    """Judge rows for every kept sample: all four criteria get ``score_of[id]`` (default 3)."""
    for sample_id in kept(ws):
        score = (score_of or {}).get(sample_id, 3)
        data.save_judgement(
            ws.db,
            sample_id,
            dict.fromkeys(CRITERIA, score),
            "test",
            model="fake:judge",
            template="judge_rubric",
            template_version="1",
            call_id=None,
            run_id=None,
        )


def test_migration_tables_and_constraints(ws: Workspace) -> None:
    assert {"judgements", "reviews"} <= set(ws.db.table_names())
    sample = kept(ws)[0]
    with pytest.raises(sqlite3.IntegrityError):
        ws.db.execute(
            "INSERT INTO reviews (sample_id, reviewer, accuracy, source, created_at) "
            "VALUES (?, 'a', 6, 'tui', 'now')",
            [sample],
        )
    with pytest.raises(sqlite3.IntegrityError):
        ws.db.execute(
            "INSERT INTO judgements (sample_id, criterion, score, model, template_version) "
            "VALUES (?, 'accuracy', 0, 'm', '1')",
            [sample],
        )
    with pytest.raises(sqlite3.IntegrityError):  # foreign key: no such sample
        ws.db.execute(
            "INSERT INTO reviews (sample_id, reviewer, source, created_at) "
            "VALUES (999999, 'a', 'tui', 'now')"
        )
    indexes = {i.name for t in ("judgements", "reviews") for i in ws.db.table(t).indexes}
    assert {"idx_judgements_sample_id", "idx_reviews_sample_id"} <= indexes


def test_save_review_validates_with_a_fix(ws: Workspace) -> None:
    sample = kept(ws)[0]
    cases = [
        ("", "accept", {}, "", "tui", "reviewer"),
        ("Dr A", "maybe", {}, "", "tui", "accept, reject or none"),
        ("Dr A", None, {"accuracy": 6}, "", "tui", "1 (worst) to 5 (best)"),
        ("Dr A", None, {"accuracy": True}, "", "tui", "1 (worst) to 5 (best)"),
        ("Dr A", None, {"beauty": 3}, "", "tui", "accuracy, relevance"),
        ("Dr A", None, {}, "  ", "tui", "accept or reject, score a criterion"),
        ("Dr A", "accept", {}, "", "email", "tui, cli, csv"),
    ]
    for reviewer, verdict, scores, note, source, fix in cases:
        with pytest.raises(InputError) as caught:
            save_review(ws.db, sample, reviewer, verdict, scores, note, source)
        assert fix in caught.value.hint, (caught.value, fix)
    with pytest.raises(InputError, match="no sample 999999"):
        save_review(ws.db, 999999, "Dr A", "accept", {}, "")
    assert ws.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def test_latest_review_per_reviewer_counts(ws: Workspace) -> None:
    sample = kept(ws)[0]
    first = save_review(ws.db, sample, "Dr A", "reject", {"accuracy": 1}, "wrong organ")
    second = save_review(ws.db, sample, " Dr A ", "accept", {"accuracy": 4, "usefulness": 5}, "ok")
    save_review(ws.db, sample, "Dr B", None, {"relevance": 2}, "", source="cli")
    assert second > first
    view = sample_view(ws.db, sample)
    assert [(r.reviewer, r.verdict) for r in view.reviews] == [
        ("Dr A", "reject"),
        ("Dr A", "accept"),
        ("Dr B", None),
    ]
    assert view.reviews[1].scores == {"accuracy": 4, "usefulness": 5}
    assert view.reviews[2].source == "cli"
    latest = data.latest_reviews(ws.db)
    assert [(r.reviewer, r.verdict, r.note) for r in latest] == [
        ("Dr A", "accept", "ok"),
        ("Dr B", None, ""),
    ]
    stats = review_stats(ws.db)
    assert stats["reviewed"] == 1 and stats["reviews"] == 2
    assert stats["accepted"] == 1 and stats["rejected"] == 0 and stats["accept_rate"] == 1.0
    assert stats["reviewer_means"]["accuracy"] == 4.0
    assert stats["reviewer_means"]["relevance"] == 2.0
    assert stats["reviewers"] == {"Dr A": 1, "Dr B": 1}


def test_sample_view_of_each_generator(ws: Workspace) -> None:
    for generator in ("multihop", "hardneg", "reasoning", "keyanswer", "describe"):
        sample = kept(ws, generator)[0]
        view = sample_view(ws.db, sample)
        row = ws.db.execute(
            "SELECT s.meta, r.context, d.root FROM samples s JOIN records r ON r.id = s.record_id "
            "JOIN datasets d ON d.id = r.dataset_id WHERE s.id = ?",
            [sample],
        ).fetchone()
        meta, context, root = json.loads(row[0]), row[1], Path(row[2]).resolve()
        assert view.id == sample and view.generator == generator and view.status == "kept"
        assert view.context == context and view.question
        assert view.images and all(p.is_absolute() and p.is_relative_to(root) for p in view.images)
        assert all(p.is_file() for p in view.images)
        assert set(view.provenance) >= {
            "model",
            "template",
            "template_version",
            "seed",
            "call_ids",
            "run_id",
            "task_key",
        }
        assert view.judge == {} and view.reviews == [] and view.warnings == []
        if generator in ("multihop", "hardneg"):
            assert view.path == meta["path"] and " -[" in view.path
        elif generator == "keyanswer":
            parent_key, _, position = meta["parent"].rpartition("#")
            parent_meta = ws.db.execute(
                "SELECT meta FROM samples WHERE task_key = ? AND position = ?",
                [parent_key, int(position)],
            ).fetchone()[0]
            assert view.path == json.loads(parent_meta)["path"]
        elif generator == "reasoning":
            assert view.path and all(" -[" in line for line in view.path.splitlines())
        else:
            assert view.path == ""
        if generator == "multihop":
            assert view.path_entities and view.provenance["call_ids"]
            assert view.provenance["template"] == "synth_multihop"


def test_sample_view_judge_scores_and_escaping_image(ws: Workspace) -> None:
    sample = kept(ws)[0]
    judge_all(ws, {sample: 4})
    view = sample_view(ws.db, sample)
    assert view.judge == dict.fromkeys(CRITERIA, 4) and view.judge_rationale == "test"
    with ws.db.conn:
        ws.db.execute(
            "UPDATE samples SET images = ? WHERE id = ?", [json.dumps(["/etc/passwd"]), sample]
        )
    view = sample_view(ws.db, sample)
    assert view.images == [] and "escapes the dataset root" in view.warnings[0]
    with pytest.raises(InputError, match="no sample"):
        sample_view(ws.db, 999999)


def test_queue_random_is_seeded_and_stable(ws: Workspace) -> None:
    everything = kept(ws)
    first = queue(ws.db, limit=1000)
    assert sorted(first) == everything  # kept samples only, each once
    assert queue(ws.db, limit=1000) == first
    assert queue(ws.db, limit=1000, seed=1) != first
    assert queue(ws.db, limit=5) == first[:5]
    save_review(ws.db, first[0], "Dr A", "accept", {}, "")
    assert queue(ws.db, limit=1000) == first[1:]  # the others keep their places
    assert queue(ws.db, limit=1000, reviewer="Dr B") == first  # Dr B has reviewed nothing
    assert queue(ws.db, limit=1000, unreviewed_only=False) == first
    hardneg = queue(ws.db, generator="hardneg", limit=1000)
    assert sorted(hardneg) == kept(ws, "hardneg")
    with pytest.raises(InputError, match="unknown queue order"):
        queue(ws.db, order="best")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="below 1"):
        queue(ws.db, limit=0)


def test_queue_lowest_judge_score_first(ws: Workspace) -> None:
    ids = kept(ws)
    unjudged = ids[:3]
    scores = {sample_id: 1 + (n * 7) % 5 for n, sample_id in enumerate(ids)}
    judge_all(ws, scores)
    with ws.db.conn:
        ws.db.execute(
            f"DELETE FROM judgements WHERE sample_id IN ({', '.join('?' * len(unjudged))})",
            unjudged,
        )
    order = queue(ws.db, order="lowest", limit=1000)
    judged = [i for i in ids if i not in unjudged]
    assert order == sorted(judged, key=lambda i: (scores[i], i)) + unjudged
    assert order[:1] == [min(judged, key=lambda i: (scores[i], i))]


def test_queue_round_robin_across_generators(ws: Workspace) -> None:
    order = queue(ws.db, order="generator", limit=1000)
    generators = dict(ws.db.execute("SELECT id, generator FROM samples").fetchall())
    present = [g for g in data.GENERATORS if kept(ws, g)]
    assert len(present) >= 4
    first_round = [generators[i] for i in order[: len(present)]]
    assert first_round == present  # one of each, in pipeline order
    assert sorted(order) == kept(ws)
    four = queue(ws.db, order="generator", limit=4)
    assert four == order[:4]


def test_select_samples_review_rules(ws: Workspace) -> None:
    ids = kept(ws)
    generators = list(data.GENERATORS)
    rejected, accepted, both, unjudged = ids[0], ids[1], ids[2], ids[3]
    save_review(ws.db, rejected, "Dr A", "reject", {}, "wrong side")
    save_review(ws.db, accepted, "Dr A", "reject", {}, "")
    save_review(ws.db, accepted, "Dr A", "accept", {}, "changed my mind")  # latest counts
    save_review(ws.db, both, "Dr A", "accept", {}, "")
    save_review(ws.db, both, "Dr B", "reject", {}, "")  # one reviewer's reject is enough
    chosen, left_out = summary.select_samples(ws.db, generators, ["kept"])
    assert rejected not in chosen and both not in chosen and accepted in chosen
    assert left_out == {"rejected_by_reviewer": 2}
    chosen, left_out = summary.select_samples(ws.db, generators, ["kept"], reviewed_only=True)
    assert chosen == [accepted]
    assert left_out["not_accepted_by_reviewer"] == len(ids) - 3
    judge_all(ws, {i: (5 if n % 2 else 2) for n, i in enumerate(ids)})
    with ws.db.conn:
        ws.db.execute("DELETE FROM judgements WHERE sample_id = ?", [unjudged])
    chosen, left_out = summary.select_samples(ws.db, generators, ["kept"], min_score=3.5)
    assert chosen == [i for n, i in enumerate(ids) if n % 2 and i not in (unjudged, both)]
    assert left_out["not_judged"] == 1 and left_out["below_min_score"] >= 1
    with pytest.raises(InputError, match="1-5 scale"):
        summary.select_samples(ws.db, generators, ["kept"], min_score=7)


def test_score_distribution_per_generator(ws: Workspace) -> None:
    ids = kept(ws)
    judge_all(ws, {i: 1 + n % 5 for n, i in enumerate(ids)})
    dist = summary.score_distribution(ws.db, ids)
    assert sum(entry["judged"] for entry in dist.values()) == len(ids)
    for generator, entry in dist.items():
        mine = [n for n, i in enumerate(ids) if i in kept(ws, generator)]
        counts = entry["criteria"]["accuracy"]["counts"]
        assert sum(counts.values()) == len(mine)
        assert counts == {str(k): sum(1 for n in mine if 1 + n % 5 == k) for k in range(1, 6)}
        assert entry["criteria"]["usefulness"]["mean"] == round(
            sum(1 + n % 5 for n in mine) / len(mine), 2
        )
