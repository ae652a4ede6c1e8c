"""A SIGKILLed ingest, ground, synth or eval never stays ``running``: the next command that opens
the workspace marks it ``interrupted``, and the run that resumes its work is named on it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.store.lock import is_locked
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.fakes.records import add_dataset, add_record, png
from tests.fakes.synth import make_kg, make_records
from tests.fakes.writers import run
from tests.unit.ingest_helpers import captioned

REPO = Path(__file__).resolve().parents[2]


def prepare(command: str, tmp: Path) -> tuple[Workspace, Path | None]:
    """A small workspace on which ``command`` has work to do, and its input (if any)."""
    if command == "ingest":
        for n in range(3):
            captioned(tmp / "data", f"img{n}.png", f"Chest CT of case {n} showing a lung mass.")
        return Workspace.init(tmp / "ws"), tmp / "data"
    if command == "eval":
        return Workspace.init(tmp / "ws"), shared_path("slake")
    ws = make_kg(tmp)
    if command == "synth":
        make_records(ws, tmp, 2)
    else:  # ground: records not grounded yet
        dataset_id = add_dataset(ws, "cases", tmp / "data")
        for n in range(3):
            png(tmp / "data" / f"{n}.png", seed=n)
            add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:03d}")
    return ws, None


def runs_json(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """``medsynth runs --json`` (a reading command) on ``ws``."""
    capsys.readouterr()
    assert main(["runs", "--json", "-w", str(ws.root)]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


@pytest.mark.parametrize("command", ["ingest", "ground", "synth", "eval"])
def test_a_killed_run_shows_interrupted_then_resumed(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, data = prepare(command, tmp_path)
    args = [sys.executable, "-m", "tests.fakes.writers", "hold", command, str(ws.root)]
    child = subprocess.Popen(
        [*args, *([str(data)] if data else [])],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    watcher = sqlite3.connect(f"file:{ws.root / 'medsynth.db'}?mode=ro", uri=True, timeout=30)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, f"{command} never started its run"
            row = watcher.execute(
                "SELECT id, status, pid, writer FROM runs WHERE command = ?", [command]
            ).fetchone()
            # eval: wait for the eval run it fills too (opened just after the run row; a
            # loaded machine can kill the child in between, and then there is none to check)
            filling = command != "eval" or (
                watcher.execute("SELECT 1 FROM sqlite_master WHERE name = 'eval_runs'").fetchone()
                and watcher.execute("SELECT 1 FROM eval_runs").fetchone()
            )
            if row is not None and filling:
                break
            time.sleep(0.02)
    finally:
        watcher.close()
    killed_id, status, pid, writer = row
    assert (status, pid, writer) == ("running", child.pid, 1)
    assert is_locked(ws.root)  # the run holds the workspace's writer lock
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not is_locked(ws.root)  # the kernel released it with the process

    rows = {r["id"]: r for r in runs_json(ws, capsys)}
    killed = rows[killed_id]
    assert killed["status"] == "interrupted" and killed["ended_at"]
    assert f"pid {child.pid}" in str(killed["error"])
    assert all(r["status"] != "running" for r in rows.values())
    if command == "eval":  # the eval run it was filling is interrupted too
        status = ws.db.execute("SELECT status FROM eval_runs WHERE run_id = ?", [killed_id])
        assert status.fetchone()[0] == "interrupted"

    run(command, ws, data, 0.0)  # the same command and settings, to the end
    rows = {r["id"]: r for r in runs_json(ws, capsys)}
    resumed = max(rows)
    assert rows[resumed]["status"] == "ok" and rows[resumed]["command"] == command
    assert rows[killed_id]["resumed_by"] == resumed
    assert main(["runs", "-w", str(ws.root)]) == 0
    assert f"interrupted (resumed by run {resumed})" in capsys.readouterr().out
    ws.close()


def test_a_dead_run_of_another_process_is_found_without_its_lock(tmp_path: Path) -> None:
    """A ``running`` row whose pid is gone (here: a finished child) is marked on open, and a
    row of a live process that does not hold the writer lock (chat) is left alone."""
    ws = Workspace.init(tmp_path / "ws")
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(child.stdout)
    host = socket.gethostname()
    with ws.db.conn:
        for pid, writer in ((dead_pid, 0), (os.getpid(), 0)):
            ws.db.execute(
                "INSERT INTO runs (command, status, started_at, pid, host, writer) "
                "VALUES ('chat', 'running', '2026-01-01T00:00:00+00:00', ?, ?, ?)",
                [pid, host, writer],
            )
    ws.close()
    ws = Workspace.open(tmp_path / "ws")
    statuses = [r[0] for r in ws.db.execute("SELECT status FROM runs ORDER BY id").fetchall()]
    assert statuses == ["interrupted", "running"]
    ws.close()
