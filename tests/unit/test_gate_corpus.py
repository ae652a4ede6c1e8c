"""The quality gate against the labelled draft corpus (issue 13, section 2).

The corpus (``tests/fakes/quality_corpus.py``) labels each draft with the detectors that should
fire. The goals: every detector's precision >= 0.9 and recall >= 0.8, and at most 5 % of the good
drafts rejected. A failure lists the offending items (id, expected, got, the gate's reasons) so
that a developer can fix the detector; ``tests/bench/bench_gate.py --show-errors`` prints all of
them.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from medsynth.synth.gate import DETECTORS
from medsynth.synth.model import GENERATORS
from tests.conftest import bench_script, shared_path
from tests.fakes.quality_corpus import (
    DISEASE_GROUPS,
    ORGANS,
    Result,
    corpus,
    errors,
    evaluate,
    false_reject_rate,
    tally,
)


@pytest.fixture(scope="module")
def results() -> list[Result]:
    """The gate's verdict on every item, with the default ``[synth.checks]``."""
    return evaluate(corpus())


def test_corpus_is_large_bilingual_and_balanced() -> None:
    items = corpus()
    assert len(items) >= 150
    assert len({item.id for item in items}) == len(items)
    languages = Counter(item.language for item in items)
    assert languages["zh"] >= 25
    zh = [item for item in items if item.language == "zh"]
    assert sum(item.good for item in zh) >= 10 and sum(not item.good for item in zh) >= 10
    good_share = sum(item.good for item in items) / len(items)
    assert 0.4 <= good_share <= 0.6, good_share
    generators = Counter(item.candidate.generator for item in items)
    assert set(generators) == set(GENERATORS)
    assert min(generators.values()) >= 15, generators


def test_every_detector_has_positive_items() -> None:
    positives = Counter(name for item in corpus() for name in item.expected)
    assert {name: positives[name] for name in DETECTORS if positives[name] < 5} == {}


def test_every_prompt_driven_item_carries_its_template() -> None:
    for item in corpus():
        if item.candidate.generator != "hardneg":
            assert item.candidate.template_text, item.id
    reasoning = next(i for i in corpus() if i.candidate.generator == "reasoning")
    assert any("would tell the possibilities apart" in c for c in reasoning.candidate.template_text)


def test_vocabulary_is_slakes_kg() -> None:
    kg = shared_path("slake", "KG")
    diseases = json.loads((kg / "disease-en-zh.json").read_text(encoding="utf-8"))
    organs = json.loads((kg / "organ-en-zh.json").read_text(encoding="utf-8"))
    ours = {group[0]: group[1] for group in DISEASE_GROUPS}
    assert {en: ours.get(en) for en in diseases} == diseases
    assert set(ORGANS) == set(organs) | set(organs.values())


def test_scoring_counts_hits_false_alarms_and_misses(results: list[Result]) -> None:
    counts = tally(results)
    for name, t in counts.items():
        positives = sum(name in r.item.expected for r in results)
        fired = sum(name in r.fired for r in results)
        assert t.tp + t.fn == positives and t.tp + t.fp == fired
    wrong = errors(results)
    assert len(wrong) == sum(not r.right for r in results)
    assert all(line.split(":", 1)[0] in {i.id for i in corpus()} for line in wrong)


def test_bench_prints_every_detector_and_the_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_script("bench_gate").main(["--show-errors", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line.split()}
    assert set(DETECTORS) <= rows
    assert "good drafts wrongly rejected:" in out and "drafts/s" in out
    assert "items the gate gets wrong" in out


# --- the goals of issue 13 --------------------------------------------------------------------

PRECISION_GOAL, RECALL_GOAL, FALSE_REJECT_GOAL = 0.9, 0.8, 0.05


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_precision(results: list[Result], detector: str) -> None:
    t = tally(results)[detector]
    alarms = [r for r in results if detector in r.fired and detector not in r.item.expected]
    assert t.precision >= PRECISION_GOAL, (
        f"{detector}: precision {t.precision:.2f} ({t.tp} right, {t.fp} false alarms):\n"
        + "\n".join(errors(alarms))
    )


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_recall(results: list[Result], detector: str) -> None:
    t = tally(results)[detector]
    misses = [r for r in results if detector in r.item.expected and detector not in r.fired]
    assert t.recall >= RECALL_GOAL, (
        f"{detector}: recall {t.recall:.2f} ({t.tp} caught, {t.fn} missed):\n"
        + "\n".join(errors(misses))
    )


def test_good_drafts_are_kept(results: list[Result]) -> None:
    rejected = [r for r in results if r.item.good and r.fired]
    rate = false_reject_rate(results)
    assert rate <= FALSE_REJECT_GOAL, (
        f"{len(rejected)} good drafts rejected ({rate:.1%}, goal <= {FALSE_REJECT_GOAL:.0%}):\n"
        + "\n".join(errors(rejected))
    )
