"""Read-only views of the training runs for the TUI's Train and Evaluate screens: the recent
runs with their last step, one run, its recorded steps, the finished adapters.

Small and LIMITed, and free of heavy imports (the TUI runs them on its event loop);
:class:`medsynth.train.runs.TrainRuns` is what training itself writes and reads through.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypedDict

import sqlite_utils


class RunRow(TypedDict):
    """A runs-table row: the run and its last recorded step."""

    id: int
    name: str
    kind: str
    status: str
    estimate_bytes: int | None
    peak_bytes: int | None
    started_at: str | None
    step: int | None


class StepRow(TypedDict):
    """One recorded step."""

    step: int
    loss: float | None
    reward: float | None


class Adapter(NamedTuple):
    """A finished run's base model and output folder (its adapter is ``output_dir/adapter``)."""

    base_model: str
    output_dir: str


def recent_train_runs(db: sqlite_utils.Database, limit: int = 30) -> list[RunRow]:
    """The newest ``limit`` runs (with their last recorded step), newest first."""
    rows = db.execute(
        "SELECT r.id, r.name, r.kind, r.status, r.estimate_bytes, r.peak_bytes, r.started_at, "
        "(SELECT max(step) FROM train_steps s WHERE s.train_run_id = r.id) "
        "FROM train_runs r ORDER BY r.id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        RunRow(
            id=row[0],
            name=row[1],
            kind=row[2],
            status=row[3],
            estimate_bytes=row[4],
            peak_bytes=row[5],
            started_at=row[6],
            step=row[7],
        )
        for row in rows
    ]


def train_run(db: sqlite_utils.Database, train_run_id: int) -> dict[str, Any] | None:
    """Every column of one ``train_runs`` row (JSON left as text); None when there is none."""
    rows = list(db.query("SELECT * FROM train_runs WHERE id = ?", [train_run_id]))
    return rows[0] if rows else None


def run_steps(db: sqlite_utils.Database, train_run_id: int, limit: int = 5000) -> list[StepRow]:
    """One run's recorded steps (step, loss, reward), in order, at most ``limit``."""
    rows = db.execute(
        "SELECT step, loss, reward FROM train_steps WHERE train_run_id = ? ORDER BY step LIMIT ?",
        [train_run_id, limit],
    ).fetchall()
    return [StepRow(step=s, loss=loss, reward=reward) for s, loss, reward in rows]


def finished_adapters(db: sqlite_utils.Database, limit: int = 10) -> list[Adapter]:
    """The newest ``limit`` runs that finished ``ok``: their base model and output folder."""
    return [
        Adapter(str(base), str(folder))
        for base, folder in db.execute(
            "SELECT base_model, output_dir FROM train_runs WHERE status = 'ok' ORDER BY id DESC "
            "LIMIT ?",
            [limit],
        )
    ]
