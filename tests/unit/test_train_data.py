"""Reading an export for training: validation and rejects, images kept inside the export, the
data hash, prompt/completion rows for SFT and think-prompted rows for GRPO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsynth.errors import InputError
from medsynth.train import data
from tests.unit.train_fixtures import build_export, user_turn


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_export(tmp_path_factory.mktemp("export") / "out")


def append(path: Path, rows: list[Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")


def test_fixture_follows_the_contract(export: Path) -> None:
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["counts"] == {"sft": 6, "grpo": 5}
    assert (export / "dataset_card.md").is_file()
    sft = data.load_export(export, "sft")
    assert sft.counts() == {
        "rows": 6,
        "with_images": 5,
        "text_only": 1,
        "reasoning": 0,
        "rejected": 0,
    }
    grpo = data.load_export(export, "grpo")
    assert grpo.counts()["reasoning"] == 1
    assert all(Path(i).is_relative_to(export) for row in grpo.rows for i in row["images"])


def test_bad_rows_become_rejects(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_export(out)
    (out / "outside.png").write_bytes((out / "images").iterdir().__next__().read_bytes())
    image = {"type": "image"}
    answer = {"role": "assistant", "content": [{"type": "text", "text": "a"}]}
    append(
        out / "sft.jsonl",
        [
            "{not json",
            {"id": "x1", "images": []},
            {"id": "x2", "images": ["../outside.png"], "messages": [user_turn("q", True), answer]},
            {"id": "x3", "images": ["images/nope.png"], "messages": [user_turn("q", True), answer]},
            {"id": "x4", "images": [], "messages": [user_turn("q", True), answer]},
            {"id": "x5", "images": [], "messages": [user_turn("q", False)]},
            {"id": "x6", "images": [], "messages": [{"role": "robot", "content": "q"}, answer]},
            {"id": "x7", "images": [], "messages": [{"role": "user", "content": [image]}, answer]},
        ],
    )
    loaded = data.load_export(out, "sft")
    assert len(loaded.rows) == 6
    reasons = {r.source: r.reason for r in loaded.rejects}
    assert reasons["sft.jsonl:7"].startswith("invalid JSON")
    assert reasons["sft.jsonl:8"] == "missing field(s): messages"
    assert "escapes" in reasons["sft.jsonl:9"]
    assert "image file missing" in reasons["sft.jsonl:10"]
    assert "1 image part(s) but 0" in reasons["sft.jsonl:11"]
    assert "assistant" in reasons["sft.jsonl:12"]
    assert "role" in reasons["sft.jsonl:13"]
    assert "1 image part(s) but 0" in reasons["sft.jsonl:14"]


def test_symlinked_image_outside_is_refused(tmp_path: Path) -> None:
    out = build_export(tmp_path / "out")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"x")
    (out / "images" / "link.png").symlink_to(secret)
    answer = {"role": "assistant", "content": "a"}
    append(
        out / "sft.jsonl",
        [{"images": ["images/link.png"], "messages": [user_turn("q", True), answer]}],
    )
    loaded = data.load_export(out, "sft")
    assert "escapes" in loaded.rejects[-1].reason


def test_nothing_usable_names_the_export_command(tmp_path: Path) -> None:
    (tmp_path / "sft.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="no usable rows") as caught:
        data.load_export(tmp_path, "sft")
    assert "medsynth export" in caught.value.hint
    with pytest.raises(InputError, match=r"no grpo\.jsonl"):
        data.load_export(tmp_path, "grpo")


def test_find_export_takes_the_newest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no export") as caught:
        data.find_export(tmp_path / "exports", "sft")
    assert "medsynth export" in caught.value.hint
    old = build_export(tmp_path / "exports" / "old")
    new = build_export(tmp_path / "exports" / "new")
    import os

    os.utime(old / "sft.jsonl", (1, 1))
    assert data.find_export(tmp_path / "exports", "sft") == new


def test_data_hash_covers_rows_and_image_bytes(tmp_path: Path) -> None:
    out = build_export(tmp_path / "out")
    first = data.load_export(out, "sft").data_hash
    assert data.load_export(out, "sft").data_hash == first
    image = sorted((out / "images").iterdir())[0]
    image.write_bytes(image.read_bytes() + b"\0")
    assert data.load_export(out, "sft").data_hash != first
    assert data.load_export(out, "sft", limit=2).rows[-1]["id"] == "s3"


def test_sft_rows_train_on_the_answer_only(export: Path) -> None:
    loaded = data.load_export(export, "sft")
    rows, skipped = data.sft_rows(loaded, vision=True)
    assert skipped == 0 and len(rows) == 6
    first = rows[0]
    assert [m["role"] for m in first["prompt"]] == ["user"]
    assert first["prompt"][0]["content"][0] == {"type": "image"}
    assert [m["role"] for m in first["completion"]] == ["assistant"]
    assert "chest pain" in first["completion"][0]["content"][0]["text"]
    assert len(first["images"]) == 1
    text_rows, skipped = data.sft_rows(loaded, vision=False)
    assert skipped == 5 and len(text_rows) == 1
    assert isinstance(text_rows[0]["prompt"][0]["content"], str)
    assert "images" not in text_rows[0]


def test_grpo_rows_carry_reward_columns_and_the_think_prompt(export: Path) -> None:
    loaded = data.load_export(export, "grpo")
    user_text, versions = data.think_instruction(self_check=False)
    assert versions == {"train_think": "1", "train_lvkc": "1"}
    rows, skipped = data.grpo_rows(loaded, vision=True, user_text=user_text)
    assert skipped == 0 and len(rows) == 5
    plain = rows[0]
    assert plain["key_answer"] == "chest pain"
    assert plain["path_entities"] == ["Lung Cancer", "Lung", "Respiratory System"]
    assert plain["reasoning"] is False
    parts = plain["prompt"][-1]["content"]
    assert parts[0] == {"type": "image"}
    assert parts[1]["text"].startswith("What symptom may the disease")
    assert "<think>" in parts[1]["text"] and "<answer>" in parts[1]["text"]
    reasoning = rows[-1]
    assert reasoning["reasoning"] is True
    text = reasoning["prompt"][-1]["content"][-1]["text"]
    assert all(tag in text for tag in ("<LOC>", "<VIS>", "<KNO>", "<CON>", "<ANS>"))
    assert "<CHECK>" not in text
    checked, _ = data.think_instruction(self_check=True)
    assert "<CHECK>" in checked("q", True)
    assert "<CHECK>" not in checked("q", False)


def test_to_dataset_decodes_images_lazily(export: Path) -> None:
    loaded = data.load_export(export, "sft")
    rows, _ = data.sft_rows(loaded, vision=True)
    dataset = data.to_dataset(rows)
    assert len(dataset) == 6
    assert dataset[0]["images"][0].size == (48, 48)
    assert dataset[4]["images"] == []
