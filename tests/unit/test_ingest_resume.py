"""Kill -9 in the middle of an ingest, run it again: the records equal an uninterrupted run's."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from medsynth.config import CONFIG_FILE, write_config
from medsynth.ingest import ingest
from medsynth.workspace import Workspace
from tests.unit.ingest_helpers import CAPTION, captioned, image, records

REPO = Path(__file__).resolve().parents[2]
COUNT = 300


def dataset(root: Path) -> None:
    """300 captioned images: some too small, some perceptual duplicates, two without captions."""
    for i in range(COUNT):
        size = (48, 48) if i % 37 == 5 else (256, 256)
        seed = i - 20 if i % 25 == 24 else i  # a duplicate of an image 20 places earlier
        captioned(root, f"img{i:04d}.png", f"{CAPTION} Case {i}.", size=size, seed=seed)
    image(root / "nocap1.png", seed=1000)
    image(root / "nocap2.png", seed=1001)


def workspace(path: Path) -> Workspace:
    """A workspace whose filters need no model: resolution, terms and phash on, text off."""
    ws = Workspace.init(path)
    ws.config.ingest.min_width = ws.config.ingest.min_height = 64
    ws.config.ingest.dedup_text_threshold = 0.0
    write_config(path / CONFIG_FILE, ws.config)
    ws.close()
    return Workspace.open(path)


def test_kill_and_resume_gives_the_uninterrupted_records(tmp_path: Path) -> None:
    root = tmp_path / "data"
    dataset(root)
    reference_ws = workspace(tmp_path / "reference")
    reference = ingest(reference_ws, root, "folder")
    expected = records(reference_ws)
    assert len(expected) == COUNT
    assert 0 < reference.totals["filtered"] < COUNT // 4
    assert set(reference.totals["filtered_by"]) >= {"resolution", "image_duplicate"}
    assert reference.totals["filtered_by"]["image_duplicate"] >= 10

    ws = workspace(tmp_path / "ws")
    ws.close()
    command = [
        sys.executable,
        "-m",
        "medsynth",
        "ingest",
        str(root),
        "--format",
        "folder",
        "--batch-size",
        "10",
        "-w",
        str(tmp_path / "ws"),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(f"file:{tmp_path / 'ws' / 'medsynth.db'}?mode=ro", uri=True)
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if db.execute("SELECT count(*) FROM records").fetchone()[0] >= 30:
                break
            time.sleep(0.003)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, "the ingest finished before the kill"
        committed = db.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        db.close()
    assert 30 <= committed < COUNT

    resumed = subprocess.run([*command, "--json"], cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["records_existing"] == committed
    assert summary["records_new"] == COUNT - committed
    again = Workspace.open(tmp_path / "ws")
    got = records(again)
    assert got == expected  # same keys, hashes, contexts, statuses and filter reasons
    assert len({r["key"] for r in got}) == len(got) == COUNT
    reject_rows = again.db.execute("SELECT source, reason FROM rejects ORDER BY source").fetchall()
    assert [r[0] for r in reject_rows] == ["nocap1.png", "nocap2.png"]  # stored once each
    assert summary["totals"] == reference.totals
