"""medsynth.store.overview: the counts and run list that the CLI and the dashboard share."""

from __future__ import annotations

from pathlib import Path

from medsynth.store.overview import recent_runs, sample_counts, workspace_counts
from medsynth.store.runs import RunRecorder
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png


def test_counts_and_runs(ws: Workspace, tmp_path: Path) -> None:
    empty = workspace_counts(ws.db)
    assert empty["entities"] == 0 and empty["datasets"] == [] and empty["samples"] == {}
    dataset_id = add_dataset(ws, "scans", tmp_path)
    png(tmp_path / "a.png", seed=1)
    add_record(ws, dataset_id, ["a.png"], "one")
    add_record(ws, dataset_id, ["a.png"], "two", key="b", status="filtered")
    for command in ("ingest", "ground"):
        with RunRecorder(ws.db, command, {}):
            pass
    counts = workspace_counts(ws.db)
    assert counts["datasets"] == [("scans", 1, 2)]
    assert counts["grounded"] == 0 and sample_counts(ws.db) == {}
    runs = recent_runs(ws.db, 5)
    assert [r["command"] for r in runs] == ["ground", "ingest"]
    assert runs[0]["status"] == "ok" and "resumed_by" in runs[0]
