"""The LLaVA-Med and MultiMedEval scorers against hand-computed expectations, one case per quirk
and then some (57 LLaVA-Med cases, 18 MultiMedEval cases), and the summaries they give."""

from __future__ import annotations

import pytest

from medsynth.eval.metrics import summarize
from medsynth.eval.scorers import (
    SCORERS,
    llava_med_closed,
    llava_med_recall,
    multimedeval_closed,
    multimedeval_recall,
    rescore,
    skipped,
    vqa_normalize,
)

# (prediction, truth, expected): True right, False wrong, None skipped (left out of the score)
LLAVA_CLOSED = [
    ("Yes", "yes", True),
    ("yes.", "Yes", True),
    ("Yes, there is a mass.", "yes", True),
    ("No", "no", True),
    ("No.", "No", True),
    ("There is no effusion", "no", True),
    ("normal", "no", True),  # quirk 2: "no" is a substring of "normal"
    ("a nodule", "no", True),  # ... and of "nodule"
    ("It is not enlarged", "no", True),  # ... and of "not"
    ("The scan looks abnormal", "no", True),  # ... and of "abnormal"
    ("yes", "no", None),  # quirk 3: a wrong yes/no answer is skipped
    ("No, there is none.", "yes", None),
    ("Yes, it is.", "no", None),  # "no" is not in "yes it is": skipped, never wrong
    ("Maybe", "yes", False),  # no yes/no letters: wrong
    ("", "yes", False),
    ("unclear", "no", False),
    ("Left", "left", False),  # quirk 2: right side, but no yes/no letters: wrong
    ("The left kidney", "left", False),
    ("MRI", "mri", False),
    ("not the left one", "left", True),  # "no" letters present and "left" in it
    ("no, right", "left", None),
    ("nothing on the right", "right", True),
    ("CT", "ct", False),
    ("Yes, a CT", "ct", True),  # "yes" present and "ct" is a substring
    ("X-ray", "x-ray", False),
    ("None", "no", False),  # quirk 1: "none" becomes "0", so no "no" letters remain
]
# (prediction, truth, expected recall): repeated prediction words counted (quirk 4)
LLAVA_OPEN = [
    ("liver", "liver", 1.0),
    ("The liver.", "Liver", 1.0),
    ("left lung", "right lung", 0.5),
    ("lung lung lung", "left lung", 0.75),  # 3 / (3 + 1)
    ("lung lung", "lung", 1.0),
    ("spleen", "liver", 0.0),
    ("", "liver", 0.0),
    ("the heart and the lungs", "heart", 1.0),
    ("brain brain edema", "brain edema", 1.0),
    ("edema", "brain edema", 0.5),
    ("two", "2", 1.0),  # number words become digits
    ("none", "0", 1.0),  # "none" is "0" too
    ("x-ray", "x ray", 1.0),  # a hyphen not touching a space becomes a space
    ("x-ray - yes", "x ray", 0.0),  # ... but one that touches a space is deleted: "xray"
    ("3.4 cm", "3.4 cm", 1.0),
    ("4 cm", "3.4 cm", 0.5),
    ("cm cm 4", "3.4 cm", 2 / 3),  # 2 / (2 + 1)
    ("abdomen, pelvis", "abdomen", 1.0),
    ("chest; abdomen", "chest", 1.0),
    ("left lobe of the liver", "right lobe of liver", 0.75),  # lobe, of, liver; right missed
    ("right right right", "right lung", 0.75),
    ("Lungs", "lung", 0.0),  # no stemming
    ("t2", "T2", 1.0),
    ("mass", "mass", 1.0),
    ("(liver)", "liver", 1.0),
    ("liver liver spleen", "liver spleen kidney", 0.75),  # (2 + 1) / (3 + 1)
    ("liver" + "." * 40, "liver", 1.0),  # 32 full stops go per pass; the recall makes two
    ("liver" + "." * 70, "liver", 0.0),  # 70 - 64 = 6 stay: "liver......" is not "liver"
    ("maam", "ma'am", 1.0),  # a contraction gets its apostrophe back
    ("couldnt've", "couldn'tve", 1.0),  # both are "couldn't've"
    ("dont", "don't know", 0.5),  # "dont" is "don't"; "know" is missed
]


@pytest.mark.parametrize(("prediction", "truth", "expected"), LLAVA_CLOSED)
def test_llava_med_closed(prediction: str, truth: str, expected: bool | None) -> None:
    assert llava_med_closed(prediction, truth) is expected


@pytest.mark.parametrize(("prediction", "truth", "expected"), LLAVA_OPEN)
def test_llava_med_open(prediction: str, truth: str, expected: float) -> None:
    assert llava_med_recall(prediction, truth) == pytest.approx(expected)


def _rows() -> list[dict[str, object]]:
    rows = [
        {"prediction": p, "answer": t, "answer_type": "CLOSED", "question_type": "X",
         "closed_correct": 0, "open_recall": None, "exact_match": 0, "token_f1": 0.0}
        for p, t, _ in LLAVA_CLOSED
    ]  # fmt: skip
    rows += [
        {"prediction": p, "answer": t, "answer_type": "OPEN", "question_type": "Y",
         "closed_correct": None, "open_recall": 0.0, "exact_match": 0, "token_f1": 0.0}
        for p, t, _ in LLAVA_OPEN
    ]  # fmt: skip
    return rows


