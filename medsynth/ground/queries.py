"""Read-only views of ingested and grounded records, for the TUI's Ingest & Ground, Synthesize
and Chat screens: datasets, grounding counts, rejects, one record in full, record images; and
the counts ``medsynth ground report`` adds up (:mod:`medsynth.ground.report`).

Every query the TUI runs is small and LIMITed (it runs them on its event loop); image paths are
resolved inside their dataset's root.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from medsynth.errors import InputError

RECORD_LIMIT = 200
REJECT_LIMIT = 100
TRIPLE_LIMIT = 200
STAGES = ("exact", "fuzzy", "unmatched")


@dataclass(frozen=True)
class DatasetRow:
    """A dataset with its record counts."""

    id: int
    name: str
    format: str
    kept: int
    total: int
    pending: int  # kept records without matches yet


@dataclass(frozen=True)
class RejectRow:
    """One refused input of ingest or grounding."""

    id: int
    stage: str
    source: str
    reason: str


@dataclass
class RecordView:
    """Everything shown for one record."""

    id: int
    key: str
    status: str
    filter_reason: str | None
    context: str
    image: Path | None
    image_error: str = ""
    extraction: tuple[str, str] | None = None  # disease, organ
    matches: list[dict[str, Any]] = field(default_factory=list)
    triples: list[tuple[str, str, str]] = field(default_factory=list)


def datasets(db: sqlite_utils.Database) -> list[DatasetRow]:
    """Every dataset (by name) with kept, total and still-to-ground counts."""
    rows = db.execute(
        "SELECT d.id, d.name, d.format, coalesce(sum(r.status = 'kept'), 0), count(r.id), "
        "coalesce(sum(r.status = 'kept' AND NOT EXISTS "
        "(SELECT 1 FROM matches m WHERE m.record_id = r.id)), 0) "
        "FROM datasets d LEFT JOIN records r ON r.dataset_id = d.id GROUP BY d.id ORDER BY d.name"
    ).fetchall()
    return [DatasetRow(*row) for row in rows]


def dataset_names(db: sqlite_utils.Database, limit: int = 200) -> list[str]:
    """The datasets' names, in order."""
    return [
        str(name)
        for (name,) in db.execute("SELECT name FROM datasets ORDER BY name LIMIT ?", [limit])
    ]


def match_counts(db: sqlite_utils.Database, dataset_id: int) -> dict[str, dict[str, int]]:
    """{kind: {stage: matches}} for the records of one dataset (every stage present)."""
    counts: dict[str, dict[str, int]] = {}
    for kind, stage, count in db.execute(
        "SELECT m.kind, m.stage, count(*) FROM matches m JOIN records r ON r.id = m.record_id "
        "WHERE r.dataset_id = ? GROUP BY m.kind, m.stage",
        [dataset_id],
    ):
        counts.setdefault(kind, dict.fromkeys(STAGES, 0))[stage] = count
    return counts


def rejects(db: sqlite_utils.Database, limit: int = REJECT_LIMIT) -> list[RejectRow]:
    """Newest ingest and ground rejects first."""
    return [
        RejectRow(int(i), str(stage), str(source), str(reason))
        for i, stage, source, reason in db.execute(
            "SELECT id, stage, source, reason FROM rejects "
            "WHERE stage IN ('ingest', 'ground', 'ground mention') "
            "ORDER BY id DESC LIMIT ?",
            [limit],
        )
    ]


def records(
    db: sqlite_utils.Database, dataset_id: int, limit: int = RECORD_LIMIT
) -> list[tuple[str, ...]]:
    """(id, key, status, disease stage, organ stage) of a dataset's first records, as text
    (``-`` for none)."""
    rows = db.execute(
        "SELECT r.id, r.key, r.status, "
        "(SELECT stage FROM matches m WHERE m.record_id = r.id AND m.kind = 'disease'), "
        "(SELECT stage FROM matches m WHERE m.record_id = r.id AND m.kind = 'organ') "
        "FROM records r WHERE r.dataset_id = ? ORDER BY r.id LIMIT ?",
        [dataset_id, limit],
    ).fetchall()
    return [tuple("-" if v is None else str(v) for v in row) for row in rows]


