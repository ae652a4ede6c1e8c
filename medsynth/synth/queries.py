"""Read-only views of the synthesised samples for the TUI's Synthesize screen: the newest rows,
new rows since the last look, their statuses, one sample in full.

Every query is LIMITed (the TUI runs them on its event loop while a synthesis job writes on its
own connection; SQLite's WAL mode lets both work at once).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlite_utils

PAGE = 50  # rows fetched per live update
RELOAD = 200  # rows shown after a run or a filter change

_ROW = "SELECT id, generator, sample_type, status, question FROM samples"
_FILTER = "(? IS NULL OR status = ?)"


class SampleRow(NamedTuple):
    """A samples-table row."""

    id: int
    generator: str
    sample_type: str
    status: str
    question: str | None


def new_samples(
    db: sqlite_utils.Database, after: int, status: str | None, limit: int = PAGE
) -> list[SampleRow]:
    """Samples with ``id > after`` (of one status, or all), oldest first, at most ``limit``."""
    rows = db.execute(
        f"{_ROW} WHERE id > ? AND {_FILTER} ORDER BY id LIMIT ?", [after, status, status, limit]
    ).fetchall()
    return [SampleRow(*row) for row in rows]


def latest_samples(
    db: sqlite_utils.Database, status: str | None, limit: int = RELOAD
) -> list[SampleRow]:
    """The newest ``limit`` samples (of one status, or all), oldest first."""
    rows = db.execute(
        f"{_ROW} WHERE {_FILTER} ORDER BY id DESC LIMIT ?", [status, status, limit]
    ).fetchall()
    return [SampleRow(*row) for row in reversed(rows)]


def newest_sample_id(db: sqlite_utils.Database) -> int:
    """The highest sample id (0 when there is none)."""
    return int(db.execute("SELECT max(id) FROM samples").fetchone()[0] or 0)


def sample_statuses(db: sqlite_utils.Database, ids: list[int]) -> dict[int, str]:
    """{id: status} of those of ``ids`` that still exist."""
    statuses: dict[int, str] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for sample_id, status in db.execute(
            f"SELECT id, status FROM samples WHERE id IN ({marks})", chunk
        ):
            statuses[int(sample_id)] = str(status)
    return statuses


def sample_detail(db: sqlite_utils.Database, sample_id: int) -> dict[str, Any] | None:
    """One sample (every column) with its record's images (``record_images``) and its dataset's
    root (``dataset_root``); None if it is gone."""
    rows = list(
        db.query(
            "SELECT s.*, r.images AS record_images, d.root AS dataset_root FROM samples s "
            "JOIN records r ON r.id = s.record_id JOIN datasets d ON d.id = r.dataset_id "
            "WHERE s.id = ? LIMIT 1",
            [sample_id],
        )
    )
    return rows[0] if rows else None
