"""Read what the generators need from the workspace: grounded records, paths, triples, names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from medsynth.kg.paths import KGPath, paths_for
from medsynth.synth import queries
from medsynth.synth.model import Grounding, RecordContext

PAGE = 256


def iter_records(
    db: sqlite_utils.Database, dataset_id: int | None, end: int | None, max_pixels: int
) -> Iterator[RecordContext]:
    """Grounded, kept records in id order (up to record ``end``), a page at a time."""
    last = 0
    while True:
        rows = queries.record_page(db, dataset_id, end, last, PAGE)
        if not rows:
            return
        for row in rows:
            yield load_context(db, row, max_pixels)
        last = rows[-1][0]


def load_context(db: sqlite_utils.Database, row: tuple[Any, ...], max_pixels: int) -> RecordContext:
    """One record's context from its ``records`` row and its grounding rows."""
    record_id, dataset_id, dataset, root, images, sha, context, derived, meta, width, height = row
    matches = queries.record_groundings(db, record_id)
    groundings = [
        Grounding(int(eid), name, kind, mention or "", stage)
        for kind, mention, stage, eid, name in matches
        if eid is not None
    ]
    mentions = {kind: mention or "" for kind, mention, *_ in matches}
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
        triple_ids=queries.record_triple_ids(db, record_id),
        mentions=mentions,
        position=queries.kept_records_before(db, dataset_id, record_id),
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
        name = queries.disease_name(db, entity_id)
        if name is None:
            continue
        names.append(name)
        names += queries.entity_aliases(db, entity_id)
    return list(dict.fromkeys(names))
