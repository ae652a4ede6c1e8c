"""Read-only views of the eval runs for the TUI's Evaluate screen: the newest runs, one run's
metrics, the question files used before. Small and LIMITed (the TUI runs them on its event
loop); :func:`medsynth.eval.compare.eval_runs` is the full list the CLI prints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

_LIST_COLUMNS = ("id", "name", "dataset", "split", "questions", "status", "metrics", "model_spec")


@dataclass(frozen=True)
class EvalRunMetrics:
    """One eval run's label fields and its metrics (None before any answer was scored)."""

    id: int
    name: str | None
    dataset: str
    split: str
    questions: int
    status: str
    metrics: dict[str, Any] | None

    def summary(self) -> str:
        """``eval run 3 (name): slake test, 20 q, done``."""
        label = f"eval run {self.id}" + (f" ({self.name})" if self.name else "")
        return f"{label}: {self.dataset} {self.split}, {self.questions} q, {self.status}"


def eval_run_list(db: sqlite_utils.Database, limit: int = 50) -> list[dict[str, Any]]:
    """The newest eval runs, newest first: id, name, dataset, split, questions, status, metrics
    (decoded, or None) and model_spec (the spec text)."""
    rows = db.execute(
        f"SELECT {', '.join(_LIST_COLUMNS)} FROM eval_runs ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()
    out = []
    for row in rows:
        data = dict(zip(_LIST_COLUMNS, row, strict=True))
        data["metrics"] = json.loads(data["metrics"]) if data["metrics"] else None
        data["model_spec"] = json.loads(data["model_spec"] or "{}").get("spec", "")
        out.append(data)
    return out


def eval_run_metrics(db: sqlite_utils.Database, eval_run_id: int) -> EvalRunMetrics | None:
    """One eval run's metrics and label fields; None when there is no such run."""
    row = db.execute(
        "SELECT id, name, dataset, split, questions, status, metrics FROM eval_runs WHERE id = ?",
        [eval_run_id],
    ).fetchone()
    if row is None:
        return None
    metrics = json.loads(row[6]) if row[6] else None
    return EvalRunMetrics(row[0], row[1], row[2], row[3], row[4], row[5], metrics)


def known_paths(db: sqlite_utils.Database, limit: int = 50) -> dict[str, str]:
    """{dataset: question file} of the newest eval run of each dataset (among the newest
    ``limit`` runs)."""
    paths: dict[str, str] = {}
    for dataset, data_file in db.execute(
        "SELECT dataset, data_file FROM eval_runs ORDER BY id DESC LIMIT ?", [limit]
    ):
        paths.setdefault(dataset, data_file or "")
    return paths


def scorer_overview(db: sqlite_utils.Database, eval_run_id: int) -> dict[str, dict[str, Any]]:
    """The run's overall figures under each scorer (strict, llava-med, multimedeval), from its
    stored predictions; empty before any answer."""
    from medsynth.eval.metrics import summarize
    from medsynth.eval.predictions import predictions
    from medsynth.eval.scorers import SCORERS, rescore

    rows = predictions(db, eval_run_id)
    if not rows:
        return {}
    return {name: summarize(rescore(rows, name))["overall"] for name in SCORERS}
