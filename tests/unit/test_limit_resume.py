"""``--limit N`` means the first N kept records in every record command: a re-run grounds no
more, a killed ``--limit`` run resumed with the same command ends on the uninterrupted run's rows
(several kill points each for ground and synth), and synth's N is ground's N."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsynth.backends.fake import ScriptedChat
from medsynth.ground import ground
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes import synth as synth_fakes
from tests.fakes.kills import kill_and_resume
from tests.fakes.records import add_dataset, add_record, png, script_reply
from tests.unit.test_ground_resume import state
from tests.unit.test_ground_stages import make_kg
from tests.unit.test_synth_resume import sample_set

REPO = Path(__file__).resolve().parents[2]
NAMES = ["Lung Cancer", "Kidney Stones", "bronchial carcinoma", "Pneumonia", "none"]
ANSWERS = {f"case-{n:03d}": {"disease": NAMES[n % 5], "organ": "Lung"} for n in range(200)}
VERIFIER = '{"same": false}'


def cases(folder: Path, count: int) -> Workspace:
    ws = make_kg(folder)
    dataset_id = add_dataset(ws, "cases", folder / "data")
    for n in range(1, count + 1):
        png(folder / "data" / f"{n}.png", seed=n)
        add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:03d}")
    return ws


def ground_limit(ws: Workspace, limit: int | None) -> int:
    report = ground(
        ws,
        limit=limit,
        extractor=ScriptedChat(script_reply(ANSWERS)),
        verifier=ScriptedChat(lambda _m: VERIFIER),
    )
    return report.records


def grounded_keys(ws: Workspace) -> list[str]:
    return [
        r[0]
        for r in ws.db.execute(
            "SELECT key FROM records r WHERE EXISTS (SELECT 1 FROM matches m "
            "WHERE m.record_id = r.id) ORDER BY id"
        )
    ]


def test_ground_limit_twice_grounds_no_more(tmp_path: Path) -> None:
    ws = cases(tmp_path, 20)
    assert ground_limit(ws, 5) == 5
    assert ground_limit(ws, 5) == 0  # the same selection, already grounded: not 5 more
    assert grounded_keys(ws) == [f"{n}.png" for n in range(1, 6)]
    assert ground_limit(ws, 8) == 3  # a larger limit extends the same selection
    assert grounded_keys(ws) == [f"{n}.png" for n in range(1, 9)]
    ws.close()


def test_ground_limit_killed_at_several_points_ends_as_uninterrupted(tmp_path: Path) -> None:
    limit = 24
    ref = cases(tmp_path / "ref", 60)
    assert ground_limit(ref, limit) == limit
    ws = cases(tmp_path / "ws", 60)
    kills = kill_and_resume(
        ws,
        "tests.fakes.records",
        limit,
        [3, 9, 16],
        "SELECT count(DISTINCT record_id) FROM matches",
        "0.05",
    )
    print(f"ground killed after {kills} records")
    assert len(kills) >= 2 and all(k < limit for k in kills)
    resumed = ground_limit(ws, limit)
    assert resumed == limit - kills[-1]
    assert state(ws) == state(ref)  # the same 24 records, the same rows
    assert len(grounded_keys(ws)) == limit
    ws.close()
    ref.close()


def models(reply: Callable[..., str]) -> dict[str, Any]:
    model = ScriptedChat(reply)
    return {"generator": model, "vision_generator": model, "verifier": model}


def test_synth_limit_killed_at_several_points_ends_as_uninterrupted(tmp_path: Path) -> None:
    limit = 4
    ref = synth_fakes.make_kg(tmp_path / "ref")
    synth_fakes.make_records(ref, tmp_path / "ref", 8)
    synthesize(ref, models=models(synth_fakes.reply), limit=limit)
    expected = sample_set(ref)
    tasks = ref.db.execute("SELECT count(*) FROM synth_tasks").fetchone()[0]
    records = {r[0] for r in ref.db.execute("SELECT DISTINCT record_id FROM samples")}
    first = [r[0] for r in ref.db.execute("SELECT id FROM records ORDER BY id LIMIT ?", [limit])]
    assert records == set(first)  # the first four records, nothing after them
    assert tasks > 12

    ws = synth_fakes.make_kg(tmp_path / "ws")
    synth_fakes.make_records(ws, tmp_path / "ws", 8)
    points = sorted(random.Random(14).sample(range(2, tasks - 2), 4))
    kills = kill_and_resume(
        ws, "tests.fakes.synth", limit, points, "SELECT count(*) FROM synth_tasks", "0.01"
    )
    print(f"synth killed at {kills} of {tasks} tasks")
    assert len(kills) >= 2 and kills[-1] < tasks
    synthesize(ws, models=models(synth_fakes.reply), limit=limit)
    assert sample_set(ws) == expected
    assert ws.db.execute("SELECT count(*) FROM synth_tasks").fetchone()[0] == tasks
    ws.close()
    ref.close()


def test_synth_limit_means_the_same_records_as_ground_limit(tmp_path: Path) -> None:
    """Grounding stopped after 3 of the first 6 records: ``synth --limit 6`` works on those
    3, never on grounded records after the sixth."""
    ws = synth_fakes.make_kg(tmp_path)
    ids = synth_fakes.make_records(ws, tmp_path, 10)
    ungrounded = ids[3:6]
    marks = ",".join("?" * len(ungrounded))
    for table in ("extractions", "matches", "record_triples"):
        ws.db.execute(f"DELETE FROM {table} WHERE record_id IN ({marks})", ungrounded)
    ws.db.conn.commit()
    synthesize(ws, ["hardneg"], models=models(synth_fakes.reply), limit=6)
    used = {r[0] for r in ws.db.execute("SELECT DISTINCT record_id FROM samples")}
    assert used == set(ids[:3])
    ws.close()
