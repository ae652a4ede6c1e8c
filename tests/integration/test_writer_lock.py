"""One writer per workspace: a second writer is refused with the holder named, or with
``--wait`` waits and says for whom; a SIGKILLed holder's lock is taken over; readers never wait."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.store.lock import LOCK_FILE, WorkspaceBusy, read_holder, writer_lock
from medsynth.tui.jobs import Job
from medsynth.workspace import Workspace
from tests.fakes.synth import make_kg, make_records

REPO = Path(__file__).resolve().parents[2]
HOLDER = (
    "import sys, time; from pathlib import Path; from medsynth.store.lock import writer_lock\n"
    "with writer_lock(Path(sys.argv[1]), 'ground'):\n"
    "    print('held', flush=True); time.sleep(300)\n"
)


def start_holder(root: Path) -> subprocess.Popen[str]:
    """A process holding ``root``'s writer lock as ``ground`` until killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_second_writer_is_refused_and_a_killed_holder_is_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    child = start_holder(ws.root)
    try:
        lock_file = ws.root / LOCK_FILE
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
        holder = read_holder(ws.root)
        assert holder is not None and (holder.pid, holder.command) == (child.pid, "ground")

        capsys.readouterr()
        started = time.monotonic()
        assert main(["synth", "-w", str(ws.root)]) == 2
        assert time.monotonic() - started < 5  # refused at once
        err = capsys.readouterr().err
        assert f"pid {child.pid} (ground)" in err and "--wait" in err
        assert main(["runs", "-w", str(ws.root)]) == 0  # a reader is never stopped

        job = Job(ws.root)  # a TUI job is refused the same way (its panel notifies the text)
        with job.workspace() as job_ws, pytest.raises(WorkspaceBusy, match=f"pid {child.pid}"):
            from medsynth.synth.service import synthesize

            synthesize(job_ws, models={})
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    with writer_lock(ws.root, "synth"):  # the dead holder's lock is taken over
        holder = read_holder(ws.root)
        assert holder is not None and (holder.pid, holder.command) == (os.getpid(), "synth")
    ws.close()


def test_another_thread_is_a_second_writer_and_one_thread_re_enters(tmp_path: Path) -> None:
    root = Workspace.init(tmp_path / "ws").root
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with writer_lock(root, "judge"):
                pass
        except WorkspaceBusy as exc:
            errors.append(exc)

    with writer_lock(root, "synth"), writer_lock(root, "synth"):  # re-entered: no refusal
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert len(errors) == 1 and f"pid {os.getpid()} (synth)" in str(errors[0])
    waited: list[str] = []
    with writer_lock(root, "judge", wait=True, on_wait=waited.append):  # free again: no wait
        pass
    assert waited == []


def test_two_writers_started_together_make_each_call_once(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)
    ws.close()
    barrier = tmp_path / "barrier"
    base = [sys.executable, "-m", "tests.fakes.writers", "cli", str(ws.root), "0.02", str(barrier)]
    children = [
        subprocess.Popen(
            [*base, name, "synth", "--json", "--wait"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    waiting = [
        i for i, (_, err) in enumerate(outputs) if "waiting for the workspace's writer lock" in err
    ]
    assert len(waiting) == 1, [err for _, err in outputs]
    waiter, first = waiting[0], 1 - waiting[0]
    assert f"held by pid {children[first].pid} (synth)" in outputs[waiter][1]
    reports = [json.loads(out) for out, _ in outputs]
    calls = [sum(report["model_calls"].values()) for report in reports]
    assert calls[first] > 0 and calls[waiter] == 0  # the second found everything done

    ws = Workspace.open(ws.root)
    ok, distinct = ws.db.execute(
        "SELECT count(*), count(DISTINCT cache_key) FROM llm_calls WHERE status = 'ok'"
    ).fetchone()
    assert ok == distinct == sum(calls)  # no model call made twice
    statuses = [r[0] for r in ws.db.execute("SELECT status FROM runs WHERE command = 'synth'")]
    assert statuses == ["ok", "ok"]
    ws.close()


def test_without_wait_the_second_of_two_exits_non_zero(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 3)
    ws.close()
    barrier = tmp_path / "barrier"
    base = [sys.executable, "-m", "tests.fakes.writers", "cli", str(ws.root), "0.05", str(barrier)]
    children = [
        subprocess.Popen(
            [*base, name, "synth", "--json"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    codes = sorted(child.returncode for child in children)
    assert codes == [0, 2], outputs
    refused = next(i for i, child in enumerate(children) if child.returncode == 2)
    holder = children[1 - refused].pid
    err = outputs[refused][1]
    assert f"another writer is using this workspace: pid {holder} (synth)" in err
    assert "--wait" in err
