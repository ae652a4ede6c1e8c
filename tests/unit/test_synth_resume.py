"""Synthesis survives SIGKILL: killed at 10 random points and restarted, it ends with the same
sample set as an uninterrupted run with the same seed, without duplicates or repeated calls."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from medsynth.backends.fake import ScriptedChat
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.kills import kill_and_resume
from tests.fakes.synth import make_kg, make_records, reply

REPO = Path(__file__).resolve().parents[2]
RECORDS = 8


def build(folder: Path) -> Workspace:
    ws = make_kg(folder)
    make_records(ws, folder, RECORDS)
    return ws


def sample_set(ws: Workspace) -> set[tuple[Any, ...]]:
    return set(
        ws.db.execute(
            "SELECT task_key, position, record_id, generator, sample_type, question, answer, "
            "key_answer, ground_truth, path_triples, path_entities, status, reason FROM samples"
        ).fetchall()
    )


def run_all(ws: Workspace) -> ScriptedChat:
    model = ScriptedChat(reply)
    synthesize(ws, models={"generator": model, "vision_generator": model, "verifier": model})
    return model


def test_sigkill_at_ten_points_then_resume(tmp_path: Path) -> None:
    ref = build(tmp_path / "ref")
    reference_calls = len(run_all(ref).calls)
    expected = sample_set(ref)
    tasks_total = ref.db.execute("SELECT count(*) FROM synth_tasks").fetchone()[0]
    assert len(expected) > 100 and tasks_total > 50

    ws = build(tmp_path / "ws")
    rng = random.Random(2026)
    points = sorted(rng.sample(range(3, tasks_total - 3), 10))
    kills = kill_and_resume(
        ws, "tests.fakes.synth", None, points, "SELECT count(*) FROM synth_tasks", "0.01"
    )
    print(f"killed at {kills} of {tasks_total} tasks")
    assert len(kills) >= 5 and kills[-1] < tasks_total
    logged = ws.db.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0]

    final = run_all(ws)
    assert sample_set(ws) == expected  # same samples, same statuses
    count = ws.db.execute("SELECT count(*) FROM samples").fetchone()[0]
    assert count == len(expected)  # no duplicates
    ok, distinct = ws.db.execute(
        "SELECT count(*), count(DISTINCT cache_key) FROM llm_calls WHERE status = 'ok'"
    ).fetchone()
    assert ok == distinct  # no model call made twice
    assert len(final.calls) == reference_calls - logged  # the restart asked only what was missing
    ws.close()
    ref.close()
