"""The ``eval_runs`` and ``eval_predictions`` tables: every write the eval runner makes, and the
predictions list that scoring, comparing and exporting read. Rows are dicts (sqlite-utils), so
no column is counted by hand."""

from __future__ import annotations

import json
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
