"""A small export directory in the data contract of ``medsynth export``, for the training tests.

Until a real ``medsynth export`` run is swapped in, :func:`build_export` writes what an export
holds: ``images/`` (downscaled crops of real SLAKE images), ``sft.jsonl``, ``grpo.jsonl``,
``manifest.json`` and ``dataset_card.md``. The samples carry KG paths from SLAKE's KG
(Lung Cancer, Pneumonia, Cardiomegaly...), a text-only sample and a MEDSAGE-style reasoning
sample, so every loader branch and reward column is exercised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from PIL import Image

from tests.conftest import shared_path

# (SLAKE image folder, question, answer, key answer, path entities, generator)
QA: list[tuple[str, str, str, str, list[str], str]] = [
    (
        "xmlab100",
        "What symptom may the disease in the upper part of this image cause?",
        "The lesion in the lung can cause chest pain and cough. Lung cancer sits in the lung, "
        "part of the respiratory system.",
        "chest pain",
        ["Lung Cancer", "Lung", "Respiratory System"],
        "multihop",
    ),
    (
        "xmlab1",
        "Which organ system does the largest organ on the left of this scan belong to?",
        "The liver belongs to the digestive system.",
        "digestive system",
        ["Liver", "Digestive System"],
        "multihop",
    ),
    (
        "xmlab120",
        "Does cardiomegaly appear in this image?",
        "No. Cardiomegaly is an enlarged heart, which is not seen here.",
        "no",
        ["Cardiomegaly", "Heart", "Circulatory System"],
        "hardneg",
    ),
    (
        "xmlab101",
        "How can the disease shown in this image be prevented?",
        "Pneumonia of the lung is prevented by avoiding infection and improving immunity.",
        "avoid infection",
        ["Pneumonia", "Lung", "Respiratory System"],
        "multihop",
    ),
]
TEXT_ONLY = (
    "Why does a kidney stone cause pain in the back?",
    "A kidney stone blocks the ureter, so the kidney swells and the back hurts.",
)
REASONING = (
    "xmlab122",
    "What abnormality is seen in this chest image?",
    "<LOC>The right lower lung field.</LOC><VIS>A dense round opacity with clear margins.</VIS>"
    "<KNO>A round dense opacity in the lung suggests a nodule or mass.</KNO>"
    "<CON>The finding fits a lung nodule.</CON><ANS>A lung nodule.</ANS>",
    "lung nodule",
    ["Nodule", "Lung", "Respiratory System"],
)


def _image(folder: str, out: Path, size: int) -> str:
    """A centre crop of a SLAKE image, downscaled to ``size`` px and saved as PNG; returns the
    path relative to the export root."""
    source = shared_path("slake", "imgs", folder, "source.jpg")
    with Image.open(source) as img:
        img = img.convert("RGB")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        crop = img.crop((left, top, left + side, top + side)).resize((size, size))
    data = crop.tobytes()
    name = f"images/{hashlib.sha256(data).hexdigest()[:12]}.png"
    (out / "images").mkdir(parents=True, exist_ok=True)
    crop.save(out / name)
    return name


def user_turn(question: str, with_image: bool) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "image"}] if with_image else []
    parts.append({"type": "text", "text": question})
    return {"role": "user", "content": parts}


def build_export(out: Path, *, image_size: int = 48, copies: int = 1) -> Path:
    """Write an export into ``out``; ``copies`` repeats the sample list (more training rows)."""
    out.mkdir(parents=True, exist_ok=True)
    sft: list[dict[str, Any]] = []
    grpo: list[dict[str, Any]] = []
    n = 0
    for _ in range(copies):
        for folder, question, answer, key, path, generator in QA:
            image = _image(folder, out, image_size)
            n += 1
            sft.append(
                {
                    "id": f"s{n}",
                    "images": [image],
                    "messages": [
                        user_turn(question, True),
                        {"role": "assistant", "content": [{"type": "text", "text": answer}]},
                    ],
                    "generator": generator,
                    "sample_type": "negative" if generator == "hardneg" else "qa",
                }
            )
            n += 1
            grpo.append(
                {
                    "id": f"s{n}",
                    "images": [image],
                    "prompt": [user_turn(question, True)],
                    "key_answer": key,
                    "path_entities": path,
                    "ground_truth": answer,
                    "generator": "keyanswer",
                    "sample_type": "rl",
                    "reasoning": False,
                }
            )
        n += 1
        sft.append(
            {
                "id": f"s{n}",
                "images": [],
                "messages": [
                    user_turn(TEXT_ONLY[0], False),
                    {"role": "assistant", "content": [{"type": "text", "text": TEXT_ONLY[1]}]},
                ],
                "generator": "multihop",
                "sample_type": "qa",
            }
        )
        folder, question, trajectory, key, path = REASONING
        image = _image(folder, out, image_size)
        n += 1
        sft.append(
            {
                "id": f"s{n}",
                "images": [image],
                "messages": [
                    user_turn(question, True),
                    {"role": "assistant", "content": [{"type": "text", "text": trajectory}]},
                ],
                "generator": "reasoning",
                "sample_type": "reasoning",
            }
        )
        n += 1
        grpo.append(
            {
                "id": f"s{n}",
                "images": [image],
                "prompt": [user_turn(question, True)],
                "key_answer": key,
                "path_entities": path,
                "ground_truth": "A lung nodule.",
                "generator": "reasoning",
                "sample_type": "rl",
                "reasoning": True,
            }
        )
    for name, rows in (("sft.jsonl", sft), ("grpo.jsonl", grpo)):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (out / name).write_text(text, encoding="utf-8")
    manifest = {
        "format": "medsynth-export",
        "counts": {"sft": len(sft), "grpo": len(grpo)},
        "files": {
            name: hashlib.sha256((out / name).read_bytes()).hexdigest()
            for name in ("sft.jsonl", "grpo.jsonl")
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    (out / "dataset_card.md").write_text(
        "# Test export\n\nBuilt by tests/unit/train_fixtures.py.\n"
    )
    return out
