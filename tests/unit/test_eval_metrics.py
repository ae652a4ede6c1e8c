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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.4 cm", "3.4 cm"),  # a decimal is one number, not "3 4"
        ("3,4 cm", "3 4 cm"),  # a comma between digits that is no thousands separator: a list
        ("2.5cm x 1.7cm x 1.6cm", "2.5 cm x 1.7 cm x 1.6 cm"),  # units glued to numbers
        ("1,000", "1000"),
        ("1,000,000 mL", "1000000 ml"),
        ("2.50 cm", "2.5 cm"),
        ("3.0", "3"),
        (".5 mm", "0.5 mm"),
        ("size 3.", "size 3"),  # a full stop after a number
        ("eleven", "11"),
        ("Nineteen nodules", "19 nodules"),
        ("3D CT, 1st rib, T2", "3d ct 1st rib t2"),  # not units: left whole
        ("50%", "50"),
    ],
)
def test_numbers_stay_whole(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_decimals_are_not_split_into_matching_words() -> None:
    assert open_recall("4 cm", "3.4 cm") == 0.5
    assert open_recall("3,4 cm", "3.4 cm") == 0.5
    assert open_recall("3.4cm", "3.4 cm") == 1.0
    assert open_recall("1.5456 kg", "2.5cm x 1.7cm x 1.6cm") == 0.0
    assert exact_match("1,000", "1000")
    assert exact_match("2.5 cm", "2.5cm")
    assert closed_correct("eleven", "11")


@pytest.mark.parametrize("answer_type", ["CLOSED ", " closed", "Closed\n"])
def test_untrimmed_answer_types_are_still_closed(answer_type: str) -> None:
    scored = score("yes", "yes", answer_type)
    assert scored["closed_correct"] is True and scored["open_recall"] is None
    report = summarize([{**scored, "answer_type": answer_type, "question_type": "PRES"}])
    assert list(report["by_answer_type"]) == ["CLOSED"]
    assert report["overall"]["closed_accuracy"]["value"] == 100.0
