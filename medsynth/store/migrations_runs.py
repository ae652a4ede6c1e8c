"""Migration 10: who runs a command (pid, host, whether it holds the writer lock) and which
later run resumed an interrupted one.

Registered through :func:`medsynth.store.migrations.migration` like the others; imported at the
bottom of ``migrations.py`` so that opening a database always knows it.
"""

from __future__ import annotations

import sqlite_utils

from medsynth.store.migrations import migration


@migration(10)
def m010_run_owner(db: sqlite_utils.Database) -> None:
    """``runs.pid``/``host`` (a run still ``running`` whose process is gone was killed),
    ``runs.writer`` (1 when it held the workspace's writer lock) and ``runs.resumed_by``
    (the id of the later run of the same command and config that went on with its work)."""
    runs = db.table("runs")
    runs.add_column("pid", int)
    runs.add_column("host", str)
    runs.add_column("writer", int)
    runs.add_column("resumed_by", int)
    db.execute("CREATE INDEX idx_runs_status ON runs (status)")
