"""The real SLAKE KG and images from ../shared/data: counts, aliases, paths, image links."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.service import entity_paths, import_kg, kg_stats, link_entity_images
from medsynth.workspace import Workspace


@pytest.fixture(scope="module")
def slake_ws(tmp_path_factory: pytest.TempPathFactory, slake_kg: Path) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path_factory.mktemp("slake") / "ws")
    ws.slake_report = import_kg(ws, slake_kg, "slake")  # type: ignore[attr-defined]
    yield ws
    ws.close()


def test_english_rows_duplicates_and_distinct_triples(slake_ws: Workspace) -> None:
    report = slake_ws.slake_report  # type: ignore[attr-defined]
    english = [d for d in report.duplicates if d["source"].startswith("en_")]
    assert len(english) == 12
    assert report.distinct_triples_by_language["en"] == 2588
    assert report.rejects == []
    rows = slake_ws.db.execute("SELECT count(*) FROM triples WHERE language = 'en'").fetchone()
    assert rows[0] == 2588
    assert len(english) + 2588 == 2600  # every English row is stored or counted
    assert english[0]["duplicate_of"].startswith("en_disease.csv:")


def test_reimport_changes_nothing(slake_ws: Workspace, slake_kg: Path) -> None:
    before = slake_ws.db.table("triples").count, slake_ws.db.table("entities").count
    again = import_kg(slake_ws, slake_kg, "slake")
    assert again.triples_new == 0
    assert again.entities_new == 0
    assert again.aliases_new == 0
    assert (slake_ws.db.table("triples").count, slake_ws.db.table("entities").count) == before


def test_types_aliases_and_chinese_names(slake_ws: Workspace) -> None:
    stats = kg_stats(slake_ws)
    assert stats["entities_by_type"]["system"] >= 9
    assert stats["aliases_by_language"]["zh"] > 400
    lung = next(slake_ws.db.query("SELECT * FROM entities WHERE name = 'Lung'"))
    assert lung["type"] == "organ"
    resolver = ExactMatcher(slake_ws.db)
    assert resolver.match("肺癌", None) == resolver.match("Lung Cancer", None)
    assert resolver.match("bronchial lung cancer", None) == resolver.match("Lung Cancer", None)
    assert resolver.match("Respiratory System", None) is not None
    assert ["Gallstone", "Gallstones"] in stats["spelling_variants"]


def test_lung_cancer_paths_reach_the_respiratory_system(slake_ws: Workspace) -> None:
    entity, paths = entity_paths(slake_ws, "Lung Cancer")
    assert entity["type"] == "disease"
    by_relation = {p.relation: p for p in paths}
    for relation in ("location", "symptom", "treatment"):
        path = by_relation[relation]
        assert path.kind == "long"
        assert path.entities[-2:] == ["Lung", "Respiratory System"], path.text()
    assert "cough" in by_relation["symptom"].entities[1]
    assert by_relation["location"].text() == (
        "Lung Cancer -[location]-> Lung -[belong to]-> Respiratory System"
    )
    _, zh_paths = entity_paths(slake_ws, "Lung Cancer", language="zh")
    assert {p.relation for p in zh_paths} >= {"location", "symptom"}


def test_link_images_covers_every_label_in_the_kg(slake_ws: Workspace, slake_imgs: Path) -> None:
    labels: set[str] = set()
    for detection in slake_imgs.glob("*/detection.json"):
        for item in json.loads(detection.read_text()):
            labels.update(item)
    assert len(labels) == 44
    resolver = ExactMatcher(slake_ws.db)
    in_kg = {label for label in labels if resolver.match(label, None) is not None}
    report = link_entity_images(slake_ws, slake_imgs, "slake-detection")
    assert set(report.unknown_labels) == labels - in_kg
    assert report.rejects == []
    linked_entities = {resolver.match(label, None).name for label in in_kg}  # type: ignore[union-attr]
    assert set(report.by_entity) == linked_entities
    assert len(in_kg) == 21
    boxes = sum(report.by_entity.values())
    assert boxes == slake_ws.db.table("entity_images").count == 836
    crops = slake_ws.db.execute("SELECT count(DISTINCT crop_path) FROM entity_images").fetchone()
    assert crops[0] == boxes
