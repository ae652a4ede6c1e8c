"""Training runs and per-step metrics in the workspace database (``train_runs``, ``train_steps``).

:class:`StepRecorder` is a ``transformers.TrainerCallback``: at every logging step it writes the
loss, the reward components TRL logged (``rewards/<name>/mean``), the learning rate, tokens per
second and the peak memory so far. :class:`StepHook` hands each recorded step to a caller (the
TUI's live curves) and turns its :class:`~medsynth.errors.Cancelled` into a checkpoint and a stop.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from medsynth.errors import Cancelled
from medsynth.store.runs import utc_now
from medsynth.train.preflight import peak_memory

try:  # transformers is a dependency, but keep this module importable for the CLI's help
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover
    TrainerCallback = object  # type: ignore[misc,assignment]

StepCallback = Callable[[int, int, dict[str, Any]], Any]  # (step, total steps, step fields)
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second")


def _json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, default=str)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class TrainRuns:
    """Rows of ``train_runs`` and ``train_steps``."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def start(self, **fields: Any) -> int:
        """Insert a run (status ``running``); dicts and lists are stored as JSON."""
        row = {k: _json(v) if isinstance(v, dict | list) else v for k, v in fields.items()}
        row.setdefault("status", "running")
        row.setdefault("started_at", utc_now())
        with self.db.conn:
            table = self.db.table("train_runs").insert(row)
        return int(table.last_pk or 0)

    def update(self, run_id: int, **fields: Any) -> None:
        row = {k: _json(v) if isinstance(v, dict | list) else v for k, v in fields.items()}
        with self.db.conn:
            self.db.table("train_runs").update(run_id, row)

    def finish(self, run_id: int, status: str, **fields: Any) -> None:
        self.update(run_id, status=status, ended_at=utc_now(), **fields)

    def step(self, run_id: int, **fields: Any) -> None:
        """Store one step's metrics (a repeated step replaces the earlier row)."""
        row = {k: _json(v) if isinstance(v, dict | list) else v for k, v in fields.items()}
        row["train_run_id"] = run_id
        row.setdefault("created_at", utc_now())
        with self.db.conn:
            self.db.execute(
                "DELETE FROM train_steps WHERE train_run_id = ? AND step = ?",
                [run_id, row["step"]],
            )
            self.db.table("train_steps").insert(row)

    def get(self, run_id: int) -> dict[str, Any]:
        return dict(self.db.table("train_runs").get(run_id))

    def by_name(self, name: str) -> list[dict[str, Any]]:
        """Every invocation of the run ``name``, newest first."""
        return list(self.db.table("train_runs").rows_where("name = ?", [name], order_by="id desc"))

    def latest(
        self, kind: str, *, status: str | None = None, base_model_hash: str | None = None
    ) -> dict[str, Any] | None:
        """The newest run of ``kind`` (with ``status`` and base model, when given)."""
        where, args = ["kind = ?"], [kind]
        if status:
            where.append("status = ?")
            args.append(status)
        if base_model_hash:
            where.append("base_model_hash = ?")
            args.append(base_model_hash)
        rows = list(
            self.db.table("train_runs").rows_where(
                " AND ".join(where), args, order_by="id desc", limit=1
            )
        )
        return rows[0] if rows else None

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest runs first."""
        rows = self.db.table("train_runs").rows_where(order_by="id desc", limit=limit)
        return [dict(row) for row in rows]

    def steps(self, run_id: int) -> list[dict[str, Any]]:
        return list(
            self.db.table("train_steps").rows_where("train_run_id = ?", [run_id], order_by="step")
        )


def step_fields(logs: dict[str, Any], tokens_per_s: float | None, peak: int) -> dict[str, Any]:
    """The columns of one ``train_steps`` row from a TRL log dict.

    >>> row = step_fields({"loss": 1.5, "learning_rate": 1e-4, "rewards/path_reward/mean": 0.5,
    ...                    "rewards/path_reward/std": 0.1, "reward": 0.5, "num_tokens": 120.0},
    ...                   40.0, 1024)
    >>> row["loss"], row["lr"], row["rewards"], row["tokens"]
    (1.5, 0.0001, {'path': 0.5}, 120)
    """
    rewards = {
        key.removeprefix("rewards/").removesuffix("/mean").removesuffix("_reward"): value
        for key, value in logs.items()
        if key.startswith("rewards/") and key.endswith("/mean")
    }
    known = {"loss", "grad_norm", "learning_rate", "reward", "num_tokens", "epoch"}
    extra = {
        k: v
        for k, v in logs.items()
        if k not in known and not (k.startswith("rewards/") and k.endswith("/mean"))
    }
    tokens = _finite(logs.get("num_tokens"))
    return {
        "epoch": _finite(logs.get("epoch")),
        "loss": _finite(logs.get("loss")),
        "grad_norm": _finite(logs.get("grad_norm")),
        "lr": _finite(logs.get("learning_rate")),
        "reward": _finite(logs.get("reward")),
        "rewards": {k: _finite(v) for k, v in rewards.items()},
        "tokens": None if tokens is None else int(tokens),
        "tokens_per_s": tokens_per_s,
        "peak_bytes": peak,
        "metrics": extra,
    }


class StepRecorder(TrainerCallback):
    """Writes every logged step to ``train_steps``; keeps the last values for the summary.
    ``runs`` is None on the ranks other than 0 of a multi-process run: they write nothing."""

    def __init__(
        self, runs: TrainRuns | None, run_id: int, device: str, echo: Any | None = None
    ) -> None:
        self.runs = runs
        self.run_id = run_id
        self.device = device
        self.echo = echo
        self.summary: dict[str, Any] = {}
        self.last: dict[str, Any] = {}
        self.losses: list[float] = []
        self.last_step = -1
        self._mark: tuple[float, float | None] = (time.perf_counter(), None)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # a fresh run starts from 0 tokens; a resumed one has no count until its first log
        self._mark = (time.perf_counter(), 0.0 if state.global_step == 0 else None)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any
    ) -> None:
        logs = dict(logs or {})
        if any(key in logs for key in SUMMARY_KEYS):
            self.summary = {k: v for k, v in logs.items() if isinstance(v, int | float)}
            return
        if "loss" not in logs and not any(k.startswith("rewards/") for k in logs):
            return
        now = time.perf_counter()
        tokens = _finite(logs.get("num_tokens"))
        rate = None
        then, before = self._mark
        if tokens is not None and before is not None and now > then:
            rate = round((tokens - before) / (now - then), 2)
        self._mark = (now, tokens)
        fields = step_fields(logs, rate, peak_memory(self.device))
        if self.runs is not None:
            self.runs.step(self.run_id, step=int(state.global_step), **fields)
        self.last = fields
        self.last_step = int(state.global_step)
        if fields["loss"] is not None:
            self.losses.append(fields["loss"])
        if self.echo is not None:
            self.echo(int(state.global_step), int(state.max_steps or 0), fields)


class StepHook(TrainerCallback):
    """After each step the recorder stored (it must come first in the callbacks), calls
    ``on_step(step, total, fields)``. When that raises :class:`Cancelled`, the trainer saves a
    checkpoint at this step and stops; ``cancelled`` tells the caller."""

    def __init__(self, recorder: StepRecorder, on_step: StepCallback | None) -> None:
        self.recorder = recorder
        self.on_step = on_step
        self.cancelled = False
        self._seen = -1

    def on_log(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        step = self.recorder.last_step
        if self.on_step is None or step < 0 or step == self._seen:
            return
        self._seen = step
        try:
            self.on_step(step, int(state.max_steps or 0), dict(self.recorder.last))
        except Cancelled:
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
