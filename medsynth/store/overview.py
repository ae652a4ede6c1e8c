"""Read-only views of a workspace that the CLI and the TUI both show: recent runs, counts,
rejects and samples with their provenance. One query each, so the two never disagree about what
a workspace holds."""

from __future__ import annotations

from typing import Any

import sqlite_utils

RUN_COLUMNS = (
    "id",
    "command",
    "status",
    "started_at",
    "ended_at",
    "summary",
    "error",
    "pid",
    "host",
    "resumed_by",
)


def recent_runs(db: sqlite_utils.Database, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` runs, newest first, as dicts of :data:`RUN_COLUMNS`."""
    return list(
        db.query(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY id DESC LIMIT ?", [limit])
    )


def reject_rows(
    db: sqlite_utils.Database, stage: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The first ``limit`` rejects (of one ``stage``, or all), oldest first: id, run_id, stage,
    source, reason, raw."""
    where, params = ("WHERE stage = ?", [stage]) if stage else ("", [])
    return list(
        db.query(
            f"SELECT id, run_id, stage, source, reason, raw FROM rejects {where} "
            "ORDER BY id LIMIT ?",
            [*params, limit],
        )
    )


def sample_rows(
    db: sqlite_utils.Database, status: str, generator: str | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """The first ``limit`` samples of one status (and generator), with their provenance."""
    return list(
        db.query(
            "SELECT id, record_id, generator, sample_type, question, answer, key_answer, "
            "path_entities, template, template_version, model, seed, call_ids, status, reason "
            "FROM samples WHERE status = ? AND (? IS NULL OR generator = ?) ORDER BY id LIMIT ?",
            [status, generator, generator, limit],
        )
    )


def sample_counts(db: sqlite_utils.Database) -> dict[str, dict[str, int]]:
    """Samples by generator and status."""
    counts: dict[str, dict[str, int]] = {}
    for generator, status, n in db.execute(
        "SELECT generator, status, count(*) FROM samples GROUP BY 1, 2 ORDER BY 1, 2"
    ):
        counts.setdefault(generator, {})[status] = n
    return counts


def blinded_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Kept samples per generator that were written without seeing the image (marked blinded)."""
    rows = db.execute(
        "SELECT generator, count(*) FROM samples WHERE status = 'kept' AND "
        "json_extract(meta, '$.blinded') = 1 GROUP BY generator ORDER BY generator"
    )
    return {str(g): int(n) for g, n in rows}


def image_use_counts(db: sqlite_utils.Database) -> dict[str, dict[str, int]]:
    """Kept samples per generator: written by a model call that was sent the image
    (``with_image``), or from text alone (``text_only``: no call, or calls without images)."""
    rows = db.execute(
        "SELECT s.generator, EXISTS (SELECT 1 FROM json_each(s.call_ids) c JOIN llm_calls l "
        "ON l.id = c.value WHERE l.image_hashes NOT IN ('', '[]')) FROM samples s "
        "WHERE s.status = 'kept'"
    )
    counts: dict[str, dict[str, int]] = {}
    for generator, seen in rows:
        entry = counts.setdefault(str(generator), {"with_image": 0, "text_only": 0})
        entry["with_image" if seen else "text_only"] += 1
    return dict(sorted(counts.items()))


def dataset_contexts(db: sqlite_utils.Database, dataset: str) -> list[tuple[int, str]]:
    """``(record id, context)`` of every record of the dataset named ``dataset``, by id."""
    return db.execute(
        "SELECT r.id, r.context FROM records r JOIN datasets d ON d.id = r.dataset_id "
        "WHERE d.name = ? ORDER BY r.id",
        [dataset],
    ).fetchall()


def record_matches(
    db: sqlite_utils.Database, record_id: int
) -> list[tuple[str, str | None, str, str | None]]:
    """``(kind, mention, stage, entity name)`` of each of the record's matches (name None when
    the match has no entity)."""
    return db.execute(
        "SELECT m.kind, m.mention, m.stage, e.name FROM matches m LEFT JOIN entities e "
        "ON e.id = m.entity_id WHERE m.record_id = ?",
        [record_id],
    ).fetchall()


def first_kept_samples(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The first kept sample of each generator, by id: generator, sample_type, question,
    answer, key_answer, path_entities, template, template_version, model."""
    return list(
        db.query(
            "SELECT generator, sample_type, question, answer, key_answer, path_entities, "
            "template, template_version, model FROM samples WHERE id IN (SELECT min(id) FROM "
            "samples WHERE status = 'kept' GROUP BY generator) ORDER BY id"
        )
    )


def workspace_counts(db: sqlite_utils.Database) -> dict[str, Any]:
    """What the workspace holds: KG sizes, records per dataset (kept, total), grounded records
    and disease match stages, samples by generator and status, rejects, train and eval runs."""

    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    return {
        "entities": one("SELECT count(*) FROM entities"),
        "triples": one("SELECT count(*) FROM triples"),
        "entity_images": one("SELECT count(*) FROM entity_images"),
        "datasets": [
            (name, int(kept or 0), int(total))
            for name, kept, total in db.execute(
                "SELECT d.name, sum(r.status = 'kept'), count(r.id) FROM datasets d "
                "LEFT JOIN records r ON r.dataset_id = d.id GROUP BY d.id ORDER BY d.name"
            )
        ],
        "grounded": one("SELECT count(DISTINCT record_id) FROM matches"),
        "disease_stages": dict(
            db.execute(
                "SELECT stage, count(*) FROM matches WHERE kind = 'disease' "
                "GROUP BY stage ORDER BY stage"
            ).fetchall()
        ),
        "samples": sample_counts(db),
        "rejects": one("SELECT count(*) FROM rejects"),
        "train_runs": one("SELECT count(*) FROM train_runs"),
        "eval_runs": one("SELECT count(*) FROM eval_runs"),
    }
