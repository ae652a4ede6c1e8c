"""Linking images to entities: SLAKE detection boxes, folders, and every bad-input kind."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsynth.errors import InputError
from medsynth.kg.service import import_kg, link_entity_images
from medsynth.workspace import Workspace
from tests.conftest import write

KG = "head,relation,tail\nLiver Cyst,location,Liver\nLung,belong to,Respiratory System\n"


def png(path: Path, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def kg_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    import_kg(ws, write(tmp_path / "kg.csv", KG), "triples")
    return ws


def slake_image(root: Path, name: str, boxes: object, seed: int = 0) -> Path:
    folder = root / name
    png(folder / "source.jpg", (100, 80), seed).rename(folder / "source.jpg")
    write(folder / "detection.json", json.dumps(boxes))
    return folder


def test_slake_detection_links_boxes_and_lists_unknown_labels(
    kg_ws: Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "imgs"
    slake_image(root, "xmlab0", [{"Liver": [10, 10, 40, 30]}, {"Left Kidney": [1, 1, 5, 5]}])
    slake_image(root, "xmlab1", [{"liver": [0, 0, 100, 80]}, {"Lung": [5, 5, 2, 2]}], seed=1)
    report = link_entity_images(kg_ws, root, "slake-detection")
    assert report.by_entity == {"Liver": 2, "Lung": 1}
    assert report.unknown_labels == {"Left Kidney": 1}
    rows = list(kg_ws.db.query("SELECT * FROM entity_images ORDER BY id"))
    assert [r["path"] for r in rows] == [
        "xmlab0/source.jpg",
        "xmlab1/source.jpg",
        "xmlab1/source.jpg",
    ]
    assert json.loads(rows[0]["box"]) == [10.0, 10.0, 40.0, 30.0]
    crop = kg_ws.root / rows[0]["crop_path"]
    assert Image.open(crop).size == (40, 32)  # height padded to crop_min_size
    assert stat.S_IMODE(crop.stat().st_mode) == 0o600
    tiny = Image.open(kg_ws.root / rows[2]["crop_path"])  # 2x2 box padded to 32x32
    assert tiny.size == (32, 32)
    again = link_entity_images(kg_ws, root, "slake-detection")
    assert again.links_new == 0
    assert again.links_existing == 3
    assert kg_ws.db.table("entity_images").count == 3


def test_bad_inputs_become_rejects(kg_ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    slake_image(root, "good", [{"Liver": [0, 0, 10, 10]}])
    write(root / "corrupt" / "detection.json", json.dumps([{"Liver": [0, 0, 5, 5]}]))
    write(root / "corrupt" / "source.jpg", b"\xff\xd8\xff\xe0 truncated jpeg")
    write(root / "missing" / "detection.json", json.dumps([{"Liver": [0, 0, 5, 5]}]))
    write(root / "badjson" / "detection.json", "{oops")
    slake_image(root, "badbox", [{"Liver": [0, 0, "x", 5]}])
    write(root / "empty" / "detection.json", json.dumps([{"Liver": [0, 0, 5, 5]}]))
    write(root / "empty" / "source.jpg", b"")
    report = link_entity_images(kg_ws, root, "slake-detection")
    reasons = {r.source: r.reason for r in report.rejects}
    assert "not a readable image" in reasons["corrupt/source.jpg"]
    assert "not a readable image" in reasons["missing/source.jpg"]
    assert "not a readable image" in reasons["empty/source.jpg"]
    assert reasons["badjson/detection.json"].startswith("unreadable detection file")
    assert "is not [x, y, w, h]" in reasons["badbox/detection.json"]
    assert report.links_new == 1
    stored = {r["source"] for r in kg_ws.db.query("SELECT source FROM rejects")}
    assert stored == set(reasons)


def test_folders_layout_and_unknown_folders(kg_ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "by_entity"
    png(root / "Liver Cyst" / "a.png")
    png(root / "Liver Cyst" / "b.png", seed=2)
    png(root / "Spleen" / "a.png")
    write(root / "Liver Cyst" / "notes.txt", "not an image, ignored")
    report = link_entity_images(kg_ws, root, "folders")
    assert report.by_entity == {"Liver Cyst": 2}
    assert report.unknown_labels == {"Spleen": 1}
    row = next(kg_ws.db.query("SELECT * FROM entity_images"))
    assert row["crop_path"] is None
    assert row["box"] == ""
    assert len(row["sha256"]) == 64


def test_symlink_escaping_the_root_is_refused(kg_ws: Workspace, tmp_path: Path) -> None:
    outside = png(tmp_path / "outside.png")
    root = tmp_path / "by_entity"
    (root / "Liver").mkdir(parents=True)
    os.symlink(outside, root / "Liver" / "leak.png")
    report = link_entity_images(kg_ws, root, "folders")
    assert report.links_new == 0
    assert report.rejects[0].reason == "path escapes the dataset root"


def test_decompression_bomb_is_refused(kg_ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "by_entity"
    png(root / "Liver" / "big.png", (300, 300))
    kg_ws.config.images.max_pixels = 10_000
    report = link_entity_images(kg_ws, root, "folders")
    assert report.links_new == 0
    assert "too large" in report.rejects[0].reason


def test_wrong_layout_is_an_input_error(kg_ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"detection\.json"):
        link_entity_images(kg_ws, tmp_path / "empty", "slake-detection")
    with pytest.raises(InputError, match="not a folder"):
        link_entity_images(kg_ws, tmp_path / "nope", "folders")
