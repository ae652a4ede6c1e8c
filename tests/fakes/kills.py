"""SIGKILL a kill target (``python -m tests.fakes.records|synth WORKSPACE LATENCY [LIMIT]``) at
chosen points of its progress, as a user's kill -9 would, for the resume tests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from medsynth.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


def kill_and_resume(
    ws: Workspace,
    module: str,
    limit: int | None,
    points: list[int],
    progress_sql: str,
    latency: str,
) -> list[int]:
    """Start the kill target ``module`` (with ``limit`` when given), SIGKILL it once
    ``progress_sql`` reaches each point, start it again the same way; the counts at each kill."""
    watcher = sqlite3.connect(ws.root / "medsynth.db", timeout=30)
    kills: list[int] = []
    for point in points:
        done = watcher.execute(progress_sql).fetchone()[0]
        if done >= point:
            continue  # the previous child went past this point before it died
        child = subprocess.Popen(
            [sys.executable, "-m", module, str(ws.root), latency]
            + ([] if limit is None else [str(limit)]),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while done < point:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, f"the child never reached {point}"
            time.sleep(0.005)
            done = watcher.execute(progress_sql).fetchone()[0]
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        kills.append(watcher.execute(progress_sql).fetchone()[0])
    watcher.close()
    return kills
