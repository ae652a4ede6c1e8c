"""MedKInstruct's grounding policy as the default: the extractor names standard terms and
never leaves a field blank, and the fuzzy stage keeps every candidate the verifier confirms;
today's behaviour (the caption's words, stop at the first confirmed) stays as options, and the
ground report says which policy ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medsynth.config import GroundConfig
from medsynth.ground.fuzzy import Candidate, FuzzyMatcher, Verdict
from medsynth.prompts import render


def _system(policy: str) -> str:
    messages, _ = render("extract_entities", caption="CT: air around the lung.", policy=policy)
    return " ".join(str(messages[0]["content"]).split())


def test_the_prompt_follows_the_policy() -> None:
    standard, verbatim = _system("standard-term"), _system("verbatim")
    assert "standard medical term" in standard and "never leave one empty" in standard
    assert '"none"' not in standard
    assert "words of the caption" in verbatim and '"none"' in verbatim
    assert "standard medical term" not in verbatim
    assert GroundConfig().extraction_policy == "standard-term"
    assert GroundConfig().verification == "keep-all"


class _Fixed(FuzzyMatcher):
    """A matcher over fixed candidates (the scoring is tested elsewhere)."""

    def __init__(self, verify: Any, *, keep_all: bool) -> None:
        super().__init__(None, verify, top_k=5, keep_all=keep_all)  # type: ignore[arg-type]

    def candidates(self, mention: str, kind: Any, image_vector: Any) -> list[Candidate]:
        return [
            Candidate(1, "Lung Cancer", "disease", 0.9, 0.9, 1.8, False),
            Candidate(2, "Pulmonary Mass", "disease", 0.8, 0.8, 1.6, False),
            Candidate(3, "Liver Cyst", "disease", 0.2, None, 0.2, True, below_floor=True),
            Candidate(4, "Lung Nodule", "disease", 0.7, 0.6, 1.3, False),
        ]


def _verifier(asked: list[str]) -> Any:
    def same(mention: str, candidate: str, kind: Any) -> Verdict:
        asked.append(candidate)
        return Verdict(candidate in ("Lung Cancer", "Lung Nodule"), len(asked))

    return same


def test_keep_all_links_every_confirmed_candidate_and_first_stops() -> None:
    asked: list[str] = []
    kept = _Fixed(_verifier(asked), keep_all=True).match("lung mass", "disease", None)
    assert kept.match is not None and kept.match.name == "Lung Cancer"  # the best-scored
    assert [c.name for c in kept.also] == ["Lung Nodule"]
    assert asked == ["Lung Cancer", "Pulmonary Mass", "Lung Nodule"]  # never the floored one
    asked.clear()
    first = _Fixed(_verifier(asked), keep_all=False).match("lung mass", "disease", None)
    assert first.match is not None and first.match.name == "Lung Cancer" and first.also == []
    assert asked == ["Lung Cancer"]


def test_the_ground_run_says_which_policy_ran(tmp_path: Path) -> None:
    from medsynth.backends.fake import ScriptedChat
    from medsynth.ground.service import ground
    from tests.unit.test_ground_stages import (
        extractor_reply,
        make_kg,
        make_records,
        verifier_reply,
    )

    ws = make_kg(tmp_path)
    make_records(ws, tmp_path)
    extractor, verifier = ScriptedChat(extractor_reply), ScriptedChat(verifier_reply)
    report = ground(ws, limit=2, extractor=extractor, verifier=verifier).as_dict()
    assert report["policy"] == {"extraction": "standard-term", "verification": "keep-all"}
    ws.config.ground = ws.config.ground.model_copy(
        update={"extraction_policy": "verbatim", "verification": "first"}
    )
    again = ground(ws, limit=4, extractor=extractor, verifier=verifier).as_dict()
    assert again["policy"] == {"extraction": "verbatim", "verification": "first"}
    first_prompt = str(extractor.calls[0]["messages"][0]["content"])  # type: ignore[index]
    last_prompt = str(extractor.calls[-1]["messages"][0]["content"])  # type: ignore[index]
    assert "standard medical term" in first_prompt and "words of the caption" in last_prompt
    call = ws.db.execute(
        "SELECT template_version FROM llm_calls WHERE template = 'extract_entities'"
    ).fetchone()
    assert call[0] == "3"
