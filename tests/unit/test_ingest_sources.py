"""Ingest readers: folder, PubMedVision JSON/JSONL, SLAKE and VQA-RAD layouts, and every kind of
bad input becoming a reject that names the file and the reason while the run goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.files import sha256_file
from medsynth.ingest import ingest
from medsynth.workspace import Workspace
from tests.conftest import write
from tests.unit.ingest_helpers import CAPTION, captioned, image, records, rejects


def test_folder_records_and_every_bad_input(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "data"
    good = captioned(root, "cases/a.png", seed=1)
    captioned(root, "cases/b.jpg", "  Chest radiograph.  ", seed=2)
    image(root / "nocap.png", seed=3)
    image(root / "latin1.png", seed=4)
    write(root / "latin1.txt", "Lésion du foie".encode("latin-1"))
    image(root / "blank.png", seed=5)
    write(root / "blank.txt", "  \n ")
    write(root / "orphan.txt", "a caption whose image is missing")
    write(root / "corrupt.png", b"\x89PNG\r\n\x1a\n this is not really a png")
    write(root / "corrupt.txt", CAPTION)
    truncated = image(root / "truncated.png", seed=6).read_bytes()
    write(root / "truncated.png", truncated[: len(truncated) // 2])
    write(root / "truncated.txt", CAPTION)
    write(root / "empty.png", b"")
    write(root / "empty.txt", CAPTION)
    write(root / "notes.jpg", "plain text pretending to be a JPEG")
    write(root / "notes.txt", CAPTION)
    captioned(root, "huge.png", size=(2000, 2000), seed=7)
    ws.config.images.max_pixels = 1_000_000
    report = ingest(ws, root, "folder", filters=False)
    assert {r.source: r.stored_reason() for r in report.rejects} == rejects(ws)
    assert all(r.hint for r in report.rejects)  # every per-item reject says how to fix it
    found = rejects(ws)
    assert found.pop("nocap.png").startswith("no caption (expected a .txt file with the same")
    assert found.pop("latin1.txt").startswith("not UTF-8 text")
    assert found.pop("blank.txt") == "empty caption (fix: write the caption into the file)"
    assert found.pop("orphan.txt").startswith("caption without an image")
    assert found.pop("corrupt.png").startswith("not a readable image")
    assert found.pop("truncated.png").startswith("not a readable image")
    assert found.pop("empty.png") == "empty file (fix: re-export the image)"
    assert found.pop("notes.jpg").startswith("not a readable image")
    assert found.pop("huge.png").startswith("image too large (2000x2000")
    assert found == {}
    rows = records(ws)
    assert [r["key"] for r in rows] == ["cases/a.png", "cases/b.jpg"]
    first = rows[0]
    assert json.loads(first["images"]) == ["cases/a.png"]
    assert json.loads(first["image_sha256"]) == [sha256_file(good)]
    assert len(json.loads(first["phash"])[0]) == 16
    assert (first["width"], first["height"], first["status"]) == (400, 400, "kept")
    assert first["context"] == CAPTION and first["context_derived"] == 0
    assert rows[1]["context"] == "Chest radiograph."
    assert report.records_new == 2 and report.totals["rejects"] == 9
    again = ingest(ws, root, "folder", filters=False)
    assert (again.records_new, again.records_existing) == (0, 2)
    assert ws.db.table("records").count == 2
    assert ws.db.execute("SELECT count(*) FROM rejects").fetchone()[0] == 9


def test_path_escapes_are_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = captioned(tmp_path, "outside.png", seed=9)
    root = tmp_path / "data"
    captioned(root, "inside.png", seed=10)
    os.symlink(outside, root / "link.png")
    write(root / "link.txt", CAPTION)
    os.symlink(outside.with_suffix(".txt"), root / "stolen.txt")
    image(root / "stolen.png", seed=11)
    os.symlink(root / "inside.png", root / "alias.png")  # a link that stays inside is fine
    write(root / "alias.txt", CAPTION)
    report = ingest(ws, root, "folder", filters=False)
    escaped = rejects(ws)
    assert set(escaped) == {"link.png", "stolen.txt"}
    for reason in escaped.values():
        assert reason.startswith("path escapes the dataset root (fix: keep images inside")
    assert [r["key"] for r in records(ws)] == ["alias.png", "inside.png"]
    assert report.records_new == 2

    rows = [
        {"id": 1, "image": "../outside.png", "caption": CAPTION},
        {"id": 2, "image": str(outside), "caption": CAPTION},
        {"id": 3, "image": "inside.png", "caption": CAPTION},
    ]
    file = write(root / "rows.json", json.dumps(rows))
    ingest(ws, file, "pubmedvision", filters=False)
    found = rejects(ws)  # a PubMedVision image reject names the row, then the image
    assert found["rows.json[0]"].startswith("image ../outside.png: path escapes the dataset root")
    assert found["rows.json[1]"].startswith(f"image {outside}: path escapes the dataset root")
    assert [r["key"] for r in records(ws, "rows")] == ["inside.png"]


def test_pubmedvision_json_and_jsonl(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "pmv"
    for n in range(4):
        image(root / "figs" / f"f{n}.png", seed=20 + n)
    rows = [
        {
            "id": "PMC1_1",
            "image": ["figs/f0.png", "figs/f1.png"],
            "caption": "Figure 1. CT of the abdomen.",
            "inline_mentions": ["The liver lesion is hypodense.", "No ascites."],
            "modality": "CT",
            "conversations": [{"from": "human"}],
        },
        {"id": "PMC1_2", "images": "./figs/f2.png", "context": "MRI of the brain."},
        {"id": "PMC1_3", "image": "figs/f3.png", "inline_mention": "Chest X-ray."},
        {"id": "PMC1_4", "caption": "no image here"},
        {"id": "PMC1_5", "image": "figs/f3.png", "caption": "   "},
        {"id": "PMC1_6", "image": "figs/f2.png", "caption": "same image as row 2"},
        {"id": "PMC1_7", "image": "figs/missing.png", "caption": "lost figure"},
        ["not", "an", "object"],
    ]
    report = ingest(ws, write(root / "rows.json", json.dumps(rows)), "pubmedvision", filters=False)
    found = {r.source: r.reason for r in report.rejects}
    assert found == {
        "rows.json[3]": "no image path (expected 'image' or 'images')",
        "rows.json[4]": "empty context (no caption, context or inline mentions)",
        "rows.json[5]": "duplicate key 'figs/f2.png' (an earlier item)",
        "rows.json[6]": "image figs/missing.png: missing file",
        "rows.json[7]": "row is not a JSON object",
    }
    (raw,) = ws.db.execute("SELECT raw FROM rejects WHERE source = 'rows.json[6]'").fetchone()
    assert json.loads(json.loads(raw)["raw"])["id"] == "PMC1_7"  # the whole row is kept
    (missing,) = [r for r in report.rejects if r.source == "rows.json[6]"]
    assert missing.hint.startswith("expected it under")
    rows_by_key = {r["key"]: r for r in records(ws, "rows")}
    assert set(rows_by_key) == {"figs/f0.png|figs/f1.png", "figs/f2.png", "figs/f3.png"}
    multi = rows_by_key["figs/f0.png|figs/f1.png"]
    assert multi["context"] == (
        "Figure 1. CT of the abdomen.\nThe liver lesion is hypodense.\nNo ascites."
    )
    meta = json.loads(multi["meta"])
    assert meta["id"] == "PMC1_1" and meta["modality"] == "CT" and "conversations" not in meta
    assert meta["sizes"] == [[400, 400], [400, 400]]
    assert len(json.loads(multi["image_sha256"])) == 2

    lines = [
        json.dumps({"id": "a", "image": "figs/f0.png", "caption": "Chest CT."}).encode(),
        b"",
        b"{broken json",
        '{"id": "b", "image": "figs/f1.png", "caption": "caf\u00e9"}'.encode("latin-1"),
        json.dumps({"id": "c", "image": "figs/f1.png", "caption": "Renal cyst."}).encode(),
    ]
    jsonl = write(tmp_path / "elsewhere" / "rows.jsonl", b"\n".join(lines))
    report = ingest(ws, jsonl, "pubmedvision", root=root, name="pmv-jsonl", filters=False)
    assert {r.source: r.reason.split(":")[0] for r in report.rejects} == {
        "rows.jsonl:3": "invalid JSON",
        "rows.jsonl:4": "line is not UTF-8 text",
    }
    assert [r["key"] for r in records(ws, "pmv-jsonl")] == ["figs/f0.png", "figs/f1.png"]


def test_unusable_inputs_raise_with_a_fix(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        ingest(ws, tmp_path / "nothing", "folder")
    with pytest.raises(InputError, match="not valid JSON"):
        ingest(ws, write(tmp_path / "bad.json", "{oops"), "pubmedvision")
    with pytest.raises(InputError, match=r"no train\.json"):
        ingest(ws, tmp_path, "slake")
    with pytest.raises(InputError, match="no VQA-RAD rows"):
        ingest(ws, tmp_path, "vqa-rad")
    root = tmp_path / "data"
    captioned(root, "a.png")
    ingest(ws, root, "folder", name="mine", filters=False)
    with pytest.raises(InputError, match="was ingested from") as caught:
        ingest(ws, root, "folder", name="mine")  # same name, other options (filters on)
    assert "--name" in caught.value.hint


def slake_fixture(root: Path) -> Path:
    rows = [
        {"img_name": "xmlab1/source.jpg", "question": "What modality is used?", "answer": "MRI",
         "q_lang": "en", "location": "Abdomen", "modality": "MRI", "qid": 0, "img_id": 1},
        {"img_name": "xmlab1/source.jpg", "question": "哪个器官?", "answer": "肝",
         "q_lang": "zh", "location": "Abdomen", "modality": "MRI", "qid": 1, "img_id": 1},
        {"img_name": "xmlab2/source.jpg", "question": "Where is the lesion?", "answer": "Left Lung",
         "q_lang": "en", "location": "Chest_lung", "modality": "CT", "qid": 2, "img_id": 2},
        {"img_name": "xmlab1/source.jpg", "question": "Does it contain liver?", "answer": "Yes",
         "q_lang": "en", "location": "Abdomen", "modality": "MRI", "qid": 3, "img_id": 1},
        {"img_name": "xmlab2/source.jpg", "question": "Is it normal?", "answer": "",
         "q_lang": "en", "location": "Chest_lung", "modality": "CT", "qid": 4, "img_id": 2},
        {"img_name": "xmlab3/source.jpg", "question": "Which organ?", "answer": "Brain",
         "q_lang": "en", "location": "Brain_Tissue", "modality": "MRI", "qid": 5, "img_id": 3},
        {"img_name": "../../etc/source.jpg", "question": "Escape?", "answer": "No",
         "q_lang": "en", "location": "Head", "modality": "CT", "qid": 6, "img_id": 4},
    ]  # fmt: skip
    write(root / "train.json", json.dumps(rows, ensure_ascii=False))
    image(root / "imgs/xmlab1/source.jpg", seed=31)
    write(root / "imgs/xmlab1/detection.json", json.dumps([{"Liver": [1, 2, 30, 40]}]))
    image(root / "imgs/xmlab2/source.jpg", seed=32)
    write(root / "imgs/xmlab2/detection.json", "[{broken")
    return root


def test_slake_groups_rows_by_image_with_derived_context(ws: Workspace, tmp_path: Path) -> None:
    root = slake_fixture(tmp_path / "slake")
    report = ingest(ws, root, "slake", filters=False)
    assert report.dataset == "slake-train-en"
    found = {r.source: r.reason for r in report.rejects}
    assert found.pop("train.json[4]") == "row with an empty answer"
    assert found.pop("imgs/xmlab2/detection.json").startswith("unreadable detection file")
    assert found.pop("imgs/xmlab3/source.jpg") == "missing file"
    assert found.pop("imgs/../../etc/source.jpg") == "path escapes the dataset root"
    assert found == {}
    rows = {r["key"]: r for r in records(ws)}
    assert set(rows) == {"imgs/xmlab1/source.jpg", "imgs/xmlab2/source.jpg"}
    one = rows["imgs/xmlab1/source.jpg"]
    assert one["context_derived"] == 1
    assert one["context"] == (
        "MRI image of the abdomen. Annotated regions: liver. "
        "Q: What modality is used? A: MRI. Q: Does it contain liver? A: Yes."
    )
    meta = json.loads(one["meta"])
    assert meta["boxes"] == [{"label": "Liver", "box": [1.0, 2.0, 30.0, 40.0]}]
    assert meta["qids"] == [0, 3] and meta["modality"] == "MRI" and meta["location"] == "Abdomen"
    assert [q["answer"] for q in meta["qa"]] == ["MRI", "Yes"]
    two = rows["imgs/xmlab2/source.jpg"]
    assert two["context"].startswith("CT image of the chest (lung). Q: Where is the lesion?")
    chinese = ingest(ws, root, "slake", language="zh", filters=False)
    assert chinese.dataset == "slake-train-zh" and chinese.records_new == 1
    with pytest.raises(InputError, match="no rows with q_lang 'fr'"):
        ingest(ws, root, "slake", language="fr", filters=False)


@pytest.mark.parametrize("layout", ["VQA_RAD_train.json", "public", "trainset.json"])
def test_vqa_rad_layouts(ws: Workspace, tmp_path: Path, layout: str) -> None:
    root = tmp_path / "vqa_rad"
    rows = [
        {"image_name": "synpic1.jpg", "question": "Is there a mass?", "answer": "yes",
         "answer_type": "CLOSED ", "question_type": "PRES", "image_organ": "CHEST",
         "phrase_type": "freeform", "qid": 1},
        {"image_name": "synpic1.jpg", "question": "How many masses?", "answer": 2,
         "answer_type": "OPEN", "question_type": "COUNT", "image_organ": "CHEST",
         "phrase_type": "para", "qid": 2},
        {"image_name": "synpic2.jpg", "question": "Test row?", "answer": "no",
         "answer_type": "CLOSED", "question_type": "PRES", "image_organ": "HEAD",
         "phrase_type": "test_freeform", "qid": 3},
    ]  # fmt: skip
    name = "VQA_RAD_Dataset_Public.json" if layout == "public" else layout
    keep = rows if layout != "trainset.json" else rows[:2]
    write(root / name, json.dumps(keep))
    image(root / "images/synpic1.jpg", seed=41)
    image(root / "images/synpic2.jpg", seed=42)
    report = ingest(ws, root, "vqa-rad", filters=False)
    keys = [r["key"] for r in records(ws)]
    expected = (
        ["images/synpic1.jpg"]
        if layout != "VQA_RAD_train.json"
        else [
            "images/synpic1.jpg",
            "images/synpic2.jpg",
        ]
    )
    assert keys == expected and report.rejects == []
    row = records(ws)[0]
    assert row["context"] == (
        "Radiology image of the chest. Q: Is there a mass? A: yes. Q: How many masses? A: 2."
    )
    meta = json.loads(row["meta"])
    assert meta["image_organ"] == "CHEST" and meta["qa"][0]["answer_type"] == "CLOSED"
    if layout == "public":
        test = ingest(ws, root, "vqa-rad", split="test", filters=False)
        assert test.dataset == "vqa-rad-test"
        assert [r["key"] for r in records(ws, "vqa-rad-test")] == ["images/synpic2.jpg"]
