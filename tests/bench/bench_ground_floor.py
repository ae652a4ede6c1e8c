"""Where the fuzzy stage's floor belongs: the scores of right and wrong candidates.

Labelled mentions are paraphrases a caption might use for an entity of the demo KG or SLAKE's
KG (``PAIRS``: each with the KG names that are right for it), plus SLAKE detection labels and
issue 13's nonsense that have no right entity (``NO_RIGHT``). For each, the fuzzy stage's
``top_k`` = 20 candidates are scored as grounding scores them (MiniLM text index; image index of
the configured encoder, the thumbnail fallback by default) with a record image: the demo's
phantom of the right entity, or the SLAKE image whose annotation carries the label. It prints,
for the text score and for the text + image score, how many right candidates each floor keeps
and how many wrong ones it drops, and how many candidates of the no-right mentions would still
reach the verifier. ``[ground] fuzzy_min_text_score`` is chosen from this table.

Run as ``.venv/bin/python tests/bench/bench_ground_floor.py`` (about a minute: two KGs indexed).
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medsynth.demo import demo_kg_dir
from medsynth.ground.fuzzy import EntityVectors, FuzzyMatcher, Verdict
from medsynth.kg.lookup import ExactMatcher, Kind
from medsynth.kg.phantom import ENTITY_SCENES, render
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.workspace import Workspace
from tests.conftest import SHARED_DATA

SLAKE = SHARED_DATA / "slake"
FLOORS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
Pair = tuple[str, Kind, set[str]]
PAIRS: dict[str, list[Pair]] = {
    "demo": [
        ("stone in the kidney", "disease", {"Kidney Stone"}),
        ("kidney calculus", "disease", {"Kidney Stone"}),
        ("calculus in the left kidney", "disease", {"Kidney Stone"}),
        ("nephrolithiasis", "disease", {"Kidney Stone"}),
        ("simple liver cyst", "disease", {"Liver Cyst"}),
        ("enlarged cardiac silhouette", "disease", {"Cardiomegaly"}),
        ("heart enlargement", "disease", {"Cardiomegaly"}),
        ("pleural fluid", "disease", {"Pleural Effusion"}),
        ("fluid in the pleural space", "disease", {"Pleural Effusion"}),
        ("lung collapse", "disease", {"Pneumothorax"}),
        ("brain bleed", "disease", {"Cerebral Hemorrhage"}),
        ("intracranial hemorrhage", "disease", {"Cerebral Hemorrhage"}),
        ("stroke", "disease", {"Cerebral Infarction"}),
        ("fractured rib", "disease", {"Rib Fracture"}),
        ("broken ribs", "disease", {"Rib Fracture"}),
        ("liver cirrhosis", "disease", {"Cirrhosis"}),
        ("hepatic steatosis", "disease", {"Fatty Liver"}),
        ("gallbladder inflammation", "disease", {"Cholecystitis"}),
        ("inflamed pancreas", "disease", {"Pancreatitis"}),
        ("lung infection", "disease", {"Pneumonia"}),
        ("pulmonary TB", "disease", {"Pulmonary Tuberculosis"}),
        ("spleen enlargement", "disease", {"Splenomegaly"}),
        ("curvature of the spine", "disease", {"Scoliosis"}),
        ("gastric carcinoma", "disease", {"Gastric Cancer"}),
        ("bladder carcinoma", "disease", {"Bladder Cancer"}),
        ("brain swelling", "disease", {"Brain Edema"}),
        ("hepatocellular cancer", "disease", {"Liver Cancer"}),
        ("lung carcinoma", "disease", {"Lung Cancer"}),
        ("nodule in the lung", "disease", {"Pulmonary Nodule"}),
        ("left kidney", "organ", {"Kidney"}),
        ("right lung", "organ", {"Lung"}),
        ("renal", "organ", {"Kidney"}),
        ("hepatic", "organ", {"Liver"}),
        ("cardiac", "organ", {"Heart"}),
        ("vertebrae", "organ", {"Spine"}),
        ("large intestine", "organ", {"Colon"}),
        ("urinary bladder", "organ", {"Bladder"}),
        ("thoracic aorta", "organ", {"Aorta"}),
        ("spinal column", "organ", {"Spine"}),
    ],
    "slake": [
        ("Left Kidney", "organ", {"Kidney"}),
        ("Right Kidney", "organ", {"Kidney"}),
        ("Right Lung", "organ", {"Lung"}),
        ("Left Lung", "organ", {"Lung"}),
        ("Left Eye", "organ", {"Eye"}),
        ("Right Ear", "organ", {"Ear"}),
        ("Right Parotid", "organ", {"Parotid Gland"}),
        ("Brain Stem", "organ", {"Brainstem"}),
        ("Nodule", "disease", {"Pulmonary Nodules"}),
        ("Effusion", "disease", {"Pleural Effusion"}),
        ("Brain Enhancing Tumor", "disease", {"Brain Cancer", "Benign Brain Tumour"}),
        ("lung nodule", "disease", {"Pulmonary Nodules"}),
        ("lung carcinoma", "disease", {"Lung Cancer"}),
        ("enlarged heart", "disease", {"Cardiomegaly"}),
        ("fluid around the lung", "disease", {"Pleural Effusion"}),
        ("collapsed lung", "disease", {"Pneumothorax"}),
        ("lung inflammation", "disease", {"Pneumonia"}),
        ("brain tumor", "disease", {"Brain Cancer", "Benign Brain Tumour"}),
        ("bowel", "organ", {"Small Intestine", "Large Intestine"}),
        ("renal", "organ", {"Kidney"}),
        ("pulmonary", "organ", {"Lung"}),
        ("cardiac", "organ", {"Heart"}),
        ("hepatic", "organ", {"Liver"}),
        ("thyroid gland", "organ", {"Thyroid"}),
        ("uterine", "organ", {"Uterus"}),
    ],
}
NO_RIGHT: dict[str, list[Pair]] = {
    "demo": [("Cardiovascular disease", "disease", set()), ("spaceship", "disease", set())],
    "slake": [
        ("Mass", "disease", set()),
        ("Infiltrate", "disease", set()),
        ("Left Femoral Head", "organ", set()),
        ("Right Mandible", "organ", set()),
        ("Right Temporal Lobe", "organ", set()),
        ("Cardiovascular disease", "disease", set()),
        ("spaceship", "disease", set()),
    ],
}


def workspace(kg: str, folder: Path) -> Workspace:
    """A workspace with ``kg`` imported, its entity images linked and both indexes built."""
    ws = Workspace.init(folder / kg)
    if kg == "demo":
        import_kg(ws, demo_kg_dir() / "triples.tsv", "triples")
        link_entity_images(ws, demo_kg_dir() / "images", "folders")
    else:
        import_kg(ws, SLAKE / "KG", "slake")
        link_entity_images(ws, SLAKE / "imgs", "slake-detection")
    build_indexes(ws)
    return ws


def record_image(kg: str, mention: str, right: set[str]) -> Image.Image | None:
    """The image a record with this mention would have (None: scored on text alone)."""
    if kg == "demo":
        entity = next(iter(right), "")
        return render(entity, 7) if entity in ENTITY_SCENES else None
    for detection in sorted((SLAKE / "imgs").glob("*/detection.json")):
        if mention in {label for item in json.loads(detection.read_text()) for label in item}:
            return Image.open(detection.parent / "source.jpg").convert("RGB")
    return None


def never(mention: str, candidate: str, kind: Kind) -> Verdict:
    return Verdict(None, None)


def candidates(kg: str, folder: Path) -> list[dict[str, Any]]:
    """Every candidate of every labelled mention of ``kg``, with its scores."""
    ws = workspace(kg, folder)
    exact = ExactMatcher(ws.db)
    vectors = EntityVectors(ws, exact.entities, 20)
    fuzzy = FuzzyMatcher(vectors, never, top_k=20)
    rows = []
    for mention, kind, right in PAIRS[kg] + NO_RIGHT[kg]:
        if exact.match(mention, kind) is not None:
            print(f"  skipped: {mention!r} is a {kg} KG name (exact stage)")
            continue
        image = record_image(kg, mention, right)
        vector = vectors.image_vector(image) if image is not None else None
        for c in fuzzy.candidates(mention, kind, vector):
            rows.append(
                {
                    "mention": f"{kg}: {mention}",
                    "has_right": bool(right),
                    "right": c.name in right,
                    "text": c.text_score,
                    "score": c.score,
                }
            )
    ws.close()
    return rows


def table(rows: list[dict[str, Any]]) -> None:
    """Right kept / wrong dropped per floor, for both scores; what nonsense still sends."""
    for key in ("text", "score"):
        right = np.array([r[key] for r in rows if r["right"]])
        wrong = np.array([r[key] for r in rows if not r["right"]])
        print(
            f"{key}: right n={len(right)} min {right.min():.3f} median {np.median(right):.3f}; "
            f"wrong n={len(wrong)} median {np.median(wrong):.3f} p90 "
            f"{np.percentile(wrong, 90):.3f} max {wrong.max():.3f}"
        )
        for floor in FLOORS:
            print(
                f"  floor {floor:.2f}: right kept {np.mean(right >= floor):7.2%}   "
                f"wrong dropped {np.mean(wrong < floor):7.2%}"
            )
    by_mention: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_mention[r["mention"]].append(r)
    for floor in FLOORS:
        kept = sum(any(c["right"] and c["text"] >= floor for c in cs) for cs in by_mention.values())
        with_right = sum(any(c["right"] for c in cs) for cs in by_mention.values())
        sent = [
            sum(c["text"] >= floor for c in cs)
            for cs in by_mention.values()
            if not cs[0]["has_right"]
        ]
        print(
            f"text floor {floor:.2f}: mentions keeping their right candidate {kept}/{with_right}; "
            f"candidates of no-right mentions still asked: {sum(sent)} ({sent})"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = candidates("demo", Path(tmp)) + candidates("slake", Path(tmp))
    table(rows)


if __name__ == "__main__":
    main()
