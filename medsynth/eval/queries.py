"""The eval package's data access, one place for each query on its tables (``eval_runs`` and
``eval_predictions``): every write the eval runner and ``eval score`` make, the predictions list
that scoring, comparing, reporting and exporting read, the runs list the CLI prints, and the
small LIMITed views the TUI's Evaluate screen shows on its event loop. Rows are dicts
(sqlite-utils), so no column is counted by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from medsynth.store.runs import utc_now

PREDICTION_COLUMNS = (
    "qid",
    "image",
    "question",
    "answer",
    "answer_type",
    "question_type",
    "prediction",
    "scored_text",
    "closed_correct",
    "open_recall",
    "exact_match",
    "token_f1",
    "call_id",
    "cached",
)


def open_run(db: sqlite_utils.Database, key: str, name: str, fields: dict[str, Any]) -> int:
    """The eval run with this key, marked running (made now from ``fields`` if new); its name
    is updated when one is given."""
    now = utc_now()
    row = db.execute("SELECT id, name FROM eval_runs WHERE key = ?", [key]).fetchone()
    with db.conn:
        if row is not None:
            db.table("eval_runs").update(
                row[0],
                {
                    "name": name or row[1],
                    "status": "running",
                    "run_id": fields["run_id"],
                    "updated_at": now,
                },
            )
            return int(row[0])
        table = db.table("eval_runs").insert(
            {
                "key": key,
                "name": name,
                **fields,
                "status": "running",
                "created_at": now,
                "updated_at": now,
            }
        )
    return int(table.last_pk or 0)


def set_status(
    db: sqlite_utils.Database,
    eval_run_id: int,
    status: str,
    metrics: dict[str, Any] | None = None,
) -> None:
    """A run's status (and its metrics, once scored)."""
    values: dict[str, Any] = {"status": status, "updated_at": utc_now()}
    if metrics is not None:
        values["metrics"] = json.dumps(metrics)
    with db.conn:
        db.table("eval_runs").update(eval_run_id, values)


def run_name(db: sqlite_utils.Database, eval_run_id: int) -> str:
    """The run's name ("" when it has none)."""
    row = db.execute("SELECT name FROM eval_runs WHERE id = ?", [eval_run_id]).fetchone()
    return str(row[0] or "") if row else ""


def answered(db: sqlite_utils.Database, eval_run_id: int) -> set[str]:
    """Question ids with a stored prediction."""
    sql = "SELECT qid FROM eval_predictions WHERE eval_run_id = ?"
    return {row[0] for row in db.execute(sql, [eval_run_id])}


def add_prediction(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """One scored answer (a question already answered keeps its first answer)."""
    db.table("eval_predictions").insert({**row, "created_at": utc_now()}, ignore=True)


def predictions(db: sqlite_utils.Database, eval_run_id: int) -> list[dict[str, Any]]:
    """Stored predictions of one eval run, by question id (numeric ids as numbers): answers
    are stored as they finish, which under concurrency is not the order they were asked."""
    sql = f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM eval_predictions WHERE eval_run_id = ? "
    return [
        dict(zip(PREDICTION_COLUMNS, row, strict=True))
        for row in db.execute(sql + "ORDER BY CAST(qid AS INTEGER), qid, id", [eval_run_id])
    ]


RUN_COLUMNS = (
    "id",
    "name",
    "dataset",
    "split",
    "language",
    "answer_type",
    "model_spec",
    "backend",
    "model",
    "images_seen",
    "template",
    "template_version",
    "status",
    "questions",
    "data_file",
    "options",
    "metrics",
    "created_at",
    "updated_at",
)


def eval_runs(db: sqlite_utils.Database, limit: int | None = None) -> list[dict[str, Any]]:
    """Every eval run (or the newest ``limit``), newest first: :data:`RUN_COLUMNS` with the
    spec, options and metrics decoded and ``images_seen`` a bool."""
    sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM eval_runs ORDER BY id DESC"
    rows = db.execute(sql) if limit is None else db.execute(sql + " LIMIT ?", [limit])
    result = []
    for row in rows:
        data = dict(zip(RUN_COLUMNS, row, strict=True))
        for name in ("model_spec", "options", "metrics"):
            data[name] = json.loads(data[name]) if data[name] else None
        data["images_seen"] = bool(data["images_seen"])
        result.append(data)
    return result


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
    (decoded, or None) and model_spec (the spec text), for the TUI's list."""
    return [
        {
            **{name: run[name] for name in _LIST_COLUMNS},
            "model_spec": (run["model_spec"] or {}).get("spec", ""),
        }
        for run in eval_runs(db, limit)
    ]


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
    from medsynth.eval.scorers import SCORERS, rescore

    rows = predictions(db, eval_run_id)
    if not rows:
        return {}
    return {name: summarize(rescore(rows, name))["overall"] for name in SCORERS}
