"""Ingest of the real SLAKE (train, English) and VQA-RAD (train) data in ../shared/data, with
contexts derived from their annotations; counts checked against the files themselves."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from medsynth.ingest import ingest
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.unit.ingest_helpers import open_image, records, set_ingest


def small(root: Path, names: set[str]) -> int:
    """How many of these images are below 336x336."""
    count = 0
    for name in names:
        with open_image(root / name) as im:
            count += im.width < 336 or im.height < 336
    return count


def test_slake_train_english(ws: Workspace, slake_kg: Path) -> None:
    root = shared_path("slake")
    rows = [r for r in json.loads((root / "train.json").read_text()) if r["q_lang"] == "en"]
    empty = [i for i, r in enumerate(json.loads((root / "train.json").read_text()))
             if r["q_lang"] == "en" and not str(r["answer"]).strip()]  # fmt: skip
    images = {r["img_name"] for r in rows}
    assert len(images) == 450  # distinct images behind the 4,919 English training questions
    import_kg(ws, slake_kg, "slake")
    set_ingest(ws, dedup_text_threshold=0.0)  # the MiniLM filter runs on VQA-RAD below
    report = ingest(ws, root, "slake", filters=True)
    totals = report.totals
    print("SLAKE train en:", json.dumps(report.as_dict()))
    assert report.dataset == "slake-train-en"
    assert totals["records"] == report.records_new == len(images)
    assert totals["rejects"] == len(empty) == 1
    assert [r.source for r in report.rejects] == [f"train.json[{i}]" for i in empty]
    assert totals["kept"] + totals["filtered"] == len(images)
    assert totals["filtered_by"]["resolution"] == small(root / "imgs", images)
    assert totals["filtered_by"]["image_duplicate"] > 0
    stored = records(ws)
    assert all(r["context_derived"] == 1 for r in stored)
    assert {r["key"] for r in stored} == {f"imgs/{name}" for name in images}
    one = next(r for r in stored if r["key"] == "imgs/xmlab1/source.jpg")
    assert one["context"].startswith("MRI image of the abdomen. Annotated regions: liver.")
    meta = json.loads(one["meta"])
    detection = json.loads((root / "imgs/xmlab1/detection.json").read_text())
    assert [b["label"] for b in meta["boxes"]] == [next(iter(d)) for d in detection]
    questions = Counter(r["img_name"] for r in rows if str(r["answer"]).strip())
    assert len(meta["qa"]) == questions["xmlab1/source.jpg"]
    assert sum(len(json.loads(r["meta"])["qa"]) for r in stored) == sum(questions.values())


def test_vqa_rad_train_with_every_filter(ws: Workspace) -> None:
    root = shared_path("vqa_rad")
    rows = json.loads((root / "VQA_RAD_train.json").read_text())
    images = {r["image_name"] for r in rows}
    assert len(images) == 313  # distinct images behind the 1,797 training questions
    report = ingest(ws, root, "vqa-rad", filters=True)
    totals = report.totals
    print("VQA-RAD train:", json.dumps(report.as_dict()))
    assert report.rejects == []
    assert totals["records"] == len(images) and totals["kept"] + totals["filtered"] == len(images)
    assert totals["filtered_by"]["resolution"] == small(root / "images", images)
    assert totals["filtered_by"]["medical_terms"] > 0
    stored = records(ws)
    assert all(r["context_derived"] == 1 for r in stored)
    assert sum(len(json.loads(r["meta"])["qa"]) for r in stored) == len(rows)
    first = next(r for r in stored if r["key"] == "images/synpic54610.jpg")
    assert first["context"].startswith(
        "Radiology image of the head. Q: Are regions of the brain infarcted? A: Yes."
    )
