"""Every query of ``medsynth.synth`` on the workspace, by table family.

- The TUI's Synthesize screen: the newest samples, new rows since the last look, their statuses,
  one sample in full. These are LIMITed (the TUI runs them on its event loop while a synthesis
  job writes on its own connection; SQLite's WAL mode lets both work at once).
- What the generators read of a record: grounded records, their matches and triples, entity
  names (:mod:`~medsynth.synth.context`, :mod:`~medsynth.synth.facts`).
- The samples synthesis reads back and marks: tasks done, key answers, near-duplicates,
  contamination. The callers hold the run's lock or open the transaction (``with db.conn:``)
  around these, as each needs.
"""

from __future__ import annotations

from collections.abc import Sequence
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


# --- what the generators read of a record ----------------------------------------------------

_CANDIDATES = (
    "FROM records r JOIN datasets d ON d.id = r.dataset_id "
    "JOIN extractions x ON x.record_id = r.id "
    "WHERE r.status = 'kept' AND (? IS NULL OR r.dataset_id = ?) AND (? IS NULL OR r.id <= ?)"
)


def count_records(db: sqlite_utils.Database, dataset_id: int | None, end: int | None = None) -> int:
    """Grounded, kept records (of one dataset, or all; up to record ``end``)."""
    params = [dataset_id, dataset_id, end, end]
    return int(db.execute("SELECT count(*) " + _CANDIDATES, params).fetchone()[0])


def record_page(
    db: sqlite_utils.Database, dataset_id: int | None, end: int | None, after: int, limit: int
) -> list[tuple[Any, ...]]:
    """Up to ``limit`` grounded, kept records with ``id > after`` (up to record ``end``), in id
    order: id, dataset_id, dataset name, root, images, image_sha256, context, context_derived,
    meta, width, height."""
    return db.execute(
        "SELECT r.id, r.dataset_id, d.name, d.root, r.images, r.image_sha256, r.context, "
        "r.context_derived, r.meta, r.width, r.height "
        + _CANDIDATES
        + " AND r.id > ? ORDER BY r.id LIMIT ?",
        [dataset_id, dataset_id, end, end, after, limit],
    ).fetchall()


def record_groundings(db: sqlite_utils.Database, record_id: int) -> list[tuple[Any, ...]]:
    """The record's matches (one per kind), grounded or not, by kind: kind, mention, stage,
    entity id, entity name (the last two None when the mention matched no entity)."""
    return db.execute(
        "SELECT m.kind, m.mention, m.stage, e.id, e.name FROM matches m "
        "LEFT JOIN entities e ON e.id = m.entity_id WHERE m.record_id = ? ORDER BY m.kind",
        [record_id],
    ).fetchall()


def record_triple_ids(db: sqlite_utils.Database, record_id: int) -> list[int]:
    """Ids of the triples linked to the record, in id order."""
    return [
        r[0]
        for r in db.execute(
            "SELECT triple_id FROM record_triples WHERE record_id = ? ORDER BY triple_id",
            [record_id],
        )
    ]


def kept_records_before(db: sqlite_utils.Database, dataset_id: int, record_id: int) -> int:
    """Kept records of the dataset with a lower id than ``record_id`` (the record's position)."""
    return int(
        db.execute(
            "SELECT count(*) FROM records WHERE dataset_id = ? AND status = 'kept' AND id < ?",
            [dataset_id, record_id],
        ).fetchone()[0]
    )


def disease_name(db: sqlite_utils.Database, entity_id: int) -> str | None:
    """The entity's name if it is a disease, else None."""
    row = db.execute(
        "SELECT name FROM entities WHERE id = ? AND type = 'disease'", [entity_id]
    ).fetchone()
    return None if row is None else row[0]


def entity_aliases(db: sqlite_utils.Database, entity_id: int) -> list[str]:
    """The entity's aliases."""
    return [r[0] for r in db.execute("SELECT alias FROM aliases WHERE entity_id = ?", [entity_id])]


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


