"""The fuzzy stage's score floor: candidates under it are kept for the record but never reach
the verifier; refusals are counted per step and reason in the run and workspace reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medsynth.backends.fake import ScriptedChat
from medsynth.cli.ground import print_report, print_run
from medsynth.config import GroundConfig
from medsynth.ground import GroundReport, ground, ground_report
from medsynth.ground.fuzzy import EntityVectors, FuzzyMatcher, Verdict
from medsynth.ground.model import Grounded, MatchRow
from medsynth.ground.plausible import FUZZY_FLOOR, PLAUSIBILITY, VERIFIER, Refusal
from medsynth.kg.lookup import EntityRef, ExactMatcher, Kind
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png, script_reply
from tests.unit.test_ground_stages import make_kg

# id -> (name, text score, image score)
ENTITIES = {
    1: ("Kidney Stone", 0.90, 0.10),
    2: ("Renal Cyst", 0.50, 0.05),
    3: ("Hydronephrosis", 0.44, 0.95),  # image-alike, name-unlike: the issue-13 confusion
    4: ("Cardiomegaly", 0.20, 1.00),
}


class StubIndex:
    """Stands in for a LoadedIndex: fixed entities and scores, nothing nearer by image."""

    def __init__(self, scores: dict[int, float]) -> None:
        self.entities = {i: EntityRef(i, name, "disease") for i, (name, _, _) in ENTITIES.items()}
        self.scores = scores

    def nearest(self, vector: Any, types: tuple[str, ...], n: int) -> list[int]:
        return []

    def best(self, entity_id: int, vector: Any) -> float | None:
        return self.scores.get(entity_id)


class StubVectors:
    def __init__(self) -> None:
        self.text = StubIndex({i: t for i, (_, t, _) in ENTITIES.items()})
        self.image = StubIndex({i: s for i, (_, _, s) in ENTITIES.items()})

    def mention_vector(self, mention: str) -> Any:
        return np.zeros(4, dtype=np.float32)


class Recorder:
    """A fake verifier that records every question and answers from a set of names."""

    def __init__(self, same: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.same = same
        self.asked: list[str] = []

    def __call__(self, mention: str, candidate: str, kind: Kind) -> Verdict:
        self.asked.append(candidate)
        return Verdict(candidate in self.same, len(self.asked))


def matcher(verify: Recorder, **floors: float) -> FuzzyMatcher:
    fuzzy = FuzzyMatcher(StubVectors(), verify, top_k=10, **floors)  # type: ignore[arg-type]
    fuzzy.text_scores = lambda mention, kind: (  # type: ignore[method-assign]
        list(ENTITIES),
        {i: t for i, (_, t, _) in ENTITIES.items()},
    )
    return fuzzy


IMAGE = np.ones(4, dtype=np.float32)


def test_candidates_under_the_text_floor_never_reach_the_verifier() -> None:
    verify = Recorder()
    result = matcher(verify, min_text_score=0.45).match("kidney calculus", "disease", IMAGE)
    # ranked by text + image: Cardiomegaly 1.2, Hydronephrosis 1.39, Kidney Stone 1.0 ...
    assert [c.name for c in result.candidates] == [
        "Hydronephrosis",
        "Cardiomegaly",
        "Kidney Stone",
        "Renal Cyst",
    ]
    assert verify.asked == ["Kidney Stone", "Renal Cyst"]  # in score order, floor respected
    floor = {c.name: c.below_floor for c in result.candidates}
    assert floor == {
        "Hydronephrosis": True,
        "Cardiomegaly": True,
        "Kidney Stone": False,
        "Renal Cyst": False,
    }
    assert all(c.verified is None and c.call_id is None for c in result.candidates[:2])
    assert result.match is None
    assert result.refusal == Refusal(VERIFIER, "every candidate refused", "2 asked")
    assert result.candidates[0].as_dict()["below_floor"] is True


def test_the_verifier_confirms_the_first_candidate_above_the_floor() -> None:
    verify = Recorder({"Kidney Stone", "Hydronephrosis"})
    result = matcher(verify, min_text_score=0.45).match("kidney calculus", "disease", IMAGE)
    assert result.match is not None and result.match.name == "Kidney Stone"
    assert verify.asked == ["Kidney Stone"]  # Hydronephrosis ranks first but is never asked
    assert result.refusal is None
    unfloored = Recorder({"Kidney Stone", "Hydronephrosis"})
    before = matcher(unfloored).match("kidney calculus", "disease", IMAGE)
    assert before.match is not None and before.match.name == "Hydronephrosis"  # the old defect


def test_everything_under_the_floor_is_a_floor_refusal_without_a_call() -> None:
    verify = Recorder({"Kidney Stone"})
    result = matcher(verify, min_text_score=0.95).match("spaceship", "disease", IMAGE)
    assert verify.asked == [] and result.match is None
    assert result.refusal is not None
    assert (result.refusal.step, result.refusal.category) == (FUZZY_FLOOR, "below the score floor")
    assert "closest name Kidney Stone: text 0.900" in result.refusal.detail


def test_the_combined_score_floor_still_applies() -> None:
    verify = Recorder()
    matcher(verify, min_score=1.1).match("kidney calculus", "disease", IMAGE)
    assert verify.asked == ["Hydronephrosis", "Cardiomegaly"]  # 1.39 and 1.2; the rest < 1.1


def test_no_candidate_at_all() -> None:
    fuzzy = matcher(Recorder(), min_text_score=0.45)
    fuzzy.text_scores = lambda mention, kind: ([], {})  # type: ignore[method-assign]
    result = fuzzy.match("kidney calculus", "disease", None)
    assert result.refusal == Refusal(FUZZY_FLOOR, "no candidate", "no KG entity of this kind")


def test_the_floor_is_on_by_default_and_documented() -> None:
    field = GroundConfig.model_fields["fuzzy_min_text_score"]
    assert GroundConfig().fuzzy_min_text_score == 0.45
    assert field.description is not None and "0.48" in field.description
    assert "bench_ground_floor" in field.description


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = make_kg(tmp_path_factory.mktemp("floor"))
    yield ws
    ws.close()


def test_minilm_puts_synonyms_above_the_floor_and_nonsense_under(tiny: Workspace) -> None:
    """The default floor against the real text encoder on the tiny KG's names."""
    exact = ExactMatcher(tiny.db)
    fuzzy = FuzzyMatcher(EntityVectors(tiny, exact.entities, 20), Recorder(), top_k=20)
    floor = GroundConfig().fuzzy_min_text_score

    def text(mention: str, name: str) -> float:
        found = {c.name: c.text_score for c in fuzzy.candidates(mention, "disease", None)}
        return found[name]

    assert text("lung mass", "Pulmonary Mass") >= floor
    assert text("stone in the kidney", "Kidney Stone") >= floor
    assert text("hepatic cyst", "Liver Cyst") >= floor
    assert all(c.text_score < floor for c in fuzzy.candidates("spaceship", "disease", None))


