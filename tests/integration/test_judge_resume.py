"""``medsynth judge`` with the real embedded model (SmolLM2-135M via llama.cpp, the default
verifier), killed with SIGKILL after some samples are scored, then run again: every kept sample
ends with exactly one score per criterion, and no model call was made twice.

The samples come from scripted synthesis (tests/fakes/review.py); the judge is the real model
through the real command line. The model is medically poor: the test checks the pipeline (schema,
call log, resume), not the scores.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medsynth.review.data import CRITERIA, sample_view
from medsynth.workspace import Workspace
from tests.fakes.review import synth_workspace

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
GENERATORS = "hardneg,describe"


def medsynth(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "medsynth", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_judge_killed_then_resumed_scores_each_sample_once(tmp_path: Path) -> None:
    root = synth_workspace(tmp_path, records=2)
    ws = Workspace.open(root)
    wanted = {
        r[0]
        for r in ws.db.execute(
            "SELECT id FROM samples WHERE status = 'kept' AND generator IN ('hardneg', 'describe')"
        )
    }
    assert len(wanted) >= 5
    watcher = sqlite3.connect(root / "medsynth.db", timeout=30)
    child = medsynth("judge", "-w", str(root), "--generator", GENERATORS, "--json")
    deadline = time.monotonic() + 300
    stored = 0
    while stored < 2 * len(CRITERIA):  # two samples scored
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the judge never stored a score"
        time.sleep(0.05)
        stored = watcher.execute("SELECT count(*) FROM judgements").fetchone()[0]
    os.kill(child.pid, signal.SIGKILL)
    child.communicate()
    killed_at = watcher.execute("SELECT count(DISTINCT sample_id) FROM judgements").fetchone()[0]
    calls_before = watcher.execute(
        "SELECT count(*) FROM llm_calls WHERE role = 'verifier'"
    ).fetchone()[0]
    watcher.close()
    assert 2 <= killed_at < len(wanted)
    status = ws.db.execute("SELECT status FROM runs WHERE command = 'judge'").fetchone()[0]
    assert status == "running"  # killed: never closed

    again = medsynth("judge", "-w", str(root), "--generator", GENERATORS, "--json")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    report = json.loads(out)
    assert report["already_judged"] == killed_at
    assert report["judged"] + report["failed"] == len(wanted) - killed_at
    assert report["model"] == "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf"

    rows = ws.db.execute(
        "SELECT sample_id, criterion, count(*) FROM judgements GROUP BY sample_id, criterion"
    ).fetchall()
    assert all(n == 1 for _, _, n in rows)  # one score per sample and criterion
    scored = {sample_id for sample_id, _, _ in rows}
    failed = {
        int(r[0].split()[1])
        for r in ws.db.execute("SELECT source FROM rejects WHERE stage = 'judge'")
    }
    assert scored | failed == wanted and not scored & failed
    assert len(scored) >= len(wanted) - 2  # the grammar keeps the small model's JSON valid
    for sample_id in scored:
        view = sample_view(ws.db, sample_id)
        assert set(view.judge) == set(CRITERIA)
        assert all(1 <= s <= 5 for s in view.judge.values())
    # no model call twice: one logged answer per distinct prompt
    repeated = ws.db.execute(
        "SELECT prompt_hash, count(*) FROM llm_calls WHERE role = 'verifier' "
        "GROUP BY prompt_hash, image_hashes HAVING count(*) > 1"
    ).fetchall()
    assert repeated == []
    total = ws.db.execute("SELECT count(*) FROM llm_calls WHERE role = 'verifier'").fetchone()[0]
    assert report["model_calls"] == total - calls_before

    third = medsynth("judge", "-w", str(root), "--generator", GENERATORS, "--json")
    out, err = third.communicate(timeout=600)
    assert third.returncode == 0, err
    final = json.loads(out)
    assert final["judged"] == 0 and final["model_calls"] == 0
    assert final["already_judged"] == len(scored)
    ws.close()
