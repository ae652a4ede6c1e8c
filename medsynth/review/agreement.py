"""How far the judge model agrees with the people who reviewed the same samples.

- **Spearman's rho per criterion**: the judge's 1-5 score against the reviewer's 1-5 score of the
  same sample (one pair per reviewer who scored that criterion), via ``scipy.stats.spearmanr``
  (ties get average ranks).
- **Cohen's kappa on accept / reject**: the judge *accepts* a sample when its mean score over the
  four criteria is at least :data:`ACCEPT_THRESHOLD` (3.5: halfway between "acceptable" (3) and
  "good" (4) on the rubric), against each reviewer's verdict, via
  ``sklearn.metrics.cohen_kappa_score``.

Either is None where it is undefined: fewer than :data:`MIN_PAIRS` pairs, or a side that never
varies (every score equal, or every verdict the same on both sides).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

ACCEPT_THRESHOLD = 3.5
MIN_PAIRS = 3
CRITERIA = ("accuracy", "relevance", "completeness", "usefulness")


def spearman(judge: Sequence[float], reviewer: Sequence[float]) -> float | None:
    """Spearman's rank correlation, rounded to 3 places; None when undefined.

    >>> spearman([1, 2, 3, 4], [2, 3, 4, 5])
    1.0
    >>> spearman([1, 2, 3], [3, 2, 1])
    -1.0
    >>> spearman([1, 2, 3, 4], [1, 3, 2, 4])  # d = 0, 1, 1, 0: 1 - 6*2 / (4*15)
    0.8
    >>> spearman([5, 5, 5], [1, 2, 3]) is None  # constant judge
    True
    >>> spearman([1, 2], [1, 2]) is None  # too few pairs
    True
    """
    if len(judge) != len(reviewer):
        raise ValueError("one reviewer score per judge score")
    if len(judge) < MIN_PAIRS or len(set(judge)) < 2 or len(set(reviewer)) < 2:
        return None
    from scipy.stats import spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr(judge, reviewer).statistic)
    return None if math.isnan(rho) else round(rho, 3)


def cohen_kappa(judge: Sequence[str], reviewer: Sequence[str]) -> float | None:
    """Cohen's kappa between two raters' labels, rounded to 3 places; None when undefined.

    Observed agreement 3/4; chance agreement 0.5 * 0.25 + 0.5 * 0.75 = 0.5; kappa 0.5:

    >>> cohen_kappa(["accept", "accept", "reject", "reject"],
    ...             ["accept", "reject", "reject", "reject"])
    0.5
    >>> cohen_kappa(["accept", "reject", "accept"], ["reject", "accept", "reject"])
    -0.8
    >>> cohen_kappa(["accept"] * 4, ["accept"] * 4) is None  # one label everywhere
    True
    """
    if len(judge) != len(reviewer):
        raise ValueError("one reviewer label per judge label")
    if len(judge) < MIN_PAIRS or len({*judge, *reviewer}) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(list(judge), list(reviewer)))
    return None if math.isnan(kappa) else round(kappa, 3)


def judge_verdict(scores: dict[str, int], threshold: float = ACCEPT_THRESHOLD) -> str | None:
    """``accept`` when the mean judge score reaches ``threshold``, else ``reject``; None when
    nothing was scored.

    >>> judge_verdict({"accuracy": 4, "relevance": 4, "completeness": 3, "usefulness": 3})
    'accept'
    >>> judge_verdict({"accuracy": 2, "relevance": 4, "completeness": 3, "usefulness": 4})
    'reject'
    """
    values = [scores[c] for c in CRITERIA if c in scores]
    if not values:
        return None
    return "accept" if sum(values) / len(values) >= threshold else "reject"


def agreement(
    pairs: Sequence[tuple[dict[str, int], dict[str, int], str | None]],
    threshold: float = ACCEPT_THRESHOLD,
) -> dict[str, Any]:
    """Agreement over ``(judge scores, reviewer scores, reviewer verdict)`` of judged, reviewed
    samples (one tuple per sample and reviewer).

    >>> result = agreement([
    ...     ({"accuracy": 5}, {"accuracy": 4}, "accept"),
    ...     ({"accuracy": 1}, {"accuracy": 1}, "reject"),
    ...     ({"accuracy": 3}, {"accuracy": 2}, "reject"),
    ... ])
    >>> result["spearman"]["accuracy"], result["kappa"]
    ({'rho': 1.0, 'pairs': 3}, {'value': 1.0, 'pairs': 3, 'threshold': 3.5})
    """
    spearman_by: dict[str, dict[str, Any]] = {}
    for criterion in CRITERIA:
        both = [
            (j[criterion], r[criterion]) for j, r, _ in pairs if criterion in j and criterion in r
        ]
        spearman_by[criterion] = {
            "rho": spearman([a for a, _ in both], [b for _, b in both]),
            "pairs": len(both),
        }
    labels = [
        (judged, verdict)
        for j, _, verdict in pairs
        if verdict is not None and (judged := judge_verdict(j, threshold)) is not None
    ]
    return {
        "spearman": spearman_by,
        "kappa": {
            "value": cohen_kappa([a for a, _ in labels], [b for _, b in labels]),
            "pairs": len(labels),
            "threshold": threshold,
        },
    }