def resolve_image(root: str, relative: str) -> Path:
    """``root / relative`` resolved; InputError when it is absolute or escapes the root."""
    base = Path(root).resolve()
    if os.path.isabs(relative):
        raise InputError("absolute image path in a record", source=relative)
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise InputError(
            "image path escapes the dataset root",
            source=relative,
            hint=f"record image paths must stay inside {base}",
        )
    return path


def record_view(db: sqlite_utils.Database, record_id: int) -> RecordView | None:
    """One record: first image (resolved safely), context, extraction, matches (with their
    candidates and the newest refusal of each), triples; None when there is no such record."""
    row = db.execute(
        "SELECT r.id, r.key, r.status, r.filter_reason, r.context, r.images, d.root "
        "FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?",
        [record_id],
    ).fetchone()
    if row is None:
        return None
    view = RecordView(row[0], row[1], row[2], row[3], row[4] or "", None)
    try:
        images = json.loads(row[5] or "[]")
        if images:
            view.image = resolve_image(row[6], str(images[0]))
    except InputError as exc:
        view.image_error = str(exc).splitlines()[0]
    except (json.JSONDecodeError, TypeError):
        view.image_error = "the record's image list is not valid JSON"
    extraction = db.execute(
        "SELECT disease, organ FROM extractions WHERE record_id = ?", [record_id]
    ).fetchone()
    view.extraction = (str(extraction[0]), str(extraction[1])) if extraction else None
    for kind, mention, stage, name, candidates, text_only in db.execute(
        "SELECT m.kind, m.mention, m.stage, e.name, m.candidates, m.text_only FROM matches m "
        "LEFT JOIN entities e ON e.id = m.entity_id WHERE m.record_id = ? ORDER BY m.kind",
        [record_id],
    ).fetchall():
        try:
            parsed = json.loads(candidates or "[]")
        except json.JSONDecodeError:
            parsed = []
        refusal = db.execute(
            "SELECT reason FROM rejects WHERE stage = 'ground mention' AND source = ? "
            "ORDER BY id DESC LIMIT 1",
            [f"record {record_id} {kind}"],
        ).fetchone()
        view.matches.append(
            {
                "kind": kind,
                "mention": mention,
                "stage": stage,
                "entity": name,
                "candidates": parsed if isinstance(parsed, list) else [],
                "text_only": bool(text_only),
                "refusal": str(refusal[0]) if refusal and stage != "exact" else "",
            }
        )
    view.triples = [
        (str(h), str(r), str(t))
        for h, r, t in db.execute(
            "SELECT e.name, t.relation, t.tail FROM record_triples rt "
            "JOIN triples t ON t.id = rt.triple_id JOIN entities e ON e.id = t.head_id "
            "WHERE rt.record_id = ? ORDER BY t.id LIMIT ?",
            [record_id, TRIPLE_LIMIT],
        )
    ]
    return view


def kept_record_images(db: sqlite_utils.Database, limit: int = 200) -> list[tuple[str, str]]:
    """(label, image path) of the kept records' first images, by record id; the label is the
    record id, its dataset and the start of its context."""
    out = []
    for rid, dataset, root, images, context in db.execute(
        "SELECT r.id, d.name, d.root, r.images, r.context FROM records r JOIN datasets d "
        "ON d.id = r.dataset_id WHERE r.status = 'kept' ORDER BY r.id LIMIT ?",
        [limit],
    ):
        paths = json.loads(images or "[]")
        if paths:
            caption = " ".join(str(context).split())[:22]
            out.append((f"{rid} {dataset}: {caption}", str(Path(root) / paths[0])))
    return out


# --- the records a ground run works through -----------------------------------------------------

_UNGROUNDED = (
    "FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE r.status = 'kept' "
    "AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.record_id = r.id) "
    "AND (? IS NULL OR r.dataset_id = ?) AND (? IS NULL OR r.id <= ?)"
)
_UNGROUNDED_COLUMNS = ("id", "images", "image_sha256", "context", "context_derived", "root")


