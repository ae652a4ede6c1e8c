"""Overlap of training data with a test set: images by SHA-256 and phash, questions by text and
by cosine similarity (a bag-of-words encoder here; MiniLM in the integration test)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsynth.errors import InputError
from medsynth.eval.contamination import TestSet
from medsynth.eval.exports import read_export, scan_export
from medsynth.eval.metrics import answer_tokens
from medsynth.files import sha256_file
from medsynth.ingest.images import perceptual_hash
from tests.conftest import shared_path, write

SLAKE_IMAGES = ("xmlab0", "xmlab1", "xmlab10")  # 0 and 10 are validation images, 1 training


class BagOfWords:
    """Word-count vectors: questions with the same words score cosine 1."""

    name = "bag-of-words (test)"
    dim = 64
    weak = True

    def encode_text(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in answer_tokens(text):
                rows[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def slake_test_set(root: Path) -> Path:
    """A SLAKE-layout test.json over two real SLAKE images (xmlab0, xmlab10)."""
    for name in ("xmlab0", "xmlab10"):
        target = root / "imgs" / name
        target.mkdir(parents=True)
        shutil.copy(shared_path("slake", "imgs", name, "source.jpg"), target / "source.jpg")
    rows = [
        {
            "qid": 1,
            "img_name": "xmlab0/source.jpg",
            "question": "Which organ is abnormal?",
            "answer": "Liver",
            "q_lang": "en",
            "answer_type": "OPEN",
            "content_type": "Organ",
        },
        {
            "qid": 2,
            "img_name": "xmlab0/source.jpg",
            "question": "Is this a CT scan?",
            "answer": "No",
            "q_lang": "en",
            "answer_type": "CLOSED",
            "content_type": "Modality",
        },
        {
            "qid": 3,
            "img_name": "xmlab10/source.jpg",
            "question": "Where is the lesion located?",
            "answer": "Left",
            "q_lang": "en",
            "answer_type": "OPEN",
            "content_type": "Position",
        },
        {
            "qid": 4,
            "img_name": "xmlab10/source.jpg",
            "question": "Is this a CT scan?",
            "answer": "Yes",
            "q_lang": "en",
            "answer_type": "CLOSED",
            "content_type": "Modality",
        },
    ]
    return write(root / "test.json", json.dumps(rows))


def export(folder: Path) -> Path:
    """sft.jsonl + llava.json: an exact copy, a re-encoded smaller copy, an unrelated image."""
    images = folder / "images"
    images.mkdir(parents=True)
    shutil.copy(shared_path("slake", "imgs", "xmlab0", "source.jpg"), images / "copy.png")
    with Image.open(shared_path("slake", "imgs", "xmlab10", "source.jpg")) as image:
        image.convert("RGB").resize((200, 200)).save(images / "resized.png")
    with Image.open(shared_path("slake", "imgs", "xmlab1", "source.jpg")) as image:
        image.convert("RGB").save(images / "other.png")

    def sft(sample_id: str, image: str, question: str) -> str:
        user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
        reply = {"role": "assistant", "content": [{"type": "text", "text": "An answer."}]}
        return json.dumps({"id": sample_id, "images": [image], "messages": [user, reply]})

    lines = [
        sft("s1", "images/copy.png", "What does the liver show?"),  # image sha256
        sft("s2", "images/resized.png", "Describe the findings."),  # image phash
        sft("s3", "images/other.png", "WHERE is the lesion located"),  # question text
        sft("s4", "images/other.png", "The lesion is located where?"),  # same words: cosine 1
        sft("s5", "images/other.png", "What organ system does this belong to?"),  # clean
        "",
        "{broken",
    ]
    write(folder / "sft.jsonl", "\n".join(lines) + "\n")
    llava = [
        {
            "id": "l1",
            "image": "images/other.png",
            "conversations": [
                {
                    "from": "human",
                    "value": "<image>\nYou are a teacher.\n\nWhich organ is abnormal?",
                },
                {"from": "gpt", "value": "The liver."},
            ],
        },
        {
            "id": "l2",
            "image": "../escape.png",
            "conversations": [
                {"from": "human", "value": "<image>\nHello?"},
                {"from": "gpt", "value": "Hi."},
            ],
        },
    ]
    write(folder / "llava.json", json.dumps(llava))
    sharegpt = [
        {
            "id": "g1",
            "images": ["images/other.png"],
            "messages": [
                {"role": "system", "content": "You are a teacher."},
                {"role": "user", "content": "<image>What is the patient's age?"},
                {"role": "assistant", "content": "Unknown."},
            ],
        },
    ]
    write(folder / "sharegpt.json", json.dumps(sharegpt))
    write(folder / "llava_eval.json", json.dumps(llava))  # held out: not training data
    return folder


@pytest.fixture
def test_set(tmp_path: Path) -> TestSet:
    return TestSet.from_files([slake_test_set(tmp_path / "slake")], BagOfWords())


def test_match_reasons(test_set: TestSet) -> None:
    copy = shared_path("slake", "imgs", "xmlab0", "source.jpg")
    with Image.open(copy) as image:
        phash = perceptual_hash(image.convert("RGB"))
    hits = test_set.match(sha256_file(copy), phash, "is this a ct scan")
    kinds = [h.kind for h in hits]
    assert kinds[0] == "image_sha256"
    assert hits[0].reason == (
        "image sha256 equals slake test.json imgs/xmlab0/source.jpg (qid 1 and 1 more)"
    )
    assert hits[0].qids == ("1", "2")
    assert "image_phash" not in kinds  # the exact image is not reported twice
    questions = [h for h in hits if h.kind == "question_exact"]
    # qid 2 sits on the matched image: listed first and marked; qid 4 is the same words elsewhere
    assert [(h.qids, h.same_image) for h in questions] == [(("2",), True), (("4",), False)]
    assert questions[0].reason == "question text equals slake test.json qid 2 (same image)"
    assert test_set.match(question="Is the liver enlarged?") == []
    assert test_set.match() == []


def test_phash_and_cosine_thresholds(test_set: TestSet) -> None:
    with Image.open(shared_path("slake", "imgs", "xmlab10", "source.jpg")) as image:
        resized = image.convert("RGB").resize((200, 200))
    phash = perceptual_hash(resized)
    hits = test_set.match(None, phash, None)
    assert [h.kind for h in hits] == ["image_phash"]
    assert hits[0].reason.startswith("image phash distance ")
    assert hits[0].reason.endswith(
        "≤ 4 to slake test.json imgs/xmlab10/source.jpg (qid 3 and 1 more)"
    )
    assert hits[0].value is not None and hits[0].value <= 4
    assert test_set.match(None, phash, None, phash_distance=-1) == []  # off
    similar = test_set.match(question="The lesion is located where?")
    assert [h.kind for h in similar] == ["question_similar"]
    assert similar[0].reason == "question cosine 1.00 ≥ 0.95 to slake test.json qid 3"
    assert test_set.match(question="The lesion is located where?", question_cosine=1.01) == []
    no_encoder = TestSet(test_set.items)
    assert no_encoder.match(question="The lesion is located where?") == []
    assert [h.kind for h in no_encoder.match(question="where is the lesion located")] == [
        "question_exact"
    ]


def test_read_export(tmp_path: Path) -> None:
    samples, problems = read_export(export(tmp_path / "out"))
    assert [s.id for s in samples] == ["s1", "s2", "s3", "s4", "s5", "l1", "l2", "g1"]
    assert samples[0].images == ["images/copy.png"]
    assert samples[0].questions == ["What does the liver show?"]
    assert samples[5].questions == ["Which organ is abnormal?"]  # the role-play text dropped
    assert samples[7].questions == ["What is the patient's age?"]  # <image> marks dropped
    assert problems[0][0] == "sft.jsonl:7" and "invalid JSON" in problems[0][1]
    with pytest.raises(InputError, match="no training export"):
        read_export(tmp_path / "empty")


def test_scan_export(tmp_path: Path, test_set: TestSet) -> None:
    report = scan_export(export(tmp_path / "out"), test_set)
    assert report["samples"] == 8
    assert report["samples_by_kind"] == {
        "image_phash": 1,
        "image_sha256": 1,
        "question_exact": 2,  # s3 and l1
        "question_similar": 1,  # s4
    }
    assert report["contaminated_samples"] == 5  # not s5, not l2
    assert report["test_images_overlapping"] == 2
    assert report["test_questions_overlapping"] == 2  # qids 1 and 3
    assert report["thresholds"]["question_encoder"] == "bag-of-words (test)"
    escaped = [p for p in report["problems"] if "escape.png" in p["source"]]
    assert escaped and "escapes" in escaped[0]["reason"]
    assert {h["sample"] for h in report["hits"]} == {"s1", "s2", "s3", "s4", "l1"}


def test_from_files_reads_vqa_rad_and_lists_missing_images(tmp_path: Path) -> None:
    rows = [
        {
            "qid": 7,
            "image_name": "synpic1.jpg",
            "question": "Is there a fracture?",
            "answer": "No",
            "answer_type": "CLOSED",
            "phrase_type": "test_freeform",
        },
        {
            "qid": 8,
            "image_name": "synpic1.jpg",
            "question": "Train row?",
            "answer": "No",
            "answer_type": "CLOSED",
            "phrase_type": "freeform",
        },
    ]
    write(tmp_path / "rad" / "VQA_RAD_Dataset_Public.json", json.dumps(rows))
    test = TestSet.from_files([tmp_path / "rad"])
    assert [(i.dataset, i.qid) for i in test.items] == [("vqa-rad", "7")]
    assert test.items[0].image_sha256 is None
    assert test.summary()["problems"][0]["reason"] == "missing file"
    assert [h.kind for h in test.match(question="is there a fracture")] == ["question_exact"]
    with pytest.raises(InputError, match="not a SLAKE or VQA-RAD"):
        TestSet.from_files([write(tmp_path / "x.json", "[]")])
