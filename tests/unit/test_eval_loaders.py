"""Evaluation loaders on the real SLAKE / VQA-RAD files (train and validate: the test splits are
kept elsewhere) and on small files in the other official layouts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.eval.loaders import load_eval_set, load_slake, load_vqa_rad, looks_like
from tests.conftest import shared_path, write


def test_slake_official_counts() -> None:
    slake = shared_path("slake")
    train = load_slake(slake, "train", "en")
    # 4,919 English training rows; one of them has an empty answer and cannot be scored
    assert len(train.questions) + len(train.problems) == 4919
    assert train.problems == [("train.json[1622]", "row with an empty answer")]
    validate = load_slake(slake, "validate", "en")
    assert len(validate.questions) == 1053 and validate.problems == []
    assert validate.split == "validate" and validate.language == "en"
    assert Counter(q.answer_type for q in validate.questions) == {"OPEN": 631, "CLOSED": 422}
    first = validate.questions[0]
    assert (first.qid, first.image, first.answer, first.question_type) == (
        "9835",
        "imgs/xmlab0/source.jpg",
        "MRI",
        "Modality",
    )
    assert validate.image_path(first) == (slake / "imgs/xmlab0/source.jpg").resolve()
    assert validate.image_path(first).is_file()
    chinese = load_slake(slake / "validate.json", language="zh")
    assert len(chinese.questions) == 1969 - 1053
    assert chinese.split == "validate"  # a file names its split


def test_slake_selection_options() -> None:
    slake = shared_path("slake")
    closed = load_eval_set("slake", slake, split="validate", answer_type="closed")
    assert len(closed.questions) == 422
    assert {q.answer_type for q in closed.questions} == {"CLOSED"}
    first30 = load_eval_set("slake", slake, split="validate", limit=30)
    assert [q.qid for q in first30.questions] == [
        q.qid for q in load_slake(slake, "validate").questions[:30]
    ]
    with pytest.raises(InputError, match=r"no test\.json"):
        load_eval_set("slake", slake)  # the test split is not in ../shared/data


def test_vqa_rad_official_counts() -> None:
    rad = shared_path("vqa_rad")
    train = load_vqa_rad(rad, "train")
    assert len(train.questions) == 1797 and train.problems == []
    assert train.split == "train"
    # two rows carry "CLOSED " with a trailing space: trimmed
    assert Counter(q.answer_type for q in train.questions) == {"CLOSED": 1027, "OPEN": 770}
    assert len({q.qid for q in train.questions}) == 1797
    assert all(q.image.startswith("images/synpic") for q in train.questions)
    assert train.image_path(train.questions[0]).is_file()
    assert "PRES, POS" in {q.question_type for q in train.questions}
    assert looks_like(rad / "VQA_RAD_train.json") == "vqa-rad"
    assert looks_like(shared_path("slake", "validate.json")) == "slake"


def _rad_row(qid: int, phrase: str, answer_type: str = "CLOSED") -> dict[str, object]:
    return {
        "qid": qid,
        "image_name": "synpic1.jpg",
        "question": f"Question {qid}?",
        "answer": "Yes",
        "answer_type": answer_type,
        "question_type": "PRES",
        "phrase_type": phrase,
        "image_organ": "HEAD",
    }


def test_vqa_rad_public_file_test_rows(tmp_path: Path) -> None:
    rows = [
        _rad_row(1, "freeform"),
        _rad_row(2, "test_freeform", "OPEN "),
        _rad_row(3, "para"),
        _rad_row(4, "test_para"),
    ]
    write(tmp_path / "rad" / "VQA_RAD_Dataset_Public.json", json.dumps(rows))
    test = load_vqa_rad(tmp_path / "rad", "test")
    assert [q.qid for q in test.questions] == ["2", "4"]
    assert test.questions[0].answer_type == "OPEN"
    assert test.split == "test"
    train = load_vqa_rad(tmp_path / "rad" / "VQA_RAD_Dataset_Public.json", "train")
    assert [q.qid for q in train.questions] == ["1", "3"]


def test_vqa_rad_trainset_testset_layout(tmp_path: Path) -> None:
    write(tmp_path / "rad" / "trainset.json", json.dumps([_rad_row(1, "freeform")]))
    write(
        tmp_path / "rad" / "testset.json",
        json.dumps([_rad_row(5, "test_freeform"), _rad_row(5, "test_para")]),
    )
    test = load_eval_set("vqa-rad", tmp_path / "rad")
    assert [q.qid for q in test.questions] == ["5", "5#1"]  # a repeated qid stays distinct
    assert test.split == "test"
    assert [q.qid for q in load_eval_set("vqa-rad", tmp_path / "rad", split="train").questions] == [
        "1"
    ]


def test_paths_never_escape_the_dataset_root(tmp_path: Path) -> None:
    rows = [
        {
            "qid": 1,
            "img_name": "../../secret.jpg",
            "question": "Q?",
            "answer": "A",
            "q_lang": "en",
            "answer_type": "OPEN",
            "content_type": "Organ",
        }
    ]
    write(tmp_path / "slake" / "test.json", json.dumps(rows))
    with pytest.raises(InputError, match="escapes the dataset root"):
        load_slake(tmp_path / "slake")
    (tmp_path / "outside").mkdir()
    (tmp_path / "slake" / "imgs").mkdir()
    (tmp_path / "slake" / "imgs" / "link").symlink_to(tmp_path / "outside")
    rows[0]["img_name"] = "link/source.jpg"
    write(tmp_path / "slake" / "test.json", json.dumps(rows))
    with pytest.raises(InputError, match="escapes the dataset root"):
        load_slake(tmp_path / "slake")


def test_bad_rows_are_listed_not_fatal(tmp_path: Path) -> None:
    good = {"qid": 1, "img_name": "x/source.jpg", "question": "Q?", "answer": "A"}
    rows = [
        {**good, "q_lang": "en", "answer_type": "OPEN"},
        {**good, "qid": 2, "q_lang": "en", "answer_type": "MAYBE"},
        {**good, "qid": 3, "q_lang": "en", "answer_type": "OPEN", "question": ""},
        "not an object",
    ]
    write(tmp_path / "slake" / "test.json", json.dumps(rows))
    loaded = load_slake(tmp_path / "slake")
    assert [q.qid for q in loaded.questions] == ["1"]
    reasons = [reason for _, reason in loaded.problems]
    assert reasons == [
        "answer_type 'MAYBE' is neither OPEN nor CLOSED",
        "row without a question",
        "row is not a JSON object",
    ]
    with pytest.raises(InputError, match="VQA-RAD is English only"):
        load_eval_set("vqa-rad", tmp_path, language="zh")
