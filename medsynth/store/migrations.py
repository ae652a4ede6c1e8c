"""Numbered schema migrations, recorded in the ``_migrations`` table once applied.

Each migration is a small function registered with :func:`migration`; they run in order, each in its
own transaction, and never run twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlite_utils

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []


def migration(number: int) -> Callable[[Migration], Migration]:
    """Register ``fn`` as migration ``number`` (modules may register in any order; the numbers
    must end up 1, 2, 3 ... with no gap, which :func:`apply_migrations` checks)."""

    def register(fn: Migration) -> Migration:
        if any(known == number for known, _, _ in MIGRATIONS):
            raise RuntimeError(f"migration {fn.__name__}: number {number} is taken")
        MIGRATIONS.append((number, fn.__name__, fn))
        MIGRATIONS.sort(key=lambda m: m[0])
        return fn

    return register


def applied_migrations(db: sqlite_utils.Database) -> list[int]:
    """Numbers of the migrations already applied to ``db``."""
    if "_migrations" not in db.table_names():
        return []
    return [row["number"] for row in db.table("_migrations").rows_where(order_by="number")]


def apply_migrations(db: sqlite_utils.Database) -> list[int]:
    """Apply every pending migration; return the numbers applied now."""
    db.table("_migrations").create(
        {"number": int, "name": str, "applied_at": str}, pk="number", if_not_exists=True
    )
    numbers = [number for number, _, _ in MIGRATIONS]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..N without a gap: {numbers}")
    done = set(applied_migrations(db))
    newer = [n for n in done if n > len(MIGRATIONS)]
    if newer:
        from medsynth.errors import WorkspaceError

        raise WorkspaceError(
            f"the database has schema version {max(newer)}; this MedSynth knows {len(MIGRATIONS)}",
            hint="upgrade MedSynth to open this workspace",
        )
    now_applied = []
    for number, name, fn in MIGRATIONS:
        if number in done:
            continue
        with db.conn:
            fn(db)
            db.table("_migrations").insert({"number": number, "name": name, "applied_at": _now()})
        now_applied.append(number)
    return now_applied


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@migration(1)
def m001_core(db: sqlite_utils.Database) -> None:
    """Runs and rejects: the audit trail of every command."""
    db.table("runs").create(
        {
            "id": int,
            "command": str,
            "config": str,
            "versions": str,
            "started_at": str,
            "ended_at": str,
            "status": str,
            "summary": str,
            "error": str,
        },
        pk="id",
    )
    db.table("rejects").create(
        {
            "id": int,
            "run_id": int,
            "stage": str,
            "source": str,
            "raw": str,
            "reason": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("rejects").create_index(["stage", "source", "reason", "raw"], unique=True)


@migration(2)
def m002_kg(db: sqlite_utils.Database) -> None:
    """Knowledge graph: entities, aliases, triples, entity images."""
    db.table("entities").create(
        {"id": int, "name": str, "norm": str, "type": str, "language": str, "source": str},
        pk="id",
        not_null={"name", "norm", "type", "language"},
    )
    db.table("entities").create_index(["norm"], unique=True)
    db.table("entities").create_index(["type"])
    db.table("aliases").create(
        {"id": int, "entity_id": int, "alias": str, "norm": str, "language": str, "source": str},
        pk="id",
        foreign_keys=[("entity_id", "entities", "id")],
        not_null={"entity_id", "alias", "norm"},
    )
    db.table("aliases").create_index(["entity_id", "norm"], unique=True)
    db.table("aliases").create_index(["norm"])
    db.table("triples").create(
        {
            "id": int,
            "head_id": int,
            "head": str,
            "relation": str,
            "tail": str,
            "tail_id": int,
            "language": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("head_id", "entities", "id"), ("tail_id", "entities", "id")],
        not_null={"head_id", "head", "relation", "tail"},
    )
    # One index serves both: a triple is unique by its exact text (head spelling included), and
    # path queries look triples up by (head_id, relation).
    db.table("triples").create_index(["head_id", "relation", "tail", "head"], unique=True)
    db.execute("CREATE INDEX idx_triples_tail_id ON triples (tail_id) WHERE tail_id IS NOT NULL")
    db.table("entity_images").create(
        {
            "id": int,
            "entity_id": int,
            "root": str,
            "path": str,
            "sha256": str,
            "box": str,
            "crop_path": str,
            "width": int,
            "height": int,
            "source": str,
        },
        pk="id",
        foreign_keys=[("entity_id", "entities", "id")],
        not_null={"entity_id", "path", "sha256"},
    )
    db.table("entity_images").create_index(["entity_id", "sha256", "box"], unique=True)
    db.table("kg_meta").create({"key": str, "value": str}, pk="key")


@migration(3)
def m003_vectors(db: sqlite_utils.Database) -> None:
    """Vector indexes (hnswlib files in the workspace) and their label -> row id maps."""
    db.table("vector_indexes").create(
        {
            "name": str,
            "encoder": str,
            "weak": int,
            "dim": int,
            "count": int,
            "content_hash": str,
            "path": str,
            "built_at": str,
            "build_seconds": float,
        },
        pk="name",
    )
    db.table("vector_ids").create(
        {"index_name": str, "label": int, "ref_table": str, "ref_id": int},
        pk=("index_name", "label"),
        foreign_keys=[("index_name", "vector_indexes", "name")],
    )


@migration(4)
def m004_llm_calls(db: sqlite_utils.Database) -> None:
    """One row per model call: the audit log and, at temperature 0, the resume cache."""
    db.table("llm_calls").create(
        {
            "id": int,
            "run_id": int,
            "role": str,
            "backend": str,
            "model": str,
            "template": str,
            "template_version": str,
            "cache_key": str,
            "prompt_hash": str,
            "image_hashes": str,
            "params": str,
            "messages": str,
            "raw_output": str,
            "parsed_output": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "duration_s": float,
            "attempts": int,
            "status": str,
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("llm_calls").create_index(["cache_key", "status"])
    db.table("llm_calls").create_index(["run_id"])


@migration(5)
def m005_records(db: sqlite_utils.Database) -> None:
    """Ingested image-caption records and their grounding into the KG."""
    db.table("datasets").create(
        {"id": int, "name": str, "format": str, "root": str, "options": str, "created_at": str},
        pk="id",
        not_null={"name", "format", "root"},
    )
    db.table("datasets").create_index(["name"], unique=True)
    db.table("records").create(
        {
            "id": int,
            "dataset_id": int,
            "key": str,  # unique within the dataset: relative image path(s) [+ frame]
            "images": str,  # JSON list of image paths relative to the dataset root
            "image_sha256": str,  # JSON list, same order
            "phash": str,  # JSON list of perceptual hashes (hex)
            "width": int,
            "height": int,
            "context": str,  # caption / inline mentions, or text derived from annotations
            "context_derived": int,  # 1 when built from annotations (SLAKE, VQA-RAD), not a caption
            "meta": str,  # JSON: modality, location, boxes, questions, DICOM frame...
            "status": str,  # kept | filtered
            "filter_reason": str,
            "run_id": int,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("dataset_id", "datasets", "id"), ("run_id", "runs", "id")],
        not_null={"dataset_id", "key", "images", "context", "status"},
    )
    db.table("records").create_index(["dataset_id", "key"], unique=True)
    db.table("records").create_index(["status"])
    db.table("extractions").create(
        {
            "record_id": int,
            "disease": str,
            "organ": str,
            "call_id": int,  # llm_calls row that produced it
            "run_id": int,
            "created_at": str,
        },
        pk="record_id",
        foreign_keys=[("record_id", "records", "id"), ("call_id", "llm_calls", "id")],
    )
    db.table("matches").create(
        {
            "id": int,
            "record_id": int,
            "kind": str,  # disease | organ
            "mention": str,  # what the extractor said
            "stage": str,  # exact | fuzzy | unmatched
            "entity_id": int,  # the matched KG entity (null when unmatched)
            "candidates": str,  # JSON: [{entity_id, name, image_score, text_score, score,
            #   verified, call_id}] for the fuzzy stage
            "text_only": int,  # 1 when no entity image could be scored (text similarity alone)
            "run_id": int,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("record_id", "records", "id"), ("entity_id", "entities", "id")],
    )
    db.table("matches").create_index(["record_id", "kind"], unique=True)
    db.table("record_triples").create(
        {"record_id": int, "triple_id": int},
        pk=("record_id", "triple_id"),
        foreign_keys=[("record_id", "records", "id"), ("triple_id", "triples", "id")],
    )


@migration(6)
def m006_samples(db: sqlite_utils.Database) -> None:
    """Synthesised samples and the synthesis tasks that made them (the resume ledger)."""
    db.table("synth_tasks").create(
        {
            "task_key": str,  # generator:record:unit:seed, unique: a done task is never redone
            "record_id": int,
            "generator": str,
            "unit": str,  # what inside the record: a path, a question, a parent sample...
            "seed": int,
            "status": str,  # done | failed
            "samples": int,  # samples written (kept or rejected)
            "reason": str,
            "run_id": int,
            "created_at": str,
        },
        pk="task_key",
        foreign_keys=[("record_id", "records", "id"), ("run_id", "runs", "id")],
    )
    db.table("synth_tasks").create_index(["generator", "status"])
    db.table("samples").create(
        {
            "id": int,
            "task_key": str,
            "position": int,  # order within its task
            "record_id": int,
            "generator": str,  # multihop | hardneg | keyanswer | describe | instruct | reasoning
            "sample_type": str,  # qa | negative | rl | alignment | instruction | reasoning
            "question": str,
            "answer": str,
            "key_answer": str,
            "ground_truth": str,
            "path_triples": str,  # JSON list of triple ids
            "path_entities": str,  # JSON list of entity names along the path
            "images": str,  # JSON list of image paths (absolute, inside the dataset root)
            "system": str,  # system prompt / role-play scenario text
            "meta": str,  # JSON: scenario, ROI, stages, parent sample, path kind...
            "template": str,
            "template_version": str,
            "model": str,
            "seed": int,
            "call_ids": str,  # JSON list of llm_calls ids
            "question_key": str,  # normalised question, for near-duplicate checks
            "status": str,  # kept | rejected | duplicate | contaminated
            "reason": str,
            "contamination": str,  # JSON list of hits against evaluation sets
            "run_id": int,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("record_id", "records", "id"), ("run_id", "runs", "id")],
        not_null={"task_key", "record_id", "generator", "sample_type", "status"},
    )
    db.table("samples").create_index(["task_key", "position"], unique=True)
    db.table("samples").create_index(["generator", "status"])
    db.table("samples").create_index(["record_id"])


# migrations 7 (eval, chat), 8 (training), 9 (judge scores, reviews), 10 (run owners) and 11
# (record images) live in their own modules
from medsynth.store import (  # noqa: E402, F401
    migrations_eval_train,
    migrations_images,
    migrations_quality,
    migrations_runs,
)
