"""Read what the generators need from the workspace: grounded records, paths, triples, names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from medsynth.kg.paths import KGPath, paths_for
from medsynth.synth.model import Grounding, RecordContext

PAGE = 256

_CANDIDATES = (
    "FROM records r JOIN datasets d ON d.id = r.dataset_id "
    "JOIN extractions x ON x.record_id = r.id "
    "WHERE r.status = 'kept' AND (? IS NULL OR r.dataset_id = ?) AND (? IS NULL OR r.id <= ?)"
)


def count_records(db: sqlite_utils.Database, dataset_id: int | None, end: int | None = None) -> int:
    """Grounded, kept records (of one dataset, or all; up to record ``end``)."""
    params = [dataset_id, dataset_id, end, end]
    return int(db.execute("SELECT count(*) " + _CANDIDATES, params).fetchone()[0])


def iter_records(
    db: sqlite_utils.Database, dataset_id: int | None, end: int | None, max_pixels: int
) -> Iterator[RecordContext]:
    """Grounded, kept records in id order (up to record ``end``), a page at a time."""
    last = 0
    while True:
        rows = db.execute(
            "SELECT r.id, r.dataset_id, d.name, d.root, r.images, r.image_sha256, r.context, "
            "r.context_derived, r.meta, r.width, r.height "
            + _CANDIDATES
            + " AND r.id > ? ORDER BY r.id LIMIT ?",
            [dataset_id, dataset_id, end, end, last, PAGE],
        ).fetchall()
        if not rows:
            return
        for row in rows:
            yield load_context(db, row, max_pixels)
        last = rows[-1][0]


def load_context(db: sqlite_utils.Database, row: tuple[Any, ...], max_pixels: int) -> RecordContext:
    """One record's context from its ``records`` row and its grounding rows."""
    record_id, dataset_id, dataset, root, images, sha, context, derived, meta, width, height = row
    groundings = [
        Grounding(int(eid), name, kind, mention or "", stage)
        for kind, mention, stage, eid, name in db.execute(
            "SELECT m.kind, m.mention, m.stage, m.entity_id, e.name FROM matches m "
            "JOIN entities e ON e.id = m.entity_id WHERE m.record_id = ? ORDER BY m.kind",
            [record_id],
        )
    ]
    mentions = {
        kind: mention or ""
        for kind, mention in db.execute(
            "SELECT kind, mention FROM matches WHERE record_id = ?", [record_id]
        )
    }
    triple_ids = [
        r[0]
        for r in db.execute(
            "SELECT triple_id FROM record_triples WHERE record_id = ? ORDER BY triple_id",
            [record_id],
        )
    ]
    position = db.execute(
        "SELECT count(*) FROM records WHERE dataset_id = ? AND status = 'kept' AND id < ?",
        [dataset_id, record_id],
    ).fetchone()[0]
    return RecordContext(
        id=record_id,
        dataset_id=dataset_id,
        dataset=dataset,
        root=Path(root),
        images=json.loads(images or "[]"),
        image_sha256=json.loads(sha or "[]"),
        context=context or "",
        derived=bool(derived),
        meta=json.loads(meta or "{}"),
        groundings=groundings,
        triple_ids=triple_ids,
        mentions=mentions,
        position=int(position),
        size=(int(width or 0), int(height or 0)),
        max_pixels=max_pixels,
    )


def record_paths(db: sqlite_utils.Database, ctx: RecordContext) -> list[KGPath]:
    """Short and long KG paths of the record's grounded entities, without repeats, in a stable
    order (disease paths first)."""
    seen: set[tuple[int, ...]] = set()
    found: list[KGPath] = []
    for grounding in sorted(ctx.groundings, key=lambda g: g.kind):  # disease < organ
        for path in paths_for(db, grounding.entity_id, language="en"):
            ids = tuple(t.id for t in path.triples)
            if ids and ids not in seen:
                seen.add(ids)
                found.append(path)
    return found


def disease_names(db: sqlite_utils.Database, entity_ids: list[int]) -> list[str]:
    """Names and aliases of the disease entities among ``entity_ids`` (what questions must not
    say)."""
    names: list[str] = []
    for entity_id in entity_ids:
        row = db.execute(
            "SELECT name FROM entities WHERE id = ? AND type = 'disease'", [entity_id]
        ).fetchone()
        if row is None:
            continue
        names.append(row[0])
        names += [
            r[0] for r in db.execute("SELECT alias FROM aliases WHERE entity_id = ?", [entity_id])
        ]
    return list(dict.fromkeys(names))


def triples_text(
    db: sqlite_utils.Database, triple_ids: list[int]
) -> list[tuple[int, str, str, str]]:
    """``(id, head, relation, tail)`` of the given triples, English first, in id order."""
    if not triple_ids:
        return []
    marks = ",".join("?" * len(triple_ids))
    return [
        (r[0], r[1], r[2], r[3])
        for r in db.execute(
            f"SELECT id, head, relation, tail FROM triples WHERE id IN ({marks}) "
            "ORDER BY language != 'en', id",
            triple_ids,
        )
    ]
