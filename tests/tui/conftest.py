"""A tiny workspace for the TUI's pilot tests: the demo KG (indexed), the four demo records
ingested and grounded with the embedded SmolLM2 (real llama.cpp), built once per session and
copied for each test."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from medsynth.workspace import Workspace
from tests.fakes.workspaces import grounded_demo

SIZE = (130, 42)  # every pilot and snapshot test runs at this terminal size
FIXED_TIME = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="session")
def tui_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grounded demo workspace (built once)."""
    return grounded_demo(tmp_path_factory.mktemp("tui"))


@pytest.fixture
def tui_ws(tui_template: Path, tmp_path: Path) -> Path:
    """A private copy of the grounded demo workspace, its run times fixed (for snapshots)."""
    dest = tmp_path / "ws"
    shutil.copytree(tui_template, dest)
    ws = Workspace.open(dest)
    with ws.db.conn:
        ws.db.execute("UPDATE runs SET started_at = ?, ended_at = ?", [FIXED_TIME, FIXED_TIME])
    ws.close()
    return dest


@pytest.fixture
def snapshot_ws(tui_ws: Path) -> Path:
    """``tui_ws`` with model-independent grounding (exact matches to each demo record's own
    disease, rewritten) and run summaries cleared: what a snapshot shows cannot depend on how
    llama.cpp decodes on the machine that runs the test."""
    from medsynth.demo_records import DEMO_RECORDS
    from tests.fakes.synth import ground_record

    organs = {"Lung Cancer": "Lung", "Kidney Stone": "Kidney", "Cardiomegaly": "Heart"}
    ws = Workspace.open(tui_ws)
    with ws.db.conn:
        for table in ("record_triples", "matches", "extractions"):
            ws.db.execute(f"DELETE FROM {table}")
        # refused mentions depend on what the model said too
        ws.db.execute("DELETE FROM rejects WHERE stage IN ('ground', 'ground mention')")
        ws.db.execute("UPDATE runs SET summary = '{}'")
    keys = {name: disease for name, disease, _caption in DEMO_RECORDS}
    for record_id, key in ws.db.execute("SELECT id, key FROM records ORDER BY id").fetchall():
        disease = next(d for name, d in keys.items() if name in key)
        ground_record(ws, record_id, disease, organs.get(disease, "Liver"))
    ws.close()
    return tui_ws


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 120.0
) -> None:
    """Let the app run until ``condition()`` holds (fails the test after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.05)
        await asyncio.sleep(0)
    # a job panel's messages reach its screen after the panel itself: let them arrive
    await pilot.pause()
    await pilot.pause()


REVIEW_SAMPLES = (  # generator, sample type, question, answer, key answer
    (
        "multihop",
        "qa",
        "What organ system does this organ belong to?",
        "The respiratory system.",
        "",
    ),
    ("multihop", "qa", "Why can this finding cause pain?", "It stretches the capsule.", "pain"),
    ("hardneg", "negative", "Does Pneumonia appear in this image?", "No.", ""),
    ("hardneg", "negative", "Does Liver Cyst appear in this image?", "No.", ""),
    ("keyanswer", "rl", "Where is the abnormality?", "In the left kidney.", "left kidney"),
    ("multihop", "qa", "How is this condition usually treated?", "With surgery.", "surgery"),
)


@pytest.fixture
def review_ws(tui_ws: Path) -> Path:
    """``tui_ws`` with six kept samples (three generators, spread over the four demo records)
    written straight into the ``samples`` table, each with its record's image and a KG path."""
    import json

    ws = Workspace.open(tui_ws)
    records = ws.db.execute(
        "SELECT r.id, r.images, d.root FROM records r JOIN datasets d ON d.id = r.dataset_id "
        "ORDER BY r.id"
    ).fetchall()
    with ws.db.conn:
        for n, (generator, kind, question, answer, key) in enumerate(REVIEW_SAMPLES):
            record_id, images, root = records[n % len(records)]
            paths = [str((Path(root) / name).resolve()) for name in json.loads(images)]
            ws.db.execute(
                "INSERT INTO samples (task_key, position, record_id, generator, sample_type, "
                "question, answer, key_answer, path_entities, images, template, "
                "template_version, model, seed, status, created_at) "
                "VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, '1', 'scripted', 0, 'kept', ?)",
                [
                    f"{generator}:{record_id}:{n}:0",
                    record_id,
                    generator,
                    kind,
                    question,
                    answer,
                    key,
                    json.dumps(["Lung", "Respiratory System"]),
                    json.dumps(paths),
                    generator,
                    FIXED_TIME,
                ],
            )
    ws.close()
    return tui_ws
