"""Runs (one row per command) and rejects (one row per bad input, with its source and reason)."""

from __future__ import annotations

import datetime as dt
import json
import platform
import sqlite3
from types import TracebackType
from typing import Any

import sqlite_utils

import medsynth
from medsynth.errors import Cancelled


def utc_now() -> str:
    """ISO-8601 UTC timestamp, second precision."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Versions that matter for reproducing a run."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"medsynth": medsynth.__version__, "python": platform.python_version()}
    for package in ("sqlite-utils", "hnswlib", "numpy", "sentence-transformers", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["sqlite"] = sqlite3.sqlite_version
    return found


class RunRecorder:
    """Context manager that records one command in ``runs``: config, versions, times, status."""

    def __init__(self, db: sqlite_utils.Database, command: str, config: dict[str, Any]) -> None:
        self.db = db
        self.command = command
        self.config = config
        self.run_id: int | None = None
        self.summary: dict[str, Any] = {}

    def __enter__(self) -> RunRecorder:
        with self.db.conn:
            table = self.db.table("runs").insert(
                {
                    "command": self.command,
                    "config": json.dumps(self.config, default=str, sort_keys=True),
                    "versions": json.dumps(versions(), sort_keys=True),
                    "started_at": utc_now(),
                    "status": "running",
                }
            )
        self.run_id = table.last_pk
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = "ok"
        if exc is not None:
            status = "failed"
            if exc_type is KeyboardInterrupt:
                status = "interrupted"
            elif isinstance(exc, Cancelled):
                status = "cancelled"
        with self.db.conn:
            self.db.table("runs").update(
                self.run_id or 0,
                {
                    "ended_at": utc_now(),
                    "status": status,
                    "summary": json.dumps(self.summary, default=str, sort_keys=True),
                    "error": None
                    if exc is None
                    else f"{exc_type.__name__ if exc_type else ''}: {exc}",
                },
            )


def record_reject(
    db: sqlite_utils.Database,
    *,
    stage: str,
    source: str,
    raw: str,
    reason: str,
    run_id: int | None,
) -> bool:
    """Store one reject; the same (stage, source, reason, raw) is stored once. True if new."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO rejects (run_id, stage, source, raw, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, stage, source, raw, reason, utc_now()],
    )
    return cursor.rowcount > 0
