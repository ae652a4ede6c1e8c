"""Open the workspace database: WAL mode, foreign keys, owner-only files, migrated schema."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from medsynth.errors import WorkspaceError
from medsynth.store.migrations import apply_migrations


def secure_file(path: Path) -> None:
    """Restrict ``path`` to its owner (patient data may end up in any workspace file)."""
    if path.exists():
        os.chmod(path, 0o600)


def open_database(path: Path, *, create: bool = False) -> sqlite_utils.Database:
    """Open (or with ``create`` make) the database at ``path`` and bring its schema up to date."""
    if not create and not path.exists():
        raise WorkspaceError(
            "no medsynth.db in this workspace",
            source=str(path.parent),
            hint=f"run `medsynth init {path.parent}` or pass --workspace/-w",
        )
    old_umask = os.umask(0o077)
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        apply_migrations(db)
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            f"cannot open the database: {exc}",
            source=str(path),
            hint="restore medsynth.db from a backup, or start a new workspace with `medsynth init`",
        ) from exc
    finally:
        os.umask(old_umask)
    for suffix in ("", "-wal", "-shm"):
        secure_file(Path(f"{path}{suffix}"))
    return db


def insert_rows(
    conn: sqlite3.Connection,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Literal["", "IGNORE", "REPLACE"] = "",
) -> int:
    """Insert dict rows (all with the same keys) inside the caller's transaction; returns how
    many were inserted. Unlike sqlite-utils' ``insert_all`` it never commits on its own, so a caller
    can write several tables in one transaction.

    >>> conn = sqlite3.connect(":memory:")
    >>> _ = conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    >>> insert_rows(conn, "t", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    2
    >>> insert_rows(conn, "t", [{"a": 1, "b": "z"}], conflict="IGNORE")
    0
    >>> conn.execute("SELECT b FROM t ORDER BY a").fetchall()
    [('x',), ('y',)]
    """
    if not rows:
        return 0
    columns = list(rows[0])
    verb = f"INSERT OR {conflict}" if conflict else "INSERT"
    sql = f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    cursor = conn.executemany(sql, [[row[c] for c in columns] for row in rows])
    return max(cursor.rowcount, 0)
