"""``medsynth export``: the four formats record by record, images re-encoded once each with no
metadata, skipped rows, selection options, manifest, dataset card, permissions, the CLI, and that
every file loads with ``datasets``."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medsynth.cli import main
from medsynth.errors import InputError
from medsynth.export import export_samples, grpo_eligible, held_out, png_bytes
from tests.unit.export_fixtures import (
    EXPORTED,
    GRPO,
    JPEG_NAME,
    PATIENT,
    SKIPPED,
    SYSTEM,
    ExportFixture,
    build,
)


@pytest.fixture
def fx(tmp_path: Path) -> Iterator[ExportFixture]:
    fixture = build(tmp_path)
    yield fixture
    fixture.ws.close()


def image_name(source: Path) -> str:
    """Where the export puts ``source``: the PNG of its (EXIF-oriented) pixels, by hash."""
    with Image.open(source) as image:
        data = png_bytes(image)
    return f"images/{hashlib.sha256(data).hexdigest()[:16]}.png"


def sid(fx: ExportFixture, label: str) -> str:
    return f"s{fx.samples[label]}"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def text(value: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": value}]


def user(question: str, images: int) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [*({"type": "image"} for _ in range(images)), *text(question)],
    }


def test_trl_sft_records(fx: ExportFixture, tmp_path: Path) -> None:
    report = export_samples(fx.ws, tmp_path / "out", "trl-sft")
    out = tmp_path / "out"
    a, b = image_name(fx.root / "a.png"), image_name(fx.root / JPEG_NAME)
    c1, c2 = image_name(fx.root / "c1.png"), image_name(fx.root / "c2.png")
    records = lines(out / "sft.jsonl")
    assert [r["id"] for r in records] == [sid(fx, label) for label in EXPORTED]
    by_id = {r["id"]: r for r in records}
    assert by_id[sid(fx, "multihop")] == {
        "id": sid(fx, "multihop"),
        "images": [a],
        "messages": [
            user("Which body system does the organ in this image belong to?", 1),
            {
                "role": "assistant",
                "content": text(
                    "The organ shown is the lung, which belongs to the respiratory system."
                ),
            },
        ],
        "generator": "multihop",
        "sample_type": "qa",
    }
    assert by_id[sid(fx, "instruct")] == {
        "id": sid(fx, "instruct"),
        "images": [b],
        "messages": [
            {"role": "system", "content": text(SYSTEM)},
            user("What should I look at first on this scan?", 1),
            {
                "role": "assistant",
                "content": text("Start with the lung fields, then compare both sides."),
            },
        ],
        "generator": "instruct",
        "sample_type": "instruction",
    }
    describe = by_id[sid(fx, "describe")]
    assert describe["images"] == [c1, c2]
    assert describe["messages"][0] == user("Please describe these images.", 2)
    text_only = by_id[sid(fx, "text_only")]
    assert text_only["images"] == []
    assert text_only["messages"][0] == user("Why does a kidney stone cause pain in the back?", 0)
    # the byte copy under another record shares the image file
    assert by_id[sid(fx, "reasoning")]["images"] == [a]
    assert report.samples == 7 and report.train == 7 and report.eval == 0
    assert report.images == 4
    assert {(s.sample_id, s.reason) for s in report.skipped} == {
        (fx.samples[label], reason) for label, reason in SKIPPED.items()
    }
    assert report.files == ["sft.jsonl", "dataset_card.md", "manifest.json"]


def test_llava_records(fx: ExportFixture, tmp_path: Path) -> None:
    export_samples(fx.ws, tmp_path / "out", "llava")
    records = json.loads((tmp_path / "out" / "llava.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in records}
    assert len(records) == 7
    assert by_id[sid(fx, "hardneg")] == {
        "id": sid(fx, "hardneg"),
        "image": image_name(fx.root / "a.png"),
        "conversations": [
            {"from": "human", "value": "<image>\nDoes Pneumonia appear in this image?"},
            {
                "from": "gpt",
                "value": "No. Pneumonia, an infection of the lung, is not seen in this image.",
            },
        ],
        "generator": "hardneg",
        "sample_type": "negative",
    }
    assert by_id[sid(fx, "describe")] == {
        "id": sid(fx, "describe"),
        "images": [image_name(fx.root / "c1.png"), image_name(fx.root / "c2.png")],
        "conversations": [
            {"from": "human", "value": "<image>\n<image>\nPlease describe these images."},
            {
                "from": "gpt",
                "value": "Two axial CT slices of the chest with a round opacity in the right lung.",
            },
        ],
        "generator": "describe",
        "sample_type": "alignment",
    }
    # no system turn in LLaVA: the scenario opens the human turn
    assert by_id[sid(fx, "instruct")]["conversations"][0] == {
        "from": "human",
        "value": f"<image>\n{SYSTEM}\n\nWhat should I look at first on this scan?",
    }
    text_only = by_id[sid(fx, "text_only")]
    assert "image" not in text_only and "images" not in text_only
    assert text_only["conversations"][0]["value"] == (
        "Why does a kidney stone cause pain in the back?"
    )


def test_sharegpt_records_and_dataset_info(fx: ExportFixture, tmp_path: Path) -> None:
    report = export_samples(fx.ws, tmp_path / "out", "sharegpt")
    out = tmp_path / "out"
    records = json.loads((out / "sharegpt.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in records}
    assert by_id[sid(fx, "instruct")] == {
        "id": sid(fx, "instruct"),
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "<image>What should I look at first on this scan?"},
            {
                "role": "assistant",
                "content": "Start with the lung fields, then compare both sides.",
            },
        ],
        "images": [image_name(fx.root / JPEG_NAME)],
        "generator": "instruct",
        "sample_type": "instruction",
    }
    assert by_id[sid(fx, "describe")]["messages"][0] == {
        "role": "user",
        "content": "<image><image>Please describe these images.",
    }
    assert by_id[sid(fx, "text_only")]["images"] == []
    for record in records:  # LLaMA-Factory wants as many <image> tokens as images
        assert record["messages"][-2]["content"].count("<image>") == len(record["images"])
    assert json.loads((out / "dataset_info.json").read_text()) == {
        "medsynth": {
            "file_name": "sharegpt.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }
    }
    assert report.files == [
        "sharegpt.json",
        "dataset_info.json",
        "dataset_card.md",
        "manifest.json",
    ]


def test_trl_grpo_takes_rows_with_a_key_answer(fx: ExportFixture, tmp_path: Path) -> None:
    report = export_samples(fx.ws, tmp_path / "out", "trl-grpo")
    records = lines(tmp_path / "out" / "grpo.jsonl")
    assert [r["id"] for r in records] == [sid(fx, label) for label in GRPO]
    by_id = {r["id"]: r for r in records}
    assert by_id[sid(fx, "keyanswer")] == {
        "id": sid(fx, "keyanswer"),
        "images": [image_name(fx.root / JPEG_NAME)],
        "prompt": [user("What symptom can the disease in this image cause?", 1)],
        "key_answer": "cough",
        "path_entities": ["Lung Cancer", "cough"],
        "ground_truth": "The lesion in the lung can cause a cough.",
        "generator": "keyanswer",
        "sample_type": "rl",
        "reasoning": False,
    }
    assert by_id[sid(fx, "hardneg")]["key_answer"] == "no"
    reasoning = by_id[sid(fx, "reasoning")]
    assert reasoning["reasoning"] is True
    assert reasoning["ground_truth"] == "A lung mass."
    assert reasoning["key_answer"] == "lung mass"
    # multihop, describe, instruct x2 and the three bad-image rows have no key answer
    assert report.not_eligible == 7
    assert [(s.sample_id, s.reason) for s in report.skipped] == [
        (fx.samples["bad_json"], SKIPPED["bad_json"])
    ]


def test_grpo_eligibility_rule() -> None:
    row = {"key_answer": "", "ground_truth": "", "generator": "multihop", "sample_type": "qa"}
    assert not grpo_eligible(row)
    assert not grpo_eligible(row | {"ground_truth": "the full answer"})
    assert grpo_eligible(row | {"key_answer": " no "})
    reasoning = row | {"generator": "reasoning", "sample_type": "reasoning"}
    assert not grpo_eligible(reasoning)
    assert grpo_eligible(reasoning | {"ground_truth": "A lung mass."})


def test_images_once_reencoded_without_metadata(fx: ExportFixture, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_samples(fx.ws, out, "trl-sft")
    files = sorted((out / "images").iterdir())
    assert len(files) == 4  # a.png and its copy are one file; c1, c2, the JPEG
    for file in files:
        data = file.read_bytes()
        assert file.name == hashlib.sha256(data).hexdigest()[:16] + ".png"
        assert PATIENT.encode() not in data and b"Dr Example" not in data
        with Image.open(file) as image:
            assert image.format == "PNG"
            assert not image.info, image.info  # no text chunks, EXIF or ICC profile
            assert not image.getexif()
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    with (
        Image.open(out / image_name(fx.root / "a.png")) as exported,
        Image.open(fx.root / "a.png") as source,
    ):
        assert np.array_equal(np.asarray(exported), np.asarray(source))
    with Image.open(out / image_name(fx.root / JPEG_NAME)) as exported:
        assert exported.size == (32, 48)  # EXIF orientation 6 applied, then EXIF dropped
    # no source file name, dataset path or patient text in anything the export wrote
    for file in out.rglob("*"):
        if file.is_file() and file.parent.name != "images":
            content = file.read_text(encoding="utf-8")
            for leak in (JPEG_NAME, "mrn-12345", "a_copy", str(fx.root), PATIENT):
                assert leak not in content, (file.name, leak)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "images").stat().st_mode) == 0o700
    for name in ("sft.jsonl", "dataset_card.md", "manifest.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600


def test_permissions_hold_under_a_loose_umask(fx: ExportFixture, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        export_samples(fx.ws, tmp_path / "out", "sharegpt", split_eval=0.5)
    finally:
        os.umask(old)
    for path in [tmp_path / "out", *(tmp_path / "out").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_link_mode_symlinks_originals(fx: ExportFixture, tmp_path: Path) -> None:
    out = tmp_path / "out"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in fx.root.iterdir()}
    export_samples(fx.ws, out, "trl-sft", link=True)
    links = sorted((out / "images").iterdir())
    assert all(p.is_symlink() for p in links)
    targets = {Path(os.readlink(p)) for p in links}
    assert targets == {fx.root / n for n in ("a.png", JPEG_NAME, "c1.png", "c2.png")}
    jpeg = hashlib.sha256((fx.root / JPEG_NAME).read_bytes()).hexdigest()[:16] + ".jpg"
    keyanswer = next(r for r in lines(out / "sft.jsonl") if r["id"] == sid(fx, "keyanswer"))
    assert keyanswer["images"] == [f"images/{jpeg}"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["selection"]["link"] is True
    entry = next(f for f in manifest["files"] if f["path"] == f"images/{jpeg}")
    assert entry["link"] is True
    assert "original metadata kept" in (out / "dataset_card.md").read_text()
    # the originals were not touched (no chmod through the links)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in fx.root.iterdir()} == modes


def test_manifest_counts_files_and_coverage(fx: ExportFixture, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = export_samples(fx.ws, out, "llava")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "llava"
    assert manifest["medsynth_version"] == "0.1.0"
    assert manifest["workspace"] == str(fx.ws.root)
    assert manifest["export_run_id"] == report.run_id
    assert manifest["run_ids"] == fx.runs
    assert manifest["selection"] == {
        "generators": ["multihop", "hardneg", "keyanswer", "describe", "instruct", "reasoning"],
        "statuses": ["kept"],
        "include_contaminated": False,
        "link": False,
        "limit": None,
        "seed": None,
        "split_eval": None,
        "min_score": None,
        "reviewed_only": False,
        "left_out": {},
    }
    assert manifest["counts"] == {
        "selected": 11,
        "not_eligible": 0,
        "samples": 7,
        "train": 7,
        "eval": 0,
        "eval_records": 0,
        "images": 4,
        "skipped": 4,
    }
    assert manifest["by_generator"] == {
        "describe": 1,
        "hardneg": 1,
        "instruct": 2,
        "keyanswer": 1,
        "multihop": 1,
        "reasoning": 1,
    }
    assert manifest["by_sample_type"]["instruction"] == 2
    assert manifest["kg_coverage"] == {
        "triples_used": 4,
        "triples_total": 5,
        "triples_percent": 80.0,
        "triple_ids_not_in_kg": 0,
        "entities_used": 4,
        "entities_total": 5,
        "entities_percent": 80.0,
        "entity_names_not_in_kg": 1,  # "cough"
        "records_covered": 4,
        "records_kept": 5,
        "records_percent": 80.0,
    }
    assert manifest["models"] == {"fake-vlm": 6, "fake-llm": 1}
    assert {"template": "describe", "version": "2", "samples": 1} in manifest["templates"]
    assert manifest["seeds"] == [{"seed": 7, "samples": 6}, {"seed": 8, "samples": 1}]
    assert manifest["rejects"] == {
        "samples_by_status": {"contaminated": 1, "duplicate": 1, "rejected": 1},
        "samples": [
            {"status": "contaminated", "reason": "matches a SLAKE test question", "samples": 1},
            {"status": "duplicate", "reason": "near-duplicate question", "samples": 1},
            {"status": "rejected", "reason": "the question names the disease", "samples": 1},
        ],
        "synth": [{"reason": "model output is not JSON", "rows": 1}],
    }
    assert manifest["skipped"] == [
        {"sample_id": fx.samples[label], "reason": reason} for label, reason in SKIPPED.items()
    ]
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {"llava.json", "dataset_card.md"} | {
        f"images/{p.name}" for p in (out / "images").iterdir()
    }
    for path, entry in files.items():
        data = (out / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    # the details (with file paths) stay in the workspace's rejects table
    rejects = fx.ws.db.execute(
        "SELECT source, reason, raw FROM rejects WHERE stage = 'export' ORDER BY source"
    ).fetchall()
    assert [(s, r) for s, r, _ in rejects] == sorted(
        (f"sample {fx.samples[label]}", reason) for label, reason in SKIPPED.items()
    )
    assert any("gone.png" in raw for _, _, raw in rejects)
    run = fx.ws.db.execute("SELECT command, status FROM runs WHERE id = ?", [report.run_id])
    assert run.fetchone() == ("export", "ok")


def test_dataset_card(fx: ExportFixture, tmp_path: Path) -> None:
    export_samples(fx.ws, tmp_path / "out", "trl-sft", seed=3, split_eval=0.5)
    card = (tmp_path / "out" / "dataset_card.md").read_text()
    for expected in (
        "# MedSynth export (trl-sft)",
        "- 7 sample(s): ",
        "shuffled with seed 3",
        "| multihop | 1 |",
        "| instruct | 2 |",
        "| instruction | 2 |",
        "triples on the samples' paths: 4 of 5 in the KG (80.0 %)",
        "entities named on the paths: 4 of 5 KG entities (80.0 %); 1 other name(s)",
        "records: 4 of 5 kept records have samples here (80.0 %)",
        "| fake-vlm | 6 |",
        "| fake-llm | 1 |",
        "| describe | 2 | 1 |",
        "| 7 | 6 |",
        "| contaminated | matches a SLAKE test question | 1 |",
        "| rejected | the question names the disease | 1 |",
        "| model output is not JSON | 1 |",
        f"| {fx.samples['missing']} | image 1 of 1: image file is missing |",
        f"| {fx.samples['corrupt']} | image 2 of 2: unreadable image |",
        "## How it was made",
        "Keep this folder on premises",
    ):
        assert expected in card, expected


def test_selection_options(fx: ExportFixture, tmp_path: Path) -> None:
    only = export_samples(fx.ws, tmp_path / "g", "trl-sft", generators=["hardneg,keyanswer"])
    assert only.by_generator == {"hardneg": 1, "keyanswer": 1}
    assert only.skipped[0].sample_id == fx.samples["bad_json"]

    with_contaminated = export_samples(
        fx.ws, tmp_path / "c", "trl-sft", generators=["keyanswer"], include_contaminated=True
    )
    ids = [r["id"] for r in lines(tmp_path / "c" / "sft.jsonl")]
    assert ids == [sid(fx, "keyanswer"), sid(fx, "contaminated")]
    assert with_contaminated.samples == 2

    limited = export_samples(fx.ws, tmp_path / "l", "trl-sft", limit=3)
    assert limited.samples == 3
    assert [r["id"] for r in lines(tmp_path / "l" / "sft.jsonl")] == [
        sid(fx, label) for label in EXPORTED[:3]
    ]
    assert limited.images == 2  # a.png, the JPEG: nothing written for samples not exported

    orders = []
    for name in ("s1", "s2"):
        export_samples(fx.ws, tmp_path / name, "trl-sft", seed=5)
        orders.append([r["id"] for r in lines(tmp_path / name / "sft.jsonl")])
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(sid(fx, label) for label in EXPORTED)
    assert orders[0] != [sid(fx, label) for label in EXPORTED]

    with pytest.raises(InputError, match="unknown generator"):
        export_samples(fx.ws, tmp_path / "x", "trl-sft", generators=["nope"])
    with pytest.raises(InputError, match="unknown export format"):
        export_samples(fx.ws, tmp_path / "x", "alpaca")
    with pytest.raises(InputError, match="not a fraction"):
        export_samples(fx.ws, tmp_path / "x", "trl-sft", split_eval=1.0)


def test_split_eval_holds_out_whole_records(fx: ExportFixture, tmp_path: Path) -> None:
    report = export_samples(fx.ws, tmp_path / "out", "trl-sft", split_eval=0.5, seed=0)
    train = lines(tmp_path / "out" / "sft.jsonl")
    held = lines(tmp_path / "out" / "sft_eval.jsonl")
    assert report.train == len(train) and report.eval == len(held)
    assert len(train) + len(held) == 7
    record_of = {f"s{v}": fx.row(k)["record_id"] for k, v in fx.samples.items()}
    train_records = {record_of[r["id"]] for r in train}
    eval_records = {record_of[r["id"]] for r in held}
    assert not train_records & eval_records
    expected_eval = {r for r in train_records | eval_records if held_out(r, 0.5, 0)}
    assert eval_records == expected_eval
    assert report.files == ["sft.jsonl", "sft_eval.jsonl", "dataset_card.md", "manifest.json"]


def test_out_must_be_new_or_empty_unless_force(fx: ExportFixture, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    export_samples(fx.ws, out, "llava")  # an empty folder is fine
    with pytest.raises(InputError, match="not empty") as error:
        export_samples(fx.ws, out, "trl-sft")
    assert "--force" in error.value.hint
    (out / "notes.txt").write_text("mine")
    stale = out / "images" / "0123456789abcdef.png"
    stale.write_bytes(b"old")
    report = export_samples(fx.ws, out, "trl-sft", generators=["keyanswer"], force=True)
    assert (out / "notes.txt").read_text() == "mine"  # not ours: kept
    assert not stale.exists() and not (out / "llava.json").exists()
    assert len(list((out / "images").iterdir())) == report.images == 1
    with pytest.raises(InputError, match="holds the workspace"):
        export_samples(fx.ws, fx.ws.root.parent, "llava", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        export_samples(fx.ws, tmp_path / "file", "llava")


def test_nothing_to_export_is_an_error(fx: ExportFixture, tmp_path: Path) -> None:
    fx.ws.db.execute("UPDATE samples SET status = 'rejected'")
    fx.ws.db.conn.commit()
    with pytest.raises(InputError, match="no kept samples") as error:
        export_samples(fx.ws, tmp_path / "out", "llava")
    assert "medsynth synth" in error.value.hint
    assert not (tmp_path / "out").exists()


def test_every_format_loads_with_datasets(fx: ExportFixture, tmp_path: Path) -> None:
    import datasets  # a dev dependency (TRL needs it too)

    expected = {
        "llava": ("llava.json", {"id", "image", "images", "conversations", "generator"}),
        "sharegpt": ("sharegpt.json", {"id", "messages", "images", "generator", "sample_type"}),
        "trl-sft": ("sft.jsonl", {"id", "images", "messages", "generator", "sample_type"}),
        "trl-grpo": (
            "grpo.jsonl",
            {"id", "images", "prompt", "key_answer", "path_entities", "ground_truth", "reasoning"},
        ),
    }
    for fmt, (name, columns) in expected.items():
        out = tmp_path / fmt
        report = export_samples(fx.ws, out, fmt)
        loaded = datasets.load_dataset(
            "json", data_files=str(out / name), split="train", cache_dir=str(tmp_path / "cache")
        )
        assert len(loaded) == report.samples, fmt
        assert columns <= set(loaded.column_names), (fmt, loaded.column_names)
        if fmt == "trl-sft":
            row = loaded[[r["id"] for r in loaded].index(sid(fx, "describe"))]
            assert [p["type"] for p in row["messages"][0]["content"]] == ["image", "image", "text"]
            assert all((out / p).is_file() for r in loaded for p in r["images"])


def test_cli_export(fx: ExportFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(fx.ws.root)
    out = tmp_path / "out"
    args = ["export", str(out), "-f", "trl-grpo", "-w", ws]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"] == 3 and data["format"] == "trl-grpo" and data["out"] == str(out)
    assert main(args) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--force", "-g", "hardneg", "-g", "keyanswer", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"exported 2 sample(s) as trl-grpo to {out}" in printed
    assert "files: grpo.jsonl, dataset_card.md, manifest.json" in printed
    assert main(["export", str(tmp_path / "bad"), "-f", "llava", "-w", ws, "-g", "nope"]) == 2
    assert "unknown generator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("1", "1"),
        ("L", "L"),
        ("LA", "LA"),
        ("P", "RGB"),
        ("RGB", "RGB"),
        ("RGBA", "RGBA"),
        ("CMYK", "RGB"),
        ("I;16", "I;16"),
        ("I", "I;16"),
        ("F", "I;16"),
    ],
)
def test_png_bytes_writes_every_mode_bare(mode: str, expected: str) -> None:
    import io

    image = Image.new(mode, (6, 4))
    image.info["dpi"] = (300, 300)
    image.info["icc_profile"] = b"fake profile naming a scanner"
    with Image.open(io.BytesIO(png_bytes(image))) as again:
        assert (again.mode, again.size, again.info) == (expected, (6, 4), {})


def test_wide_pixel_values_are_stretched_to_16_bits() -> None:
    import io

    values = np.array([[-1.0, 0.0], [0.5, 1.0]], dtype=np.float32)
    with Image.open(io.BytesIO(png_bytes(Image.fromarray(values)))) as again:
        assert np.asarray(again).tolist() == [[0, 32768], [49151, 65535]]
    small = np.array([[0, 1000], [2000, 65535]], dtype=np.int32)
    with Image.open(io.BytesIO(png_bytes(Image.fromarray(small)))) as again:
        assert np.asarray(again).tolist() == small.tolist()


def test_progress_and_sharegpt_eval_entry(fx: ExportFixture, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = export_samples(
        fx.ws,
        tmp_path / "out",
        "sharegpt",
        split_eval=0.5,
        seed=0,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(n, 11) for n in range(1, 12)]
    info = json.loads((tmp_path / "out" / "dataset_info.json").read_text())
    assert info["medsynth_eval"]["file_name"] == "sharegpt_eval.json"
    held = json.loads((tmp_path / "out" / "sharegpt_eval.json").read_text())
    assert len(held) == report.eval
