"""Plain data of a grounding run: what one record yielded, and the run's counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from medsynth.ground.extract import is_no_mention
from medsynth.ground.plausible import STEPS, Refusal
from medsynth.kg.lookup import KINDS


@dataclass
class MatchRow:
    """One (record, kind) row of ``matches``. ``refusal`` says why its mention was refused
    (stage ``refused``: by the plausibility checks or the exact stage; ``unmatched``: by the
    fuzzy score floor or the verifier); it is stored in the ``rejects`` table."""

    kind: str
    mention: str
    stage: str  # exact | fuzzy | unmatched | refused
    entity_id: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    text_only: bool = False
    refusal: Refusal | None = None
    also: list[int] = field(default_factory=list)  # keep-all: other confirmed entities


@dataclass
class Grounded:
    """Everything found for one record, written together."""

    record_id: int
    disease: str
    organ: str
    call_id: int
    matches: list[MatchRow]
    triple_ids: list[int]


@dataclass
class Rejected:
    """A record that could not be grounded, and why."""

    record_id: int
    reason: str
    raw: str


@dataclass
class GroundReport:
    """What one ``ground`` run did."""

    run_id: int | None = None
    records: int = 0
    grounded: int = 0
    rejected: int = 0
    stages: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    reject_reasons: Counter[str] = field(default_factory=Counter)
    refused: dict[str, Counter[str]] = field(default_factory=lambda: {s: Counter() for s in STEPS})
    model_calls: dict[str, int] = field(default_factory=dict)
    cache_hits: dict[str, int] = field(default_factory=dict)
    with_image: bool = True
    policy: dict[str, str] = field(default_factory=dict)  # extraction and verification policy
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "run_id": self.run_id,
            "records": self.records,
            "grounded": self.grounded,
            "rejected": self.rejected,
            "stages": {kind: dict(sorted(c.items())) for kind, c in self.stages.items()},
            "reject_reasons": dict(self.reject_reasons.most_common()),
            "refused": refusal_summary(self.refused),
            "model_calls": self.model_calls,
            "cache_hits": self.cache_hits,
            "extraction_with_image": self.with_image,
            "policy": self.policy,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.records / self.seconds, 1) if self.seconds else None,
        }

    def add(self, result: Grounded | Rejected) -> None:
        """Count one record's outcome."""
        self.records += 1
        if isinstance(result, Rejected):
            self.rejected += 1
            self.reject_reasons[reason_category(result.reason)] += 1
            for kind in KINDS:
                self.stages[kind]["rejected"] += 1
            return
        self.grounded += 1
        for match in result.matches:
            stage = match.stage
            if stage == "unmatched":
                stage = "no_mention" if is_no_mention(match.mention) else "not_found"
            self.stages[match.kind][stage] += 1
            if match.refusal is not None:
                self.refused[match.refusal.step][match.refusal.category] += 1


def reason_category(reason: str) -> str:
    """The general part of a reject reason (before any detail), for grouping in reports."""
    return reason.split(":")[0].split(" (")[0].strip()


def refusal_summary(refused: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
    """Refused mentions per step, in pipeline order: the total and the count of each reason.

    >>> refusal_summary({"plausibility": Counter({"too long": 2, "negated": 1})})["plausibility"]
    {'refused': 3, 'reasons': {'too long': 2, 'negated': 1}}
    """
    return {
        step: {
            "refused": sum(refused.get(step, Counter()).values()),
            "reasons": dict(refused.get(step, Counter()).most_common()),
        }
        for step in STEPS
    }