def ungrounded_records(
    db: sqlite_utils.Database, dataset_id: int | None, end: int | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` kept records without a match (of one dataset, or all; ids up to
    ``end``) after record ``after``, in id order: id, images, image_sha256, context,
    context_derived and their dataset's root."""
    rows = db.execute(
        "SELECT r.id, r.images, r.image_sha256, r.context, r.context_derived, d.root "
        + _UNGROUNDED
        + " AND r.id > ? ORDER BY r.id LIMIT ?",
        [dataset_id, dataset_id, end, end, after, limit],
    ).fetchall()
    return [dict(zip(_UNGROUNDED_COLUMNS, row, strict=True)) for row in rows]


def ungrounded_count(db: sqlite_utils.Database, dataset_id: int | None, end: int | None) -> int:
    """How many kept records (of one dataset, or all; ids up to ``end``) have no match."""
    sql = "SELECT count(*) " + _UNGROUNDED
    return int(db.execute(sql, [dataset_id, dataset_id, end, end]).fetchone()[0])


# --- the grounding report's counts (kept records only) ------------------------------------------


def dataset_names_by_id(db: sqlite_utils.Database) -> dict[int, str]:
    """{dataset id: name} of every dataset."""
    return dict(db.execute("SELECT id, name FROM datasets ORDER BY name").fetchall())


def kept_per_dataset(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """(dataset id, kept records)."""
    return db.execute(
        "SELECT dataset_id, count(*) FROM records WHERE status = 'kept' GROUP BY dataset_id"
    ).fetchall()


def grounded_per_dataset(db: sqlite_utils.Database) -> list[tuple[int, int]]:
    """(dataset id, kept records with at least one match)."""
    return db.execute(
        "SELECT r.dataset_id, count(DISTINCT m.record_id) FROM matches m JOIN records r "
        "ON r.id = m.record_id WHERE r.status = 'kept' GROUP BY r.dataset_id"
    ).fetchall()


def match_groups(db: sqlite_utils.Database) -> list[tuple[int, str, str, str, int, int | None]]:
    """(dataset id, kind, stage, mention, matches, of them text-only) of kept records."""
    return db.execute(
        "SELECT r.dataset_id, m.kind, m.stage, m.mention, count(*), sum(m.text_only) "
        "FROM matches m JOIN records r ON r.id = m.record_id WHERE r.status = 'kept' "
        "GROUP BY 1, 2, 3, 4"
    ).fetchall()


def unmatched_record_reasons(db: sqlite_utils.Database) -> list[tuple[int, str]]:
    """(dataset id, reason of its newest ``ground`` reject) of each kept record that has no
    match."""
    rows = db.execute(
        "SELECT r.dataset_id, x.reason, max(x.id) FROM records r JOIN rejects x "
        "ON x.stage = 'ground' AND x.source = 'record ' || r.id WHERE r.status = 'kept' "
        "AND NOT EXISTS (SELECT 1 FROM matches m WHERE m.record_id = r.id) GROUP BY r.id"
    )
    return [(dataset_id, reason) for dataset_id, reason, _ in rows]


def mention_refusals(db: sqlite_utils.Database, stage: str) -> list[tuple[int, str]]:
    """(dataset id, reason of its newest reject of ``stage``) of each refused or unmatched
    mention of a kept record."""
    rows = db.execute(
        "SELECT r.dataset_id, x.reason, max(x.id) FROM matches m JOIN records r "
        "ON r.id = m.record_id JOIN rejects x ON x.stage = ? AND x.source = 'record ' || "
        "m.record_id || ' ' || m.kind AND x.raw = m.mention WHERE r.status = 'kept' "
        "AND m.stage IN ('refused', 'unmatched') GROUP BY m.id",
        [stage],
    )
    return [(dataset_id, reason) for dataset_id, reason, _ in rows]


def slake_datasets(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(name, root) of the datasets ingested in SLAKE's format."""
    return db.execute("SELECT name, root FROM datasets WHERE format = 'slake'").fetchall()
