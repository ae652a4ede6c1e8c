"""Grounding survives a crash and a kill -9: the re-run finishes with exactly the rows of an
uninterrupted run, no duplicates, and no model call made twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.config import CONFIG_FILE, write_config
from medsynth.ground import ground
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png, script_reply
from tests.unit.test_ground_stages import make_kg

REPO = Path(__file__).resolve().parents[2]
ANSWERS = {
    "case-01": {"disease": "Lung Cancer", "organ": "Lung"},
    "case-02": {"disease": "lung mass", "organ": "none"},
    "case-03": {"disease": "KIDNEY STONES", "organ": "Kidney"},
    "case-04": {"disease": "spaceship", "organ": "Liver"},
    "case-05": {"disease": "bronchial carcinoma", "organ": "lungs"},
    "case-06": {"disease": "Pneumonia", "organ": "Lung"},
    "case-07": {"disease": "mass in the lung", "organ": "Lung"},
    "case-08": {"disease": "spaceship", "organ": "none"},
    "case-09": {"disease": "Liver Cyst", "organ": "Liver"},
    "case-10": {"disease": "lung mass", "organ": "Kidney"},
}


CAPTION = "a lung mass, a mass in the lung, a spaceship"


def verifier_reply(messages: list[Message]) -> str:
    text = str(messages[-1]["content"])
    mass = "First term: lung mass" in text or "First term: mass in the lung" in text
    return json.dumps({"same": mass and "Second term: Pulmonary Mass" in text})


def records(ws: Workspace, tmp: Path, count: int) -> None:
    dataset_id = add_dataset(ws, "cases", tmp / "data")
    for n in range(1, count + 1):
        png(tmp / "data" / f"{n}.png", seed=200 + n)
        # every fuzzy-stage mention occurs in the caption (grounding refuses those that don't)
        add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:02d}: {CAPTION}")


def state(ws: Workspace) -> dict[str, Any]:
    """Every grounding row, keyed by record key, without ids that differ between workspaces."""
    result: dict[str, Any] = {}
    for key, disease, organ in ws.db.execute(
        "SELECT r.key, x.disease, x.organ FROM extractions x JOIN records r ON r.id = x.record_id"
    ):
        result[key] = {"extraction": (disease, organ), "matches": {}, "triples": set()}
    for key, kind, mention, stage, entity, candidates in ws.db.execute(
        "SELECT r.key, m.kind, m.mention, m.stage, e.name, m.candidates FROM matches m JOIN "
        "records r ON r.id = m.record_id LEFT JOIN entities e ON e.id = m.entity_id"
    ):
        cands = [{k: v for k, v in c.items() if k != "call_id"} for c in json.loads(candidates)]
        result[key]["matches"][kind] = (mention, stage, entity, cands)
    for key, head, relation, tail in ws.db.execute(
        "SELECT r.key, t.head, t.relation, t.tail FROM record_triples rt JOIN records r "
        "ON r.id = rt.record_id JOIN triples t ON t.id = rt.triple_id"
    ):
        result[key]["triples"].add((head, relation, tail))
    return result


def no_call_twice(ws: Workspace) -> None:
    ok, distinct = ws.db.execute(
        "SELECT count(*), count(DISTINCT cache_key) FROM llm_calls WHERE status = 'ok'"
    ).fetchone()
    assert ok == distinct


@pytest.fixture
def reference(tmp_path: Path) -> dict[str, Any]:
    """The rows of an uninterrupted run."""
    ws = make_kg(tmp_path / "ref")
    records(ws, tmp_path / "ref", 10)
    ground(ws, extractor=ScriptedChat(script_reply(ANSWERS)), verifier=ScriptedChat(verifier_reply))
    rows = state(ws)
    ws.close()
    return rows


def test_crash_mid_record_then_resume(tmp_path: Path, reference: dict[str, Any]) -> None:
    ws = make_kg(tmp_path / "ws")
    records(ws, tmp_path / "ws", 10)
    asked: list[str] = []

    def crashing_verifier(messages: list[Message]) -> str:
        text = str(messages[-1]["content"])
        asked.append(text)
        if "mass in the lung" in text and sum("mass in the lung" in a for a in asked) == 1:
            raise RuntimeError("simulated crash in the middle of case-07")
        return verifier_reply(messages)

    with pytest.raises(RuntimeError, match="simulated crash"):
        ground(
            ws,
            extractor=ScriptedChat(script_reply(ANSWERS)),
            verifier=ScriptedChat(crashing_verifier),
        )
    assert ws.db.execute("SELECT status FROM runs ORDER BY id DESC").fetchone()[0] == "failed"
    done = set(state(ws))
    assert done == {f"{n}.png" for n in range(1, 7)}  # no half-grounded case-07
    logged_before = ws.db.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[
        0
    ]

    extractor, verifier = ScriptedChat(script_reply(ANSWERS)), ScriptedChat(verifier_reply)
    report = ground(ws, extractor=extractor, verifier=verifier)
    assert report.records == 4
    assert state(ws) == reference
    assert ws.db.execute("SELECT count(*) FROM matches").fetchone()[0] == 20
    no_call_twice(ws)
    asked_again = [str(c["messages"]) for c in extractor.calls + verifier.calls]
    assert not any(f"case-{n:02d}" in text for n in range(1, 7) for text in asked_again)
    assert all("mass in the lung" in text for text in (str(c["messages"]) for c in verifier.calls))
    total = ws.db.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0]
    assert len(extractor.calls) + len(verifier.calls) == total - logged_before


def test_kill_9_then_resume(tmp_path: Path) -> None:
    count = 80
    names = ["Lung Cancer", "Kidney Stones", "bronchial carcinoma", "Pneumonia", "none"]
    answers = {f"case-{n:03d}": {"disease": names[n % 5], "organ": "Lung"} for n in range(200)}

    def build(folder: Path) -> Workspace:
        ws = make_kg(folder)
        dataset_id = add_dataset(ws, "cases", folder / "data")
        for n in range(1, count + 1):
            png(folder / "data" / f"{n}.png", seed=n)
            add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:03d}")
        return ws

    ref = build(tmp_path / "ref")
    ground(ref, extractor=ScriptedChat(script_reply(answers)), verifier=ScriptedChat([]))
    ws = build(tmp_path / "ws")
    ws.config.ground.concurrency = 4
    write_config(ws.root / CONFIG_FILE, ws.config)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.records", str(ws.root), "0.05"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    watcher = sqlite3.connect(ws.root / "medsynth.db", timeout=30)
    deadline = time.monotonic() + 120
    done = 0
    while done < 15:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline, "the child never grounded 15 records"
        time.sleep(0.02)
        done = watcher.execute("SELECT count(DISTINCT record_id) FROM matches").fetchone()[0]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    at_kill = watcher.execute("SELECT count(DISTINCT record_id) FROM matches").fetchone()[0]
    watcher.close()
    print(f"killed after {at_kill} of {count} records")
    assert 15 <= at_kill < count
    half = ws.db.execute(
        "SELECT count(*) FROM extractions x WHERE NOT EXISTS "
        "(SELECT 1 FROM matches m WHERE m.record_id = x.record_id)"
    ).fetchone()[0]
    assert half == 0  # nothing half-written

    extractor = ScriptedChat(script_reply(answers))
    report = ground(ws, extractor=extractor, verifier=ScriptedChat([]))
    assert report.records == count - at_kill
    assert len(extractor.calls) <= count - at_kill  # calls logged before the kill are reused
    assert state(ws) == state(ref)
    assert ws.db.execute("SELECT count(*) FROM matches").fetchone()[0] == 2 * count
    no_call_twice(ws)
    ws.close()
    ref.close()
