"""Runs (one row per command) and rejects (one row per bad input, with its source and reason).

A run row carries the pid and host of its process. A row left ``running`` by a process that
died (SIGKILL, power cut) is marked ``interrupted`` by :func:`mark_interrupted`, which every
opening of the workspace calls; the next run of the same command and config records itself in
the interrupted row's ``resumed_by``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlite_utils

import medsynth
from medsynth.errors import Cancelled
from medsynth.store.lock import LockHolder, is_locked, writer_lock


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


def database_root(db: sqlite_utils.Database) -> Path | None:
    """The folder of ``db``'s file (the workspace), or None for an in-memory database."""
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2]).parent
    return None


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _stale(row: dict[str, Any], locked: bool, host: str) -> str | None:
    """Why a ``running`` row is dead (None when it may still be running)."""
    if row["writer"] and not locked:
        return f"pid {row['pid']} on {row['host']} no longer holds the writer lock"
    if row["pid"] is not None and row["host"] == host and not pid_alive(row["pid"]):
        return f"pid {row['pid']} is gone"
    if row["pid"] is None and not locked:
        return "started by an older MedSynth that recorded no pid, and no writer is active"
    return None


def mark_interrupted(db: sqlite_utils.Database, root: Path | None = None) -> list[int]:
    """Mark ``interrupted`` the runs still ``running`` whose process is gone (or that held the
    writer lock, which nobody holds now); returns their ids. Cheap when nothing is stale."""
    if "pid" not in db.table("runs").columns_dict:
        return []
    rows = list(db.query("SELECT id, pid, host, writer FROM runs WHERE status = 'running'"))
    if not rows:
        return []
    root = root if root is not None else database_root(db)
    locked = True if root is None else is_locked(root)
    host = socket.gethostname()
    dead = [(row["id"], why) for row in rows if (why := _stale(row, locked, host)) is not None]
    if not dead:
        return []
    now = utc_now()
    with db.conn:
        for run_id, why in dead:
            db.execute(
                "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? "
                "WHERE id = ? AND status = 'running'",
                [now, f"the run ended without finishing ({why}): killed or crashed", run_id],
            )
            _mark_children(db, run_id, now)
    return [run_id for run_id, _ in dead]


def _mark_children(db: sqlite_utils.Database, run_id: int, now: str) -> None:
    """The eval run and training run a dead run was working on are interrupted too."""
    tables = set(db.table_names())
    if "eval_runs" in tables:
        db.execute(
            "UPDATE eval_runs SET status = 'interrupted', updated_at = ? "
            "WHERE run_id = ? AND status = 'running'",
            [now, run_id],
        )
    if "train_runs" in tables:
        db.execute(
            "UPDATE train_runs SET status = 'interrupted', ended_at = ? "
            "WHERE run_id = ? AND status = 'running'",
            [now, run_id],
        )


def status_text(status: str | None, resumed_by: int | None) -> str:
    """A run's status for people: ``interrupted (resumed by run 12)``.

    >>> status_text("interrupted", 12), status_text("ok", None)
    ('interrupted (resumed by run 12)', 'ok')
    """
    text = status or ""
    return f"{text} (resumed by run {resumed_by})" if resumed_by else text


def run_status(exc: BaseException | None) -> str:
    """The status a run ends with, from the exception that ended it (None: it finished).

    >>> run_status(None), run_status(KeyboardInterrupt()), run_status(Cancelled("stop"))
    ('ok', 'interrupted', 'cancelled')
    >>> run_status(ValueError("bad"))
    'failed'
    """
    if exc is None:
        return "ok"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, Cancelled):
        return "cancelled"
    return "failed"


class RunRecorder:
    """Context manager that records one command in ``runs``: config, versions, times, status,
    and the pid and host of the process running it.

    Unless ``lock`` is False (chat: a reader that only logs its own session), it holds the
    workspace's writer lock (:mod:`medsynth.store.lock`) while the run lasts, so a second
    writer is refused with the holder named; a CLI command that took the lock first (with
    ``--wait``) re-enters it here for free.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        command: str,
        config: dict[str, Any],
        *,
        lock: bool = True,
    ) -> None:
        self.db = db
        self.command = command
        self.config = config
        self.lock = lock
        self.run_id: int | None = None
        self.summary: dict[str, Any] = {}
        self._lock: AbstractContextManager[LockHolder] | None = None

    def __enter__(self) -> RunRecorder:
        root = database_root(self.db)
        if self.lock and root is not None:
            self._lock = writer_lock(root, self.command)
            self._lock.__enter__()
        try:
            mark_interrupted(self.db, root)
            config = json.dumps(self.config, default=str, sort_keys=True)
            with self.db.conn:
                table = self.db.table("runs").insert(
                    {
                        "command": self.command,
                        "config": config,
                        "versions": json.dumps(versions(), sort_keys=True),
                        "started_at": utc_now(),
                        "status": "running",
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "writer": 1 if self._lock is not None else 0,
                    }
                )
                self.run_id = table.last_pk
                self.db.execute(
                    "UPDATE runs SET resumed_by = ? WHERE command = ? AND config = ? "
                    "AND status = 'interrupted' AND resumed_by IS NULL AND id < ?",
                    [self.run_id, self.command, config, self.run_id],
                )
        except BaseException:
            self._release(None, None, None)
            raise
        return self

    def _release(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(exc_type, exc, tb)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = run_status(exc)
        try:
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
        finally:
            self._release(exc_type, exc, tb)


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
