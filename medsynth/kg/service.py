"""KG operations on a workspace, each recorded as a run: what the CLI and the TUI call."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from medsynth.errors import InputError
from medsynth.kg import queries
from medsynth.kg.images import ImageFormat, LinkReport, link_images
from medsynth.kg.indexes import build_index, index_status
from medsynth.kg.model import ParsedKG
from medsynth.kg.paths import KGPath, entity_triples, find_entity, paths_for
from medsynth.kg.slake import parse_slake
from medsynth.kg.triples import parse_triples
from medsynth.kg.writer import ImportReport, write_kg
from medsynth.store.runs import RunRecorder
from medsynth.workspace import Workspace

KGFormat = Literal["slake", "triples"]


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: a bulk import allocates millions of tuples that
    are never cyclic, and the collector's repeated scans of them cost a third of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_kg(
    ws: Workspace,
    path: Path,
    fmt: KGFormat,
    *,
    strict: bool | None = None,
    language: str | None = None,
    keep_going: bool = False,
) -> ImportReport:
    """Parse ``path`` in ``fmt`` and store it; bad rows become rejects unless ``strict``.

    A file that failed as a whole stops the import (nothing written) unless ``keep_going``."""
    strict = ws.config.kg.strict if strict is None else strict
    config = {"path": str(path), "format": fmt, "strict": strict, "keep_going": keep_going}
    with RunRecorder(ws.db, "kg import", config) as run, _no_cyclic_gc():
        parsed: ParsedKG
        if fmt == "slake":
            parsed = parse_slake(path)
        elif fmt == "triples":
            parsed = parse_triples(path, language or ws.config.kg.default_language)
        else:
            raise InputError(f"unknown KG format {fmt!r}", hint="use --format slake or triples")
        report = write_kg(ws.db, parsed, run_id=run.run_id, strict=strict, keep_going=keep_going)
        run.summary = {k: v for k, v in report.as_dict().items() if k != "duplicates"}
    return report


def link_entity_images(ws: Workspace, root: Path, fmt: ImageFormat) -> LinkReport:
    """Attach images under ``root`` to entities (see :mod:`medsynth.kg.images`)."""
    with RunRecorder(ws.db, "kg link-images", {"path": str(root), "format": fmt}) as run:
        report = link_images(
            ws.db,
            root,
            fmt,
            crops_dir=ws.path("images", "crops"),
            run_id=run.run_id,
            max_pixels=ws.config.images.max_pixels,
            crop_min_size=ws.config.images.crop_min_size,
        )
        run.summary = report.as_dict()
    return report


def build_indexes(
    ws: Workspace, *, force: bool = False, names: tuple[str, ...] = ("entity_text", "entity_image")
) -> list[dict[str, Any]]:
    """Rebuild the entity indexes whose content changed (or all with ``force``)."""
    with RunRecorder(ws.db, "kg index", {"force": force, "names": list(names)}) as run:
        results = [
            build_index(ws, name, force=force, run_id=run.run_id)  # type: ignore[arg-type]
            for name in names
        ]
        run.summary = {"indexes": results}
    return results


def kg_stats(ws: Workspace) -> dict[str, Any]:
    """Counts of entities, triples, aliases, images, rejects and the state of the indexes."""
    return {**queries.kg_counts(ws.db), "indexes": index_status(ws)}


def show_entity(ws: Workspace, name: str, language: str | None = None) -> dict[str, Any]:
    """An entity with its aliases, triples (as head and as tail) and images."""
    entity = find_entity(ws.db, name)
    entity_id = entity["id"]
    aliases = [
        {"alias": a, "language": lang} for a, lang in queries.entity_aliases(ws.db, entity_id)
    ]
    incoming = [
        {"id": tid, "head": head, "relation": rel, "language": lang}
        for tid, head, rel, lang in queries.incoming_triples(ws.db, entity_id)
        if language is None or lang == language
    ]
    images = [
        {"path": i["path"], "root": i["root"], "box": i["box"] or None,
         "crop": i["crop_path"], "source": i["source"]}
        for i in queries.entity_image_rows(ws.db, entity_id)
    ]  # fmt: skip
    return {
        "entity": entity,
        "aliases": aliases,
        "triples": [
            {"id": t.id, "relation": t.relation, "tail": t.tail, "language": t.language}
            for t in entity_triples(ws.db, entity_id, language)
        ],
        "incoming": incoming,
        "images": images,
    }


def entity_paths(
    ws: Workspace, name: str, language: str | None = "en"
) -> tuple[dict[str, Any], list[KGPath]]:
    """The entity called ``name`` and its short/long paths."""
    entity = find_entity(ws.db, name)
    return entity, paths_for(ws.db, entity["id"], language=language)