def test_llava_med_summary_by_hand() -> None:
    assert len(LLAVA_CLOSED) + len(LLAVA_OPEN) >= 50
    rows = rescore(_rows(), "llava-med")
    report = summarize(rows)["overall"]
    right = sum(1 for *_, e in LLAVA_CLOSED if e is True)
    counted = sum(1 for *_, e in LLAVA_CLOSED if e is not None)
    assert (right, counted, len(LLAVA_CLOSED)) == (13, 22, 26)  # 4 of 26 skipped
    assert report["closed_accuracy"] == {"value": round(100 * 13 / 22, 2), "n": 22}
    assert round(100 * 13 / 26, 2) == 50.0  # what the same answers score with skips counted
    recall = sum(e for *_, e in LLAVA_OPEN) / len(LLAVA_OPEN)
    assert report["open_recall"]["value"] == round(100 * recall, 2)
    assert skipped(_rows()) == 4


MME = [
    # (prediction, truth, closed verdict or None for open, recall for open)
    ("yes", "yes", True, None),
    ("Yes, it is", "yes", True, None),
    ("not really", "no", True, None),  # "not" counts for "no"
    ("No.", "no", True, None),
    ("normal", "no", False, None),  # whole words: no substring trick
    ("maybe", "yes", False, None),
    ("yes and no", "no", True, None),
    ("", "yes", False, None),
    ("left", "Left", None, 1.0),  # closed in the dataset, open here (truth is not yes/no)
    ("left lung", "right lung", None, 0.5),
    ("lung lung lung", "left lung", None, 0.5),  # a set: repeats do not count
    ("liver", "liver", None, 1.0),
    ("spleen", "liver", None, 0.0),
    ("two", "2", None, 1.0),
    ("x-ray", "x ray", None, 1.0),
    ("brain edema", "brain edema mass", None, 2 / 3),
    ("x ray", "x-ray- ", None, 1.0),  # the truth is stripped first: no "- ", so "x ray"
    ("xray", "x-ray- ", None, 0.0),  # (unstripped, the "- " would have made it "xray")
]


@pytest.mark.parametrize(("prediction", "truth", "closed", "recall"), MME)
def test_multimedeval(prediction: str, truth: str, closed: bool | None, recall: float) -> None:
    assert multimedeval_closed(prediction, truth) is closed
    if closed is None:
        assert multimedeval_recall(prediction, truth) == pytest.approx(recall)


def test_multimedeval_summary_counts_closed_by_the_truth() -> None:
    rows = [
        {"prediction": p, "answer": t, "answer_type": "CLOSED", "question_type": "Z",
         "closed_correct": 0, "open_recall": None, "exact_match": 0, "token_f1": 0.0}
        for p, t, _, _ in MME
    ]  # fmt: skip
    report = summarize(rescore(rows, "multimedeval"))["overall"]
    assert report["closed_accuracy"] == {"value": 62.5, "n": 8}  # 5 of the 8 yes/no truths
    opened = [r for *_, r in MME if r is not None]
    assert report["open_recall"]["n"] == len(opened) == 10
    expected = sum(opened) / len(opened)
    assert report["open_recall"]["value"] == round(100 * expected, 2)


def test_llava_med_normalisation_details() -> None:
    assert vqa_normalize("liver" + "." * 40) == "liver" + "." * 8  # only 32 stops per pass
    assert vqa_normalize("Dont twas maam oughtnt") == "don't 'twas ma'am oughtn't"
    assert vqa_normalize("yall'll y'allll") == "y'all'll y'all'll"  # either apostrophe missing
    assert vqa_normalize("somebody'd") == "somebodyd"  # the list's entry that runs backwards
    assert vqa_normalize("1,000 (x-ray)") == "1000 xray"  # a digit-comma-digit deletes all marks
    assert vqa_normalize("no. 3.5 one") == "no 3.5 1"


def test_strict_rows_are_left_as_stored_and_tags_are_read_first() -> None:
    row = {"prediction": "<think>no</think><answer>yes</answer>", "answer": "yes",
           "answer_type": "CLOSED ", "closed_correct": 1, "open_recall": None}  # fmt: skip
    assert rescore([row], "strict")[0]["closed_correct"] == 1
    assert rescore([row], "llava-med")[0]["closed_correct"] == 1  # the answer part is scored
    assert vqa_normalize("The X-Ray!") == "x ray"


def test_show_gives_the_fixed_script_figure_too() -> None:
    """`eval show --scorer all` also prints LLaVA-Med's closed accuracy with the skipped answers
    counted as wrong (its December 2023 fix): 13 right of all 26 closed questions."""
    from medsynth.cli.common import console
    from medsynth.cli.eval import print_scorers

    rows = _rows()
    blocks = {name: summarize(rescore(rows, name))["overall"] for name in SCORERS}
    with console.capture() as captured:
        print_scorers(blocks, skipped(rows))
    text = " ".join(captured.get().split())
    assert "left 4 wrong closed answer(s) out" in text
    assert "50.00 % with them counted as wrong" in text
    assert "59.09" in text  # 13 / 22, the figure with them left out
