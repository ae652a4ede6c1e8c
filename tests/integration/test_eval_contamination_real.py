"""``medsynth eval contamination`` on real data: an export made from SLAKE images (re-encoded
as PNG, one resized) and questions, checked against SLAKE's validate.json with MiniLM; and
batched transformers generation giving the same greedy answers as one at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from medsynth.backends.engine import run_bounded
from medsynth.cli import main
from medsynth.workspace import Workspace
from tests.conftest import shared_path, write

pytestmark = pytest.mark.slow


def make_export(folder: Path) -> Path:
    images = folder / "images"
    images.mkdir(parents=True)
    with Image.open(shared_path("slake", "imgs", "xmlab0", "source.jpg")) as image:
        image.convert("RGB").save(images / "validate0.png")  # validation image, re-encoded
    with Image.open(shared_path("slake", "imgs", "xmlab10", "source.jpg")) as image:
        image.convert("RGB").resize((160, 160)).save(images / "validate10.png")
    with Image.open(shared_path("slake", "imgs", "xmlab1", "source.jpg")) as image:
        image.convert("RGB").save(images / "train1.png")  # a training image: clean

    def sample(sample_id: str, image: str, question: str) -> dict[str, object]:
        return {
            "id": sample_id,
            "image": image,
            "conversations": [
                {"from": "human", "value": f"<image>\n{question}"},
                {"from": "gpt", "value": "An answer."},
            ],
        }

    rows = [
        sample("a", "images/validate0.png", "How is the liver related to the digestive system?"),
        sample("b", "images/validate10.png", "What is the main finding here?"),
        sample("c", "images/train1.png", "Does this picture contain the liver?"),  # paraphrase
        sample("d", "images/train1.png", "Why does lung cancer cause coughing?"),  # clean
    ]
    write(folder / "llava.json", json.dumps(rows))
    return folder


def test_contamination_against_slake_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    Workspace.init(ws).close()
    out = make_export(tmp_path / "export")
    validate = shared_path("slake", "validate.json")
    args = ["eval", "contamination", str(out), str(validate), "-l", "en", "-w", str(ws)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["test"]["questions"] == 1053 and report["test"]["problems"] == []
    assert report["samples"] == 4 and report["contaminated_samples"] == 3
    kinds = report["samples_by_kind"]
    assert kinds["image_phash"] == 2  # both re-encoded validation images; no byte-equal copy
    assert "image_sha256" not in kinds
    assert kinds["question_similar"] == 1  # "Does the picture contain liver?" in validate
    assert report["test_images_overlapping"] == 2
    hits = {h["sample"]: h for h in report["hits"]}
    assert hits["a"]["reason"].startswith("image phash distance ")
    assert "imgs/xmlab0/source.jpg" in hits["a"]["reason"]
    assert hits["c"]["kind"] == "question_similar" and hits["c"]["value"] >= 0.95
    assert "d" not in hits
    assert report["thresholds"]["question_encoder"].startswith("minilm")
    assert main([*args, "--question-cosine", "1.01"]) == 0  # images only: no encoder
    text = capsys.readouterr().out
    assert "contaminated samples: 2" in text and "test images overlapping: 2" in text
    assert "question cosine ≥ 1.01 (no encoder)" in text


def test_batched_generation_matches_one_at_a_time(tiny_llava: Path) -> None:
    from medsynth.backends.hf import HFChat
    from medsynth.eval.batching import BatchedHF

    chat = HFChat(tiny_llava)
    image = shared_path("slake", "imgs", "xmlab0", "source.jpg")
    questions = ["Is this a CT?", "Which organ is shown here?", "Where?", "Is the lung normal?"]
    single = {
        q: chat.generate([{"role": "user", "content": q}], images=[image], max_tokens=8)
        for q in questions
    }
    batched = BatchedHF(chat, batch_size=4, wait_s=0.5)
    results = dict(
        run_bounded(
            questions,
            lambda q: batched.generate(
                [{"role": "user", "content": q}], images=[image], max_tokens=8
            ),
            concurrency=4,
        )
    )
    assert max(batched.batches) > 1  # some calls really ran together
    assert {q: str(r) for q, r in results.items()} == {q: str(s) for q, s in single.items()}
