"""Tests for the procedural phantom images and the demo knowledge graph TSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from medsynth.kg.phantom import ENTITY_SCENES, SceneSpec, render, write_demo_images

DEMO_DIR = Path(__file__).resolve().parents[2] / "kg" / "demo"
TRIPLES = DEMO_DIR / "triples.tsv"
HEADER = ["head", "relation", "tail", "head_type", "tail_type"]
RELATIONS = {
    "belong to",
    "location",
    "symptom",
    "cause",
    "treatment",
    "prevention",
    "description",
    "infectivity",
    "susceptible population",
    "alias",
    "function",
    "position",
    "component",
    "definition",
}
TYPES = {"disease", "organ", "system", "other", ""}


def _png_bytes(entity: str, variant: int) -> bytes:
    buf = io.BytesIO()
    render(entity, variant).save(buf, format="PNG")
    return buf.getvalue()


def _rows() -> list[list[str]]:
    with TRIPLES.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _entities(body: list[list[str]]) -> dict[str, str]:
    """Entity name -> declared type: every head, plus tails that have a declared type."""
    ents: dict[str, str] = {}
    for head, _rel, tail, head_type, tail_type in body:
        ents.setdefault(head, head_type)
        if tail_type:
            ents.setdefault(tail, tail_type)
    return ents


@pytest.mark.parametrize("entity", ["Lung", "Pulmonary Nodule", "Brain Edema", "Kidney Stone"])
def test_render_is_deterministic(entity: str) -> None:
    assert _png_bytes(entity, 0) == _png_bytes(entity, 0)
    assert _png_bytes(entity, 1) == _png_bytes(entity, 1)


def test_render_shape_and_mode() -> None:
    img = render("Heart", 0)
    assert img.size == (256, 256)
    assert img.mode == "L"


@pytest.mark.parametrize("entity", sorted(ENTITY_SCENES))
def test_variants_differ(entity: str) -> None:
    assert _png_bytes(entity, 0) != _png_bytes(entity, 1)


@pytest.mark.parametrize(
    "disease", sorted(e for e, s in ENTITY_SCENES.items() if s.lesion is not None or s.sizes)
)
def test_disease_differs_from_its_organ(disease: str) -> None:
    spec = ENTITY_SCENES[disease]
    organs = [e for e, s in ENTITY_SCENES.items() if s == SceneSpec(spec.scene, spec.organ)]
    assert organs, f"no normal organ image for {disease}"
    for variant in (0, 1):
        sick = np.asarray(render(disease, variant), dtype=np.int16)
        for organ in organs:
            normal = np.asarray(render(organ, variant), dtype=np.int16)
            # a visible change: at least a few dozen pixels differ clearly
            assert int((np.abs(sick - normal) > 20).sum()) > 20, (disease, organ, variant)


def test_entity_scene_names_are_tsv_entities() -> None:
    ents = _entities(_rows()[1:])
    missing = [name for name in ENTITY_SCENES if name not in ents]
    assert not missing


def test_write_demo_images(tmp_path: Path) -> None:
    paths = write_demo_images(tmp_path, variants=2)
    expected = {tmp_path / e / f"{v}.png" for e in ENTITY_SCENES for v in (0, 1)}
    assert set(paths) == expected
    assert len(paths) == len(expected)
    for path in paths:
        assert path.is_file()
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_demo_images_is_byte_identical(tmp_path: Path) -> None:
    first = write_demo_images(tmp_path / "a", variants=1)
    second = write_demo_images(tmp_path / "b", variants=1)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_shipped_images_exist() -> None:
    images = DEMO_DIR / "images"
    if not images.is_dir():
        pytest.skip("kg/demo/images not present")
    for entity in ENTITY_SCENES:
        for variant in (0, 1):
            assert (images / entity / f"{variant}.png").is_file()


def test_triples_tsv_is_valid() -> None:
    raw = TRIPLES.read_bytes()
    raw.decode("utf-8")  # must be valid UTF-8
    rows = _rows()
    assert rows[0] == HEADER
    body = rows[1:]
    for i, row in enumerate(body, start=2):
        assert len(row) == 5, f"line {i}: {row}"
        assert all(field == field.strip() for field in row), f"line {i}: stray whitespace"
        head, rel, tail, head_type, tail_type = row
        assert head and tail, f"line {i}: empty head or tail"
        assert rel in RELATIONS, f"line {i}: relation {rel!r}"
        assert head_type in TYPES and tail_type in TYPES, f"line {i}: bad type"
    assert len({tuple(r) for r in body}) == len(body), "duplicate rows"
    assert len(body) >= 230

    ents = _entities(body)
    assert len(ents) >= 45
    systems = {e for e, t in ents.items() if t == "system"}
    assert len(systems) >= 5
    for head, rel, tail, _ht, _tt in body:
        if rel in ("location", "belong to"):
            assert tail in ents, f"{head} {rel} {tail}: tail is not an entity"
        if rel == "belong to":
            assert tail in systems

    organs = {e for e, t in ents.items() if t == "organ"}
    diseases = {e for e, t in ents.items() if t == "disease"}
    belongs = {h for h, r, _t, _a, _b in body if r == "belong to"}
    assert organs <= belongs, "every organ needs a belong to triple"
    for disease in diseases:
        rels = {r for h, r, _t, _a, _b in body if h == disease}
        needed = {"location", "symptom", "cause", "treatment", "description"}
        assert needed <= rels, f"{disease} lacks {needed - rels}"
        locs = [t for h, r, t, _a, _b in body if h == disease and r == "location"]
        assert all(loc in organs for loc in locs), disease
