"""Plain data of synthesis: a record as the generators see it, a task, a sample draft."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.files import safe_child
from medsynth.ground.extract import RecordImage

GENERATORS = ("multihop", "hardneg", "keyanswer", "describe", "instruct", "reasoning")


def task_seed(seed: int, key: str) -> int:
    """A 31-bit seed for one task, stable across runs and machines.

    >>> task_seed(0, "multihop:r1") == task_seed(0, "multihop:r1") != task_seed(1, "multihop:r1")
    True
    """
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class Grounding:
    """One matched KG entity of a record."""

    entity_id: int
    name: str
    kind: str  # disease | organ
    mention: str
    stage: str  # exact | fuzzy


@dataclass
class RecordContext:
    """A grounded record: its images, context text, annotations and KG links."""

    id: int
    dataset_id: int
    dataset: str
    root: Path
    images: list[str]  # relative to root
    image_sha256: list[str]
    context: str
    derived: bool
    meta: dict[str, Any]
    groundings: list[Grounding]
    triple_ids: list[int]
    mentions: dict[str, str]  # kind -> what the extractor said
    position: int = 0  # rank among its dataset's kept records (even scenario sampling)
    size: tuple[int, int] = (0, 0)  # first image's width, height
    _paths: list[Path] | None = field(default=None, repr=False, compare=False)
    max_pixels: int = 0

    def entity(self, kind: str) -> Grounding | None:
        """The grounded entity of ``kind``, if any."""
        return next((g for g in self.groundings if g.kind == kind), None)

    def image_paths(self) -> list[Path]:
        """Absolute image paths, each checked to stay inside the dataset root (checked once)."""
        if self._paths is None:
            root = self.root.resolve()
            self._paths = [safe_child(root, root / name) for name in self.images]
        return list(self._paths)

    def record_image(self) -> RecordImage:
        """The first image, checked (InputError when missing or unreadable)."""
        return RecordImage(
            self.root, json.dumps(self.images), self.max_pixels, json.dumps(self.image_sha256)
        )


@dataclass(frozen=True)
class Task:
    """One unit of work: at most a few model calls, its samples written in one transaction."""

    generator: str
    record_id: int
    unit: str
    seed: int
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Unique, stable id: a task done once is never done again."""
        return f"{self.generator}:r{self.record_id}:{self.unit}:s{self.seed}"


@dataclass
class Draft:
    """A sample as a generator made it, before it is stored."""

    sample_type: str
    question: str
    answer: str
    key_answer: str = ""
    ground_truth: str = ""
    path_triples: list[int] = field(default_factory=list)
    path_entities: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    system: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    template: str = ""
    template_version: str = ""
    model: str = ""
    call_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # quality-check failures: stored rejected


@dataclass
class Later:
    """A task that asks one more model call after its first answer (the reasoning checker).

    The runner schedules ``finish`` as a step of its own, so a task never holds a call slot
    between its two calls, and the checks can fill the servers at the end of a run. The task's
    samples are written when ``finish`` returns; a killed run redoes the task (its first call
    is then answered from the call log)."""

    finish: Callable[[], list[Draft] | Later]  # a chain of calls returns the next step


@dataclass
class SynthReport:
    """What one ``synth`` run did."""

    run_id: int | None = None
    tasks: Counter[str] = field(default_factory=Counter)
    tasks_failed: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    reject_reasons: Counter[str] = field(default_factory=Counter)
    detectors: Counter[str] = field(default_factory=Counter)  # quality gate: drafts each rejected
    duplicates: int = 0
    contaminated: int = 0
    model_calls: dict[str, int] = field(default_factory=dict)
    cache_hits: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # generator: why it did not run
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        samples = sum(self.kept.values()) + sum(self.rejected.values())
        return {
            "run_id": self.run_id,
            "tasks": dict(self.tasks),
            "tasks_failed": dict(self.tasks_failed),
            "samples_kept": dict(self.kept),
            "samples_rejected": dict(self.rejected),
            "reject_reasons": dict(self.reject_reasons.most_common()),
            "rejected_by_detector": dict(self.detectors.most_common()),
            "duplicates": self.duplicates,
            "contaminated": self.contaminated,
            "refused": self.refused,
            "model_calls": self.model_calls,
            "cache_hits": self.cache_hits,
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
            "samples_per_min": round(samples * 60 / self.seconds, 1) if self.seconds else None,
        }
