"""The Ingest & Ground screen's jobs: run on a worker thread, with the job's own workspace.

Services are imported inside the functions (they pull numpy, PIL, llama.cpp): the screen module
stays cheap to import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.tui.jobs import PROGRESS_INTERVAL, Job

# the formats `medsynth ingest --format` accepts (a test checks them against the ingest sources)
FORMATS: tuple[str, ...] = ("folder", "pubmedvision", "slake", "vqa-rad", "dicom")


@dataclass(frozen=True)
class IngestRequest:
    """What the ingest form says (validated on the UI thread)."""

    path: Path
    fmt: str
    name: str | None = None
    split: str = "train"
    language: str = "en"
    frames: str = "middle"
    filters: bool | None = None  # None: the format's default


def expected_items(path: Path, fmt: str) -> int:
    """How many items a source will yield, when cheap to tell (0: unknown): a folder's images."""
    if fmt != "folder" or not path.is_dir():
        return 0
    from medsynth.files import IMAGE_SUFFIXES

    count = 0
    for _folder, _subfolders, names in os.walk(path):
        count += sum(1 for n in names if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES)
    return count


def run_ingest(job: Job, request: IngestRequest) -> dict[str, Any]:
    """Ingest as ``medsynth ingest`` does, reporting items seen; returns the report's dict."""
    from medsynth.ingest.service import ingest

    expected = expected_items(request.path.expanduser(), request.fmt)
    last = 0.0

    def progress(seen: int, total: int) -> None:
        nonlocal last
        total = max(total or expected, seen) if (total or expected) else 0
        if total:
            job.progress(seen, total, "ingest")
            return
        job.check()  # the total is unknown: report at most every PROGRESS_INTERVAL
        now = time.perf_counter()
        if now - last >= PROGRESS_INTERVAL:
            last = now
            job.progress(seen, 0, "ingest")

    job.log(f"ingest {request.path} ({request.fmt})")
    with job.workspace() as ws:
        report = ingest(
            ws,
            request.path,
            request.fmt,  # type: ignore[arg-type]  # one of FORMATS, checked by the form
            name=request.name,
            language=request.language,
            split=request.split,
            frames=request.frames,
            filters=request.filters,
            progress=progress,
        )
    data = report.as_dict()
    totals = data["totals"]
    job.log(
        f"{report.records_new} new records ({report.kept_new} kept), "
        f"{report.records_existing} already present, {len(report.rejects)} rejects"
    )
    job.log(
        f"dataset {report.dataset}: {totals['records']} records, {totals['kept']} kept, "
        f"{totals['filtered']} filtered, {totals['rejects']} rejects"
    )
    for bad in report.rejects[:10]:
        job.log(f"reject {bad.source}: {bad.reason}")
    return data


def run_ground(job: Job, dataset: str, limit: int | None) -> dict[str, Any]:
    """Ground the dataset's kept records that have no matches yet; returns the report's dict."""
    from medsynth.ground.service import ground

    job.log(f"ground {dataset}" + (f" (at most {limit} records)" if limit else ""))
    job.progress(0, 0, "loading models")
    with job.workspace() as ws:
        report = ground(
            ws, dataset, limit, progress=lambda done, total: job.progress(done, total, "ground")
        )
    data = report.as_dict()
    job.log(f"{report.records} records: {report.grounded} grounded, {report.rejected} rejected")
    for kind, stages in data["stages"].items():
        job.log(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    for warning in report.warnings:
        job.log(f"warning: {warning}")
    return data
