"""MedKInstruct short and long paths, entity lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.kg.paths import find_entity, paths_for
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace
from tests.conftest import write

KG = """head,relation,tail,head_type,tail_type
Lung,belong to,Respiratory System,,
Left Lung,belong to,Lung,organ,organ
Lung,function,gas exchange,,
Lung Cancer,location,Lung,,
Lung Cancer,symptom,cough,,
Lung Cancer,treatment,surgery,,
Lung Cancer,alias,bronchial carcinoma,,
Gallstone,location,Gallbladder,,
Gallstones,location,Gallbladder,,
Loop A,belong to,Loop B,organ,organ
Loop B,belong to,Loop A,organ,organ
"""


@pytest.fixture
def kg_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    import_kg(ws, write(tmp_path / "kg.csv", KG), "triples")
    return ws


def texts(ws: Workspace, name: str) -> list[tuple[str, str, str]]:
    entity = find_entity(ws.db, name)
    return [(p.kind, p.relation, p.text()) for p in paths_for(ws.db, entity["id"])]


def test_disease_long_paths_reach_the_system(kg_ws: Workspace) -> None:
    assert texts(kg_ws, "Lung Cancer") == [
        ("long", "location", "Lung Cancer -[location]-> Lung -[belong to]-> Respiratory System"),
        (
            "long",
            "symptom",
            "Lung Cancer -[symptom]-> cough ; "
            "Lung Cancer -[location]-> Lung -[belong to]-> Respiratory System",
        ),
        (
            "long",
            "treatment",
            "Lung Cancer -[treatment]-> surgery ; "
            "Lung Cancer -[location]-> Lung -[belong to]-> Respiratory System",
        ),
    ]


def test_path_entities_and_triple_ids(kg_ws: Workspace) -> None:
    entity = find_entity(kg_ws.db, "Lung Cancer")
    symptom = next(p for p in paths_for(kg_ws.db, entity["id"]) if p.relation == "symptom")
    assert symptom.entities == ["Lung Cancer", "cough", "Lung", "Respiratory System"]
    assert len(symptom.as_dict()["triple_ids"]) == 3


def test_organ_short_paths_follow_chains_upwards(kg_ws: Workspace) -> None:
    assert texts(kg_ws, "Left Lung") == [
        ("short", "belong to", "Left Lung -[belong to]-> Lung -[belong to]-> Respiratory System")
    ]
    assert texts(kg_ws, "Lung")[1] == (
        "short",
        "function",
        "Lung -[function]-> gas exchange ; Lung -[belong to]-> Respiratory System",
    )


def test_types_named_in_the_file_beat_inferred_ones(kg_ws: Workspace) -> None:
    # 'Lung' is the tail of a belong-to (inferred: system) but the file says organ
    assert find_entity(kg_ws.db, "Lung")["type"] == "organ"
    assert find_entity(kg_ws.db, "Respiratory System")["type"] == "system"


def test_system_lists_its_organs(kg_ws: Workspace) -> None:
    assert texts(kg_ws, "Respiratory System") == [
        ("short", "belong to", "Lung -[belong to]-> Respiratory System")
    ]


def test_spelling_variants_give_one_path(kg_ws: Workspace) -> None:
    assert len(texts(kg_ws, "Gallstone")) == 1


def test_belong_to_cycles_terminate(kg_ws: Workspace) -> None:
    found = texts(kg_ws, "Loop A")
    assert found == [("short", "belong to", "Loop A -[belong to]-> Loop B")]


def test_lookup_by_alias_and_normalised_name(kg_ws: Workspace) -> None:
    assert find_entity(kg_ws.db, "bronchial carcinomas")["name"] == "Lung Cancer"
    assert find_entity(kg_ws.db, "LUNG  cancer")["name"] == "Lung Cancer"
    with pytest.raises(InputError, match="no such entity") as info:
        find_entity(kg_ws.db, "Lung Cancr")
    assert "Lung Cancer" in info.value.hint
