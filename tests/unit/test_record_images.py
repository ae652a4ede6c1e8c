"""``record_images`` (migration 11): one row per image of a record with its SHA-256, kept in step
with ``records`` by triggers, filled for records written before the migration; the chat finds a
record by an image's hash through it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medsynth.chat import kg_context
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png
from tests.unit.test_ground_stages import make_kg


def rows(ws: Workspace) -> list[tuple[int, int, str]]:
    return [
        tuple(r)
        for r in ws.db.execute(
            "SELECT record_id, position, sha256 FROM record_images ORDER BY 1, 2"
        ).fetchall()
    ]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_triggers_follow_insert_update_delete_and_bad_json(ws: Workspace, tmp_path: Path) -> None:
    dataset_id = add_dataset(ws, "d", tmp_path)
    for n in (1, 2, 3):
        png(tmp_path / f"{n}.png", seed=n)
    first = add_record(ws, dataset_id, ["1.png", "2.png"], "two images")
    assert rows(ws) == [(first, 0, sha(tmp_path / "1.png")), (first, 1, sha(tmp_path / "2.png"))]
    with ws.db.conn:
        ws.db.execute(
            "UPDATE records SET image_sha256 = ? WHERE id = ?",
            [json.dumps([sha(tmp_path / "3.png")]), first],
        )
    assert rows(ws) == [(first, 0, sha(tmp_path / "3.png"))]
    with ws.db.conn:
        ws.db.execute("UPDATE records SET image_sha256 = 'not json' WHERE id = ?", [first])
    assert rows(ws) == []  # a malformed list gives no rows; the write itself goes through
    second = add_record(ws, dataset_id, ["1.png"], "one image")
    with ws.db.conn:
        ws.db.execute("DELETE FROM records WHERE id = ?", [second])
    assert rows(ws) == []


def test_migration_fills_the_table_for_older_records(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    dataset_id = add_dataset(ws, "d", tmp_path)
    png(tmp_path / "1.png", seed=1)
    record = add_record(ws, dataset_id, ["1.png"], "an older record")
    with ws.db.conn:  # back to schema 10, as a workspace made before this migration
        for trigger in ("insert", "update", "delete"):
            ws.db.execute(f"DROP TRIGGER record_images_{trigger}")
        ws.db.execute("DROP TABLE record_images")
        ws.db.execute("DELETE FROM _migrations WHERE number = 11")
    ws.close()
    again = Workspace.open(tmp_path / "ws")
    assert rows(again) == [(record, 0, sha(tmp_path / "1.png"))]
    plan = " ".join(
        str(r)
        for r in again.db.execute(
            "EXPLAIN QUERY PLAN SELECT record_id FROM record_images WHERE sha256 = ?", ["x"]
        )
    )
    assert "idx_record_images_sha256" in plan
    again.close()


def test_chat_finds_the_grounded_record_by_image_hash(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    dataset_id = add_dataset(ws, "d", tmp_path / "data")
    png(tmp_path / "data" / "scan.png", seed=7)
    png(tmp_path / "data" / "other.png", seed=8)
    add_record(ws, dataset_id, ["other.png"], "another record")
    record = add_record(ws, dataset_id, ["scan.png"], "a lung mass")
    triple = ws.db.execute("SELECT id FROM triples ORDER BY id LIMIT 1").fetchone()[0]
    with ws.db.conn:
        ws.db.execute(
            "INSERT INTO record_triples (record_id, triple_id) VALUES (?, ?)", [record, triple]
        )
    image = tmp_path / "data" / "scan.png"
    context = kg_context(ws, [image], [sha(image)], "")
    assert context.source == f"record {record} (d)"
    assert context.triple_ids == [triple]
    ws.close()
