"""PubMedVision's filters: resolution, medical-term count (shipped list + KG), perceptual-hash
duplicates, MiniLM near-duplicate contexts; each counted in the report, filtered records kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.ingest import ingest
from medsynth.ingest.filters import FilterSettings, PhashIndex, Vocabulary, shipped_terms
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace
from tests.conftest import write
from tests.unit.ingest_helpers import CAPTION, captioned, image, records, set_ingest

FEW_TERMS = "Chest radiograph of the lung with a nodule."  # chest, radiograph, lung, nodule


def statuses(ws: Workspace) -> dict[str, str | None]:
    return {r["key"]: r["filter_reason"] for r in records(ws)}


def test_vocabulary_matches_longest_terms_and_plurals() -> None:
    vocabulary = Vocabulary(
        ["lung", "left lung", "pleural effusion", "effusion", "Crohn's disease"]
    )
    found = vocabulary.find("Left lungs: pleural effusions, and an effusion; crohns Disease.")
    assert found == ["left lung", "pleural effusion", "effusion", "crohn disease"]
    assert len(shipped_terms()) >= 300
    shipped = Vocabulary(shipped_terms())
    assert len(shipped.find(CAPTION)) >= 5
    assert shipped.find(FEW_TERMS) == ["chest", "radiograph", "lung", "nodule"]


def test_phash_distance() -> None:
    index = PhashIndex()
    assert index.nearest(["ffffffffffffffff"]) is None
    index.add(["ffffffffffffffff"], "a")
    index.add(["0000000000000000"], "b")
    assert index.nearest(["00000000000000f1"]) == (5, "b")
    assert index.nearest(["7fffffffffffffff", "0000000000000003"]) == (1, "a")


def test_cheap_filters_counted_and_stored(ws: Workspace, tmp_path: Path) -> None:
    set_ingest(ws, dedup_text_threshold=0.0)  # MiniLM is exercised below
    root = tmp_path / "data"
    captioned(root, "a_small.png", size=(200, 400), seed=1)
    captioned(root, "b_terms.png", FEW_TERMS, seed=2)
    captioned(root, "c_kept.png", seed=3)
    captioned(root, "d_jpeg_copy.png", seed=4)
    image(root / "e_copy.jpg", seed=4)  # the same picture, JPEG-compressed
    write(root / "e_copy.txt", CAPTION)
    captioned(root, "f_bigger_same.png", size=(600, 600), seed=4)
    captioned(root, "g_was_small.png", size=(400, 400), seed=1)  # a_small was not kept
    captioned(root, "h_kg_term.png", "Glorp syndrome: lung nodule, effusion, atelectasis.", seed=8)
    report = ingest(ws, root, "folder")
    reasons = statuses(ws)
    assert reasons["a_small.png"] == "resolution: 200x400 is below 336x336"
    assert reasons["b_terms.png"] == (
        "medical_terms: 4 found (chest, radiograph, lung, nodule), need 5"
    )
    assert reasons["c_kept.png"] is None
    assert reasons["d_jpeg_copy.png"] is None
    assert reasons["e_copy.jpg"].startswith("image_duplicate: perceptual hash ")
    assert reasons["e_copy.jpg"].endswith("bit(s) from d_jpeg_copy.png")
    assert reasons["f_bigger_same.png"].startswith("image_duplicate: perceptual hash ")
    assert reasons["g_was_small.png"] is None
    assert reasons["h_kg_term.png"].startswith("medical_terms: 4 found")
    assert dict(report.filtered_new) == {"resolution": 1, "medical_terms": 2, "image_duplicate": 2}
    assert report.totals["filtered_by"] == {
        "resolution": 1,
        "medical_terms": 2,
        "image_duplicate": 2,
        "text_duplicate": 0,
    }
    assert report.totals["records"] == 8 and report.totals["kept"] == 3
    terms = json.loads(next(r for r in records(ws) if r["key"] == "c_kept.png")["meta"])
    assert "pleural effusion" in terms["medical_terms"]

    # KG names count as medical terms: after importing "Glorp Syndrome", h passes.
    import_kg(
        ws,
        write(tmp_path / "kg.csv", "head,relation,tail\nGlorp Syndrome,location,Lung\n"),
        "triples",
    )
    again = ingest(ws, root, "folder", name="with-kg")
    assert again.vocabulary_terms == report.vocabulary_terms + 1
    row = next(r for r in records(ws, "with-kg") if r["key"] == "h_kg_term.png")
    assert row["status"] == "kept"

    nothing = ingest(ws, root, "folder", name="unfiltered", filters=False)
    assert nothing.totals["kept"] == 8 and nothing.filters is None


def test_filters_turn_off_one_by_one(ws: Workspace, tmp_path: Path) -> None:
    set_ingest(ws, min_width=0, min_height=0, min_medical_terms=0, dedup_phash_distance=-1)
    set_ingest(ws, dedup_text_threshold=0.0)
    assert FilterSettings.from_config(ws.config.ingest).enabled == []
    root = tmp_path / "data"
    captioned(root, "a.png", "x", size=(10, 10), seed=1)
    captioned(root, "b.png", "x", size=(10, 10), seed=1)
    report = ingest(ws, root, "folder")
    assert report.totals["kept"] == 2


def test_text_near_duplicates_with_minilm(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "data"
    captioned(root, "a.png", CAPTION, seed=1)
    captioned(root, "b.png", CAPTION.replace("shows", "demonstrates"), seed=2)
    other = CAPTION.replace("nodule in the left", "mass in the right")
    captioned(root, "c.png", other, seed=3)
    brain = (
        "MRI of the brain: a hyperintense lesion in the temporal lobe with edema and midline shift."
    )
    captioned(root, "d.png", brain, seed=4)
    report = ingest(ws, root, "folder")
    reasons = statuses(ws)
    assert reasons["b.png"] is not None and reasons["b.png"].startswith(
        "text_duplicate: cosine 0.99"
    )
    assert reasons["b.png"].endswith(" to a.png")
    assert reasons["a.png"] is None and reasons["c.png"] is None and reasons["d.png"] is None
    assert report.totals["filtered_by"]["text_duplicate"] == 1
    # A resumed run replays kept contexts into the index: b stays a duplicate of a, and a new
    # near-copy of c is caught against a record stored by the earlier run.
    captioned(root, "e.png", other.replace("Axial", "Axial contrast"), seed=5)
    again = ingest(ws, root, "folder")
    assert (again.records_existing, again.records_new) == (4, 1)
    assert statuses(ws)["e.png"] is not None and statuses(ws)["e.png"].endswith(" to c.png")


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    root = tmp_path / "data"
    captioned(root, "a.png")
    image(root / "b.png", seed=2)
    capsys.readouterr()
    args = ["ingest", str(root), "--format", "folder", "-w", str(ws), "--no-filters", "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["records_new"] == 1 and data["dataset"] == "data"
    assert data["rejects"] == [
        {
            "source": "b.png",
            "reason": "no caption (expected a .txt file with the same name)",
            "hint": "add the caption as a UTF-8 .txt file next to the image",
        }
    ]
    assert main(args[:-1]) == 0
    out = capsys.readouterr().out
    assert "1 already present" in out and "filters: off" in out
    assert main(["ingest", str(root), "--format", "slake", "-w", str(ws)]) == 2
    assert "fix:" in capsys.readouterr().err


def test_bench_folder_generator(tmp_path: Path) -> None:
    from tests.conftest import bench_script

    bench = bench_script("bench_ingest")
    bench.generate_folder(tmp_path, 4, size=64)
    assert len(list(tmp_path.glob("*.png"))) == len(list(tmp_path.glob("*.txt"))) == 4
    vocabulary = Vocabulary(shipped_terms())
    for text in tmp_path.glob("*.txt"):
        assert len(vocabulary.find(text.read_text())) >= 5
