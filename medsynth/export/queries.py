"""The export's reads of the workspace, one place for each: the samples it writes (with their
record's dataset root), the generators present, and the numbers the dataset card and manifest
give (KG totals and coverage, what synthesis set aside). Lists of ids go in batches of
:data:`BATCH` (SQLite's parameter limit)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_utils

BATCH = 500
_SAMPLE_COLUMNS = (
    "s.id, s.record_id, s.generator, s.sample_type, s.question, s.answer, s.key_answer, "
    "s.ground_truth, s.path_triples, s.path_entities, s.images, s.system, s.template, "
    "s.template_version, s.model, s.seed, s.run_id, d.root AS dataset_root"
)


def _batches(items: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


def present_generators(db: sqlite_utils.Database) -> set[str]:
    """The generators that wrote at least one sample."""
    return {row[0] for row in db.execute("SELECT DISTINCT generator FROM samples")}


def export_rows(db: sqlite_utils.Database, ids: list[int]) -> Iterator[dict[str, Any]]:
    """The samples of ``ids``, in that order, with their dataset's root (fetched in batches)."""
    for chunk in _batches(ids):
        cursor = db.execute(
            f"SELECT {_SAMPLE_COLUMNS} FROM samples s LEFT JOIN records r ON r.id = s.record_id "
            f"LEFT JOIN datasets d ON d.id = r.dataset_id WHERE s.id IN ({_marks(chunk)})",
            chunk,
        )
        names = [c[0] for c in cursor.description]
        by_id = {row[0]: dict(zip(names, row, strict=True)) for row in cursor}
        yield from (by_id[i] for i in chunk if i in by_id)


def kg_totals(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """(triples, entities, kept records) the workspace holds."""

    def one(sql: str) -> int:
        return int(db.execute(sql).fetchone()[0])

    return (
        one("SELECT count(*) FROM triples"),
        one("SELECT count(*) FROM entities"),
        one("SELECT count(*) FROM records WHERE status = 'kept'"),
    )


def known_triples(db: sqlite_utils.Database, ids: Sequence[int]) -> int:
    """How many of the triple ids are in the KG."""
    return sum(
        int(db.execute(f"SELECT count(*) FROM triples WHERE id IN ({_marks(c)})", c).fetchone()[0])
        for c in _batches(sorted(ids))
    )


def known_entity_norms(db: sqlite_utils.Database, norms: set[str]) -> int:
    """How many of the normalised names are KG entities (by name or alias)."""
    found: set[str] = set()
    for chunk in _batches(sorted(norms)):
        for sql in (
            f"SELECT norm FROM entities WHERE norm IN ({_marks(chunk)})",
            f"SELECT norm FROM aliases WHERE norm IN ({_marks(chunk)})",
        ):
            found.update(row[0] for row in db.execute(sql, chunk))
    return len(found)


def set_aside(
    db: sqlite_utils.Database, statuses: Sequence[str], generators: Sequence[str]
) -> list[tuple[str, str, int]]:
    """(status, reason, samples) of the samples of ``generators`` with one of ``statuses``,
    by status, then most samples first."""
    return db.execute(
        "SELECT status, coalesce(reason, ''), count(*) FROM samples "
        f"WHERE status IN ({_marks(statuses)}) "
        f"AND generator IN ({_marks(generators)}) GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
        [*statuses, *generators],
    ).fetchall()


def synth_reject_reasons(db: sqlite_utils.Database) -> list[tuple[str, int]]:
    """(reason, rows) of the ``rejects`` of stage synth, most rows first."""
    return db.execute(
        "SELECT coalesce(reason, ''), count(*) FROM rejects WHERE stage = 'synth' "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
