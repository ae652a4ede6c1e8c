"""Scoring: hand-computed cases, including the traps other VQA scorers fall into."""

from __future__ import annotations

import doctest

import pytest

import medsynth.eval.metrics as metrics_module
from medsynth.eval.metrics import (
    closed_correct,
    exact_match,
    extract_answer_part,
    normalize_answer,
    open_recall,
    score,
    split_think_answer,
    summarize,
    token_f1,
)


def test_doctests() -> None:
    result = doctest.testmod(metrics_module)
    assert result.failed == 0 and result.attempted >= 25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),
        ("The LEFT lung!", "left lung"),
        ("a mass, an effusion and the heart", "mass effusion and heart"),
        ("Three nodules", "3 nodules"),
        ("twenty-one", "20 1"),
        ("T2-weighted", "t2 weighted"),
        ("ＣＴ", "ct"),  # full-width letters (NFKC)
        ("", ""),
        ("  the  ", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    ("prediction", "truth", "expected"),
    [
        # the traps
        ("normal", "no", False),  # "normal" is not "no"
        ("normal", "yes", False),
        ("The lungs are not clear", "no", False),  # "no" inside "not" does not count
        ("A nodule in the left lobe", "no", False),  # nor inside "nodule"
        ("none", "no", False),
        ("yesterday", "yes", False),
        ("", "no", False),  # empty predictions are wrong
        ("   ", "yes", False),
        # yes/no with extra words
        ("Yes, there is a mass in the liver.", "Yes", True),
        ("No. The image looks normal.", "No", True),
        ("There is no pneumothorax.", "no", True),  # the first yes/no word decides
        ("yes", "no", False),
        ("No, but yes the heart is big", "yes", False),
        ("YES!!!", "yes", True),
        # closed questions that are not yes/no
        ("The lesion is on the left side", "Left", True),
        ("Right lung", "Left Lung", False),
        ("It is a transverse plane image", "Transverse Plane", True),
        ("leftover", "left", False),
        ("MRI", "CT", False),
    ],
)
def test_closed_correct(prediction: str, truth: str, expected: bool) -> None:
    assert closed_correct(prediction, truth) is expected


def test_open_recall_counts_each_truth_word_once() -> None:
    assert open_recall("The right lung and the left lung", "Right Lung") == 1.0
    assert open_recall("lung", "right lung") == 0.5
    assert open_recall("lung lung", "left lung lung") == pytest.approx(2 / 3)
    assert open_recall("the heart", "the") == 0.0  # the truth has no words after normalising
    assert open_recall("", "liver") == 0.0
    assert open_recall("two kidneys", "2 kidneys") == 1.0  # number words as digits
    assert open_recall("Liver, spleen", "liver") == 1.0  # recall ignores extra words


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("The liver.", "Liver")
    assert not exact_match("liver", "Liver and spleen")
    # pred {left, kidney, stone}, truth {kidney, stone}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("left kidney stone", "kidney stone") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0
    assert token_f1("liver", "") == 0.0
    assert token_f1("", "liver") == 0.0


def test_the_answer_part_is_scored() -> None:
    raw = "<think>The organ on the left is large: liver.</think>\n<answer>Liver</answer>"
    assert split_think_answer(raw) == ("The organ on the left is large: liver.", "Liver")
    assert extract_answer_part("<THINK>no idea</THINK><Answer>yes</Answer>") == "yes"
    assert extract_answer_part("<think>unfinished") == ""
    assert extract_answer_part("<answer>left") == "left"  # cut off before the closing tag
    # the think part never counts: "no" in the reasoning, "yes" in the answer
    assert score("<think>no mass?</think><answer>Yes</answer>", "yes", "CLOSED")["closed_correct"]
    scored = score("<think>liver</think><answer></answer>", "liver", "OPEN")
    assert scored["open_recall"] == 0.0 and scored["scored_text"] == ""


def test_summarize_by_hand() -> None:
    rows = [
        # closed: 2 of 3 right; open: recall 1.0 and 0.5
        {"answer_type": "CLOSED", "question_type": "PRES", "prediction": "yes", "truth": "yes"},
        {"answer_type": "CLOSED", "question_type": "PRES", "prediction": "no", "truth": "yes"},
        {
            "answer_type": "CLOSED",
            "question_type": "POS, PRES",
            "prediction": "left",
            "truth": "Left",
        },
        {"answer_type": "OPEN", "question_type": "ORGAN", "prediction": "liver", "truth": "liver"},
        {
            "answer_type": "OPEN",
            "question_type": "POS",
            "prediction": "lung",
            "truth": "right lung",
        },
    ]
    scored = [{**r, **score(r["prediction"], r["truth"], r["answer_type"])} for r in rows]
    report = summarize(scored)
    overall = report["overall"]
    assert overall["n"] == 5
    assert overall["closed_accuracy"] == {"value": 66.67, "n": 3}
    assert overall["open_recall"] == {"value": 75.0, "n": 2}
    assert overall["average"] == pytest.approx((66.67 + 75.0) / 2, abs=0.01)
    assert overall["exact_match"] == {"value": 60.0, "n": 5}  # yes, left, liver
    # F1: 1, 0, 1, 1, 2/3 -> 73.33
    assert overall["token_f1"] == {"value": 73.33, "n": 5}
    assert report["by_answer_type"]["CLOSED"]["n"] == 3
    assert report["by_answer_type"]["OPEN"]["open_recall"]["value"] == 75.0
    types = report["by_question_type"]
    assert types["PRES"]["closed_accuracy"] == {"value": 66.67, "n": 3}  # "POS, PRES" counts
    assert types["POS"]["n"] == 2
    assert types["POS"]["closed_accuracy"] == {"value": 100.0, "n": 1}
    assert types["POS"]["open_recall"] == {"value": 50.0, "n": 1}
    assert types["ORGAN"]["average"] == 100.0


def test_summarize_empty_groups() -> None:
    report = summarize([])
    assert report["overall"]["n"] == 0
    assert report["overall"]["average"] is None
    assert report["overall"]["closed_accuracy"] == {"value": None, "n": 0}


def test_readme_worked_run() -> None:
    """The worked example of README.md's "Evaluate and chat" section."""
    asked = [
        ("yes", "yes", "CLOSED"),
        ("yes", "no", "CLOSED"),
        ("Left", "left side", "CLOSED"),
        ("liver", "liver", "OPEN"),
        ("right lung", "lung", "OPEN"),
    ]
    rows = [
        {"answer_type": kind, "question_type": "x", **score(prediction, truth, kind)}
        for truth, prediction, kind in asked
    ]
    overall = summarize(rows)["overall"]
    assert overall["closed_accuracy"] == {"value": 66.67, "n": 3}
    assert overall["open_recall"] == {"value": 75.0, "n": 2}
    assert overall["average"] == 70.84
    assert overall["exact_match"] == {"value": 40.0, "n": 5}
    assert overall["token_f1"] == {"value": 66.67, "n": 5}