def disease_and_organ_names(db: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    """Every disease and organ entity with each of its aliases (one row per alias; alias None
    when it has none), in entity then alias order: id, type, name, alias."""
    return db.execute(
        "SELECT e.id, e.type, e.name, a.alias FROM entities e "
        "LEFT JOIN aliases a ON a.entity_id = e.id WHERE e.type IN ('disease', 'organ') "
        "ORDER BY e.id, a.id"
    ).fetchall()


# --- samples that synthesis reads back and marks ---------------------------------------------


def done_task_keys(db: sqlite_utils.Database, generators: Sequence[str]) -> set[str]:
    """Keys of the finished tasks of ``generators``."""
    return {
        r[0]
        for r in db.execute(
            f"SELECT task_key FROM synth_tasks WHERE status = 'done' AND generator IN "
            f"({', '.join('?' * len(generators))})",
            list(generators),
        )
    }


def kept_multihop_samples(db: sqlite_utils.Database, record_id: int) -> list[tuple[Any, ...]]:
    """The record's kept multihop samples in task order: task_key, position, question, answer,
    path_triples, path_entities, images."""
    return db.execute(
        "SELECT task_key, position, question, answer, path_triples, path_entities, "
        "images FROM samples WHERE record_id = ? AND generator = 'multihop' "
        "AND status = 'kept' ORDER BY task_key, position",
        [record_id],
    ).fetchall()


def kept_key_answers(db: sqlite_utils.Database, record_id: int) -> list[tuple[Any, ...]]:
    """``(generator, question, key_answer)`` of the record's kept keyanswer samples, then its
    hardneg ones, that have a key answer, in task order."""
    return db.execute(
        "SELECT generator, question, key_answer FROM samples WHERE record_id = ? AND "
        "status = 'kept' AND generator IN ('keyanswer', 'hardneg') AND key_answer != '' "
        "ORDER BY generator = 'hardneg', task_key, position",
        [record_id],
    ).fetchall()


def unmark_duplicates(db: sqlite_utils.Database) -> None:
    """Samples marked ``duplicate`` become kept again, without a reason."""
    db.execute("UPDATE samples SET status = 'kept', reason = '' WHERE status = 'duplicate'")


def kept_for_dedup(db: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    """Kept samples grouped by record and sample type, in task order: id, record_id,
    sample_type, question_key, answer."""
    return db.execute(
        "SELECT id, record_id, sample_type, question_key, answer FROM samples "
        "WHERE status = 'kept' ORDER BY record_id, sample_type, task_key, position"
    ).fetchall()


def mark_duplicate_samples(db: sqlite_utils.Database, marks: Sequence[tuple[str, int]]) -> None:
    """Mark samples ``duplicate``, each with its reason: ``(reason, sample id)`` pairs."""
    db.conn.executemany("UPDATE samples SET status = 'duplicate', reason = ? WHERE id = ?", marks)


def unmark_contaminated(db: sqlite_utils.Database) -> None:
    """Samples marked ``contaminated`` become kept again, with no hits."""
    db.execute(
        "UPDATE samples SET status = 'kept', contamination = '[]' WHERE status = 'contaminated'"
    )


def kept_with_image_hashes(db: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    """Kept samples in id order with their record's image hashes: id, question, image_sha256,
    phash."""
    return db.execute(
        "SELECT s.id, s.question, r.image_sha256, r.phash FROM samples s "
        "JOIN records r ON r.id = s.record_id WHERE s.status = 'kept' ORDER BY s.id"
    ).fetchall()


def mark_contaminated(db: sqlite_utils.Database, flagged: Sequence[tuple[str, int]]) -> None:
    """Mark samples ``contaminated`` with their hits: ``(hits as JSON, sample id)`` pairs."""
    db.conn.executemany(
        "UPDATE samples SET status = 'contaminated', contamination = ? WHERE id = ?", flagged
    )
