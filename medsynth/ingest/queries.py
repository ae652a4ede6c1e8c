"""The ingest package's data access: the ``datasets`` table (one row per ingested input, its
options fixed at first use), what ``--limit N`` selects in every record command, a dataset's
totals, and the records an ingest run has already stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils

from medsynth.errors import InputError
from medsynth.ingest.filters import FILTERS
from medsynth.store.runs import utc_now
from medsynth.workspace import Workspace

STAGE = "ingest"


def dataset_id(ws: Workspace, name: str, fmt: str, root: Path, options: dict[str, Any]) -> int:
    """The dataset's id, created on first use; refuses a name already used differently."""
    encoded = json.dumps(options, sort_keys=True)
    row = ws.db.execute(
        "SELECT id, format, root, options FROM datasets WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        with ws.db.conn:
            cursor = ws.db.execute(
                "INSERT INTO datasets (name, format, root, options, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [name, fmt, str(root), encoded, utc_now()],
            )
        return int(cursor.lastrowid or 0)
    if (row[1], row[2], row[3]) != (fmt, str(root), encoded):
        raise InputError(
            f"dataset {name!r} was ingested from {row[2]} as {row[1]} with options {row[3]}",
            hint="re-run with the same format, path, options and [ingest] settings to resume, "
            "or pass --name to store this input as another dataset",
        )
    return int(row[0])


def find_dataset(ws: Workspace, name: str | None) -> int | None:
    """The id of dataset ``name`` (None for None: every dataset); InputError listing the known
    names when there is no such dataset."""
    if name is None:
        return None
    row = ws.db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [r[0] for r in ws.db.execute("SELECT name FROM datasets ORDER BY name")]
        raise InputError(
            "no such dataset in this workspace",
            source=name,
            hint=f"known datasets: {', '.join(known)}" if known else "ingest one first",
        )
    return int(row[0])


def selection_end(ws: Workspace, dataset_id: int | None, limit: int | None) -> int | None:
    """What ``--limit N`` means in every record command: the first N kept records (of one
    dataset, or all) in id order, whatever was done to them before. Returns the id of the last
    of them, or None for no limit (or fewer than N records), so a killed ``--limit`` run resumed
    with the same command ends on the same records as one that was never interrupted."""
    if limit is None:
        return None
    row = ws.db.execute(
        "SELECT id FROM records WHERE status = 'kept' AND (? IS NULL OR dataset_id = ?) "
        "ORDER BY id LIMIT 1 OFFSET ?",
        [dataset_id, dataset_id, limit - 1],
    ).fetchone()
    return None if row is None else int(row[0])


def dataset_totals(ws: Workspace, dataset_id: int, name: str) -> dict[str, Any]:
    """Records by status, filtered records by filter, and ingest rejects of one dataset."""
    by_status = dict(
        ws.db.execute(
            "SELECT status, count(*) FROM records WHERE dataset_id = ? GROUP BY status",
            [dataset_id],
        ).fetchall()
    )
    by_filter = dict(
        ws.db.execute(
            "SELECT substr(filter_reason, 1, instr(filter_reason, ':') - 1), count(*) "
            "FROM records WHERE dataset_id = ? AND status = 'filtered' GROUP BY 1",
            [dataset_id],
        ).fetchall()
    )
    rejects = ws.db.execute(
        "SELECT count(*) FROM rejects WHERE stage = ? AND json_extract(raw, '$.dataset') = ?",
        [STAGE, name],
    ).fetchone()[0]
    return {
        "records": sum(by_status.values()),
        "kept": by_status.get("kept", 0),
        "filtered": by_status.get("filtered", 0),
        "filtered_by": {name: by_filter.get(name, 0) for name in FILTERS},
        "rejects": rejects,
    }


def stored_records(
    db: sqlite_utils.Database, dataset_id: int, with_context: bool
) -> dict[str, tuple[str, list[str], str]]:
    """{key: (status, perceptual hashes, context)} of a dataset's records (the context only
    ``with_context``, else "")."""
    return {
        key: (status, json.loads(phash or "[]"), context or "")
        for key, status, phash, context in db.execute(
            "SELECT key, status, phash, CASE WHEN ? THEN context END FROM records "
            "WHERE dataset_id = ?",
            [with_context, dataset_id],
        )
    }
