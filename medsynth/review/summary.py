"""Reviews and judge scores in numbers, and the review rules of exports.

:func:`select_samples` is what ``medsynth export`` may write (reviewer rejects left out,
``--min-score``, ``--reviewed-only``); :func:`score_distribution` and :func:`review_numbers` feed
the dataset card and ``medsynth review stats``. The queries on the judge and review tables are in
:mod:`.data`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from medsynth.errors import InputError
from medsynth.review.data import (
    CRITERIA,
    judge_scores,
    latest_reviews,
    mean_score,
    sample_generators,
    samples_of,
    verdict_sets,
)
from medsynth.store.overview import sample_counts

SELECT_KEYS = ("generators", "statuses", "min_score", "reviewed_only")  # select_samples' options


def left_out_text(left_out: dict[str, int]) -> str:
    """What :func:`select_samples` left out, for a message.

    >>> left_out_text({"rejected_by_reviewer": 2})
    '; left out: 2 rejected by reviewer'
    """
    parts = [f"{n} {why.replace('_', ' ')}" for why, n in left_out.items() if n]
    return f"; left out: {', '.join(parts)}" if parts else ""


def select_samples(
    db: sqlite_utils.Database,
    generators: Sequence[str],
    statuses: Sequence[str],
    *,
    min_score: float | None = None,
    reviewed_only: bool = False,
) -> tuple[list[int], dict[str, int]]:
    """Ids (in id order) of samples of ``generators`` with one of ``statuses`` that an export
    may write, and how many each review rule left out.

    Samples that any reviewer's latest verdict rejects are always left out; ``reviewed_only``
    keeps only samples a reviewer accepted; ``min_score`` keeps samples whose mean judge score
    is at least that (unjudged samples are left out when it is set).
    """
    if min_score is not None and not 1.0 <= min_score <= 5.0:
        raise InputError(
            f"--min-score {min_score} is outside the judge's 1-5 scale",
            hint="pass a number from 1 to 5 (e.g. 3.5)",
        )
    ids = [sample_id for sample_id, _generator in samples_of(db, statuses, generators)]
    left_out = Counter[str]()
    rejected, accepted = verdict_sets(db)
    kept = []
    means = (
        {i: mean_score(s) for i, s in judge_scores(db, ids).items()}
        if min_score is not None
        else {}
    )
    for sample_id in ids:
        if sample_id in rejected:
            left_out["rejected_by_reviewer"] += 1
        elif reviewed_only and sample_id not in accepted:
            left_out["not_accepted_by_reviewer"] += 1
        elif min_score is not None and means.get(sample_id) is None:
            left_out["not_judged"] += 1
        elif min_score is not None and (means[sample_id] or 0.0) < min_score:
            left_out["below_min_score"] += 1
        else:
            kept.append(sample_id)
    return kept, dict(left_out)


# --- numbers for the card and `review stats` -------------------------------------------------


def score_distribution(
    db: sqlite_utils.Database, sample_ids: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Per generator of the given samples: how many were judged and, per criterion, the count of
    each score (keys "1".."5", as in JSON) and the mean."""
    generators = sample_generators(db, sample_ids)
    result: dict[str, dict[str, Any]] = {}
    for sample_id, scores in sorted(judge_scores(db, sample_ids).items()):
        gen = generators.get(sample_id, "?")
        entry = result.setdefault(
            gen,
            {
                "judged": 0,
                "criteria": {c: {"counts": dict.fromkeys("12345", 0)} for c in CRITERIA},
            },
        )
        entry["judged"] += 1
        for criterion, score in scores.items():
            entry["criteria"][criterion]["counts"][str(score)] += 1
    for entry in result.values():
        for stats in entry["criteria"].values():
            n = sum(stats["counts"].values())
            total = sum(int(k) * v for k, v in stats["counts"].items())
            stats["mean"] = round(total / n, 2) if n else None
    return dict(sorted(result.items()))


def review_numbers(db: sqlite_utils.Database) -> dict[str, Any]:
    """Reviews in numbers: samples reviewed, verdicts and acceptance rate, mean reviewer score
    per criterion, and agreement between judge and reviewers (see :mod:`medsynth.review.agreement`:
    Spearman per criterion, Cohen's kappa on accept / reject)."""
    from medsynth.review.agreement import agreement

    reviews = latest_reviews(db)
    judge = judge_scores(db)
    verdicts = Counter(r.verdict or "none" for r in reviews)
    decided = verdicts["accept"] + verdicts["reject"]
    reviewer_means: dict[str, float | None] = {}
    for criterion in CRITERIA:
        values = [r.scores[criterion] for r in reviews if criterion in r.scores]
        reviewer_means[criterion] = round(sum(values) / len(values), 2) if values else None
    judge_means: dict[str, float | None] = {}
    for criterion in CRITERIA:
        values = [s[criterion] for s in judge.values() if criterion in s]
        judge_means[criterion] = round(sum(values) / len(values), 2) if values else None
    return {
        "samples_kept": sum(counts.get("kept", 0) for counts in sample_counts(db).values()),
        "judged": len(judge),
        "reviewed": len({r.sample_id for r in reviews}),
        "reviews": len(reviews),
        "reviewers": dict(sorted(Counter(r.reviewer for r in reviews).items())),
        "accepted": verdicts["accept"],
        "rejected": verdicts["reject"],
        "no_verdict": verdicts["none"],
        "accept_rate": round(verdicts["accept"] / decided, 3) if decided else None,
        "reviewer_means": reviewer_means,
        "judge_means": judge_means,
        "agreement": agreement(
            [(judge[r.sample_id], r.scores, r.verdict) for r in reviews if r.sample_id in judge]
        ),
    }
