"""``ingest(progress=)``: one call per input item, and a callback that raises stops the run with
the flushed batches kept and the run marked; running again ends with the uninterrupted records."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsynth.errors import Cancelled
from medsynth.ingest import ingest
from tests.unit.ingest_helpers import CAPTION, captioned, image, records
from tests.unit.test_ingest_resume import workspace

COUNT = 12


def _dataset(root: Path) -> None:
    for i in range(COUNT):
        captioned(root, f"img{i:02d}.png", f"{CAPTION} Case {i}.", size=(128, 128), seed=i)
    image(root / "nocap.png", seed=99)  # a bad item: progress counts it too


def test_progress_is_called_per_item(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    ws = workspace(tmp_path / "ws")
    calls: list[tuple[int, int]] = []
    report = ingest(ws, tmp_path / "data", "folder", progress=lambda d, t: calls.append((d, t)))
    assert [d for d, _t in calls] == list(range(1, COUNT + 2))
    assert {t for _d, t in calls} == {0}
    assert report.records_new == COUNT and len(report.rejects) == 1


def test_a_raising_progress_cancels_and_a_rerun_completes(tmp_path: Path) -> None:
    _dataset(tmp_path / "data")
    reference_ws = workspace(tmp_path / "reference")
    ingest(reference_ws, tmp_path / "data", "folder")
    expected = records(reference_ws)

    ws = workspace(tmp_path / "ws")

    def stop_at_seven(done: int, _total: int) -> None:
        if done == 7:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        ingest(ws, tmp_path / "data", "folder", batch_size=3, progress=stop_at_seven)
    status = ws.db.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert status == "cancelled"
    partial = ws.db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert 0 < partial < COUNT  # whole batches before the cancel were kept
    again = ingest(ws, tmp_path / "data", "folder", batch_size=3)
    assert again.records_existing == partial
    assert records(ws) == expected