def test_grounding_asks_the_verifier_only_above_the_floor(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    dataset_id = add_dataset(ws, "tiny", tmp_path / "data")
    png(tmp_path / "data" / "a.png", seed=7)
    record = add_record(ws, dataset_id, ["a.png"], "case-a: a lung mass in the right lung")
    verifier = ScriptedChat(lambda _m: '{"same": false}')
    answers = {"case-a": {"disease": "lung mass", "organ": "none"}}
    report = ground(ws, extractor=ScriptedChat(script_reply(answers)), verifier=verifier)
    row = next(
        ws.db.query("SELECT * FROM matches WHERE record_id = ? AND kind = 'disease'", [record])
    )
    candidates = json.loads(row["candidates"])
    asked = [c["name"] for c in candidates if c["call_id"] is not None]
    assert asked and len(asked) < len(candidates)  # some, not all, went to the verifier
    assert len(verifier.calls) == len(asked)
    floor = ws.config.ground.fuzzy_min_text_score
    for c in candidates:
        assert c["below_floor"] == (c["text_score"] < floor)
        assert (c["call_id"] is None) == c["below_floor"]
    assert row["stage"] == "unmatched"
    assert report.as_dict()["refused"]["verifier"] == {
        "refused": 1,
        "reasons": {"every candidate refused": 1},
    }
    ws.close()


def test_reports_count_refusals_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    report = GroundReport()
    rows = [
        MatchRow("disease", "x " * 20, "refused", refusal=Refusal(PLAUSIBILITY, "too long", "")),
        MatchRow("organ", "liver", "exact", 1),
    ]
    report.add(Grounded(1, "x", "liver", 1, rows, []))
    rows = [
        MatchRow(
            "disease", "y", "unmatched", refusal=Refusal(FUZZY_FLOOR, "below the score floor", "")
        ),
        MatchRow("organ", "z", "refused", refusal=Refusal(PLAUSIBILITY, "negated", "no")),
    ]
    report.add(Grounded(2, "y", "z", 2, rows, []))
    data = report.as_dict()
    assert data["refused"] == {
        "plausibility": {"refused": 2, "reasons": {"too long": 1, "negated": 1}},
        "exact": {"refused": 0, "reasons": {}},
        "fuzzy floor": {"refused": 1, "reasons": {"below the score floor": 1}},
        "verifier": {"refused": 0, "reasons": {}},
    }
    assert data["stages"]["disease"] == {"refused": 1, "not_found": 1}
    data |= {"run_id": 1, "seconds": 0.1}
    print_run(data)
    out = capsys.readouterr().out
    assert "refused at plausibility: 2 (too long 1, negated 1)" in out
    assert "refused at fuzzy floor: 1 (below the score floor 1)" in out
    assert "refused at verifier" not in out  # steps that refused nothing stay quiet


def test_workspace_report_reads_the_reasons_back(
    tiny: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tiny
    dataset_id = add_dataset(ws, "two", ws.root / "data")
    png(ws.root / "data" / "b.png", seed=8)
    add_record(ws, dataset_id, ["b.png"], "case-b: there is a spaceship")
    answers = {"case-b": {"disease": "there is a spaceship", "organ": "spaceship"}}
    ground(ws, extractor=ScriptedChat(script_reply(answers)), verifier=ScriptedChat([]))
    data = ground_report(ws)
    block = data["datasets"][0]
    assert block["refused"]["plausibility"]["reasons"] == {"a clause, not a name": 1}
    assert block["refused"]["fuzzy floor"]["reasons"] == {"below the score floor": 1}
    assert block["mentions"]["refused"] == 1 and block["mentions"]["unmatched"] == 2
    assert block["kinds"]["disease"]["unmatched_detail"]["refused"] == 1
    print_report(data)
    out = capsys.readouterr().out
    assert "refused at plausibility: 1 (a clause, not a name 1)" in out
    assert "medsynth rejects --stage 'ground mention'" in out
