"""Migration 11: ``record_images``, one row per image of a record with its SHA-256, so a record is
found by an image's hash through an index (the chat's KG context did a ``LIKE`` scan of the JSON
list in ``records.image_sha256``).

Triggers keep the table in step with ``records`` whoever writes them (ingest, tests, older code):
an insert adds the rows, a change of ``image_sha256`` replaces them, a delete removes them. A
malformed JSON list gives no rows rather than failing the write.
"""

from __future__ import annotations

import sqlite_utils

from medsynth.store.migrations import migration

_HASHES = "json_each(CASE WHEN json_valid({col}) THEN {col} ELSE '[]' END)"


def _rows(record: str, col: str) -> str:
    return (
        f"SELECT {record}, CAST(j.key AS INTEGER), j.value FROM {_HASHES.format(col=col)} AS j "
        "WHERE j.type = 'text' AND j.value != ''"
    )


@migration(11)
def m011_record_images(db: sqlite_utils.Database) -> None:
    """``record_images(record_id, position, sha256)``, filled from ``records.image_sha256`` and
    kept in step by triggers; indexed by hash."""
    db.execute(
        "CREATE TABLE record_images ("
        "record_id INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE, "
        "position INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (record_id, position))"
    )
    db.execute("CREATE INDEX idx_record_images_sha256 ON record_images (sha256)")
    db.execute(
        "INSERT INTO record_images "
        + _rows("r.id", "r.image_sha256").replace("FROM ", "FROM records r, ", 1)
    )
    db.execute(
        "CREATE TRIGGER record_images_insert AFTER INSERT ON records BEGIN "
        f"INSERT INTO record_images {_rows('NEW.id', 'NEW.image_sha256')}; END"
    )
    db.execute(
        "CREATE TRIGGER record_images_update AFTER UPDATE OF image_sha256 ON records BEGIN "
        "DELETE FROM record_images WHERE record_id = OLD.id; "
        f"INSERT INTO record_images {_rows('NEW.id', 'NEW.image_sha256')}; END"
    )
    db.execute(
        "CREATE TRIGGER record_images_delete AFTER DELETE ON records BEGIN "
        "DELETE FROM record_images WHERE record_id = OLD.id; END"
    )
