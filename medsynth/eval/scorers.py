"""Three ways to score the same predictions, so a number can be placed next to a paper's.

- ``strict`` (the default and the headline): :mod:`medsynth.eval.metrics`; whole words, yes/no
  read from the first yes/no word, numbers kept whole.
- ``llava-med``: the scoring script LLaVA-Med published, which most medical VQA papers
  report, reproduced with its quirks, because they move the numbers. The version followed is
  ``llava/eval/run_eval.py`` as released in November 2023, before its December 2023 fix (the
  script LLaVA-Med's README gives for scoring one dataset; its v1.5 release no longer ships
  it):

  1. *Its normalisation* (:func:`vqa_normalize`, the VQA challenge's): lower case; each
     punctuation mark of its list is deleted when that mark touches a space somewhere in the
     text (or when the text holds a digit-comma-digit), else replaced by a space, so "x-ray"
     is "x ray" but "x-ray - ct" is "xray ct"; a full stop is deleted unless a digit follows,
     but only the first 32 of them (the limit is passed where a flag was meant); "none",
     "zero" ... "ten" become digits (so "none" is "0"); articles are dropped; contractions
     written without their apostrophe get it back; commas go.
  2. *Closed questions by substring*: when the normalised prediction contains the letters "yes"
     or "no" anywhere ("no" is in "normal", "nodule", "not"), it is right if the normalised
     truth is a substring of it; without either it is wrong - even when it names the right
     side or organ of a non yes/no closed question.
  3. *Wrong closed answers are skipped*: a prediction that contains "yes" or "no" but not the
     truth is left out of the closed accuracy altogether (neither right nor counted), which is
     what raises closed accuracy most. The December 2023 fix counts them as wrong: that figure
     is this scorer's right answers over its counted plus skipped ones (:func:`skipped`).
     The batch script (``run_eval_batch.py``) has neither rule 2's yes/no gate nor this skip:
     closed is right when the truth is a substring of the prediction.
  4. *Open questions by a recall that counts repeated words*: each distinct word shared with
     the truth adds how often it occurs in the *prediction*, so "lung lung lung" recalls 3/4 of
     "left lung"; recall is 0 when no word is shared. Both texts are normalised twice on this
     path (the script normalises, then its recall normalises again), which differs from once
     only past 32 full stops.
- ``multimedeval``: MultiMedEval's VQA scoring: the same normalisation, once (the truth
  stripped first); a question is closed when its truth is "yes" or "no" (whatever the
  dataset's answer type says); a closed answer is right when at least 40 % of the truth's
  words are in the prediction's word set (for "no", "not" counts too, so either word is
  enough); open questions score the share of the truth's distinct words found (set recall).
  MultiMedEval also reports an open "accuracy" (recall of 0.75 or more); MedSynth shows the
  recall, the figure papers put next to closed accuracy.

Every scorer reads the same scored text (the ``<answer>`` part when the output has one), and
:func:`rescore` returns prediction rows whose ``closed_correct`` / ``open_recall`` follow the
chosen scorer, so the same summary, comparison and report code serves all three.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from medsynth.eval.metrics import extract_answer_part

Scorer = Literal["strict", "llava-med", "multimedeval"]
SCORERS: tuple[Scorer, ...] = ("strict", "llava-med", "multimedeval")

_WORDS_TO_DIGITS = (
    "none:0 zero:0 one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10"
)
_NUMBER_WORDS = dict(pair.split(":") for pair in _WORDS_TO_DIGITS.split())
_ARTICLES = frozenset({"a", "an", "the"})
_MARKS: tuple[str, ...] = tuple(';/[]"{}()=+\\_-><@`,?!')  # the original's list, in order
_DIGIT_COMMA = re.compile(r"\d,\d")
_FULL_STOP = re.compile(r"\.(?!\d)")
# Contractions written without their apostrophe get it back. The list is the one the VQA
# challenge's normaliser carries: a word with one apostrophe is found without it; a word with
# two or three is found with any one of them missing ("couldnt've" and "couldn'tve").
_CONTRACTIONS = (
    "ain't aren't can't could've couldn't didn't doesn't don't hadn't hasn't haven't he'd "
    "he's how'd how'll how's isn't it'd it'll ma'am mightn't might've mustn't must've needn't "
    "not've o'clock oughtn't shan't should've shouldn't somebody'll somebody's someone'd "
    "someone'll someone's something'd something'll that's there'd there're there's they'd "
    "they'll they're they've 'twas wasn't we've weren't what'll what're what's what've "
    "when's where'd where's where've who'd who'll who's who've why'll why're why's won't "
    "would've wouldn't y'all you'd you'll you're you've"
)
_COMPOUNDS = (
    "couldn't've hadn't've he'd've it'd've mightn't've she'd've shouldn't've somebody'd've "
    "someone'd've something'd've there'd've they'd've we'd've who'd've wouldn't've y'all'd've "
    "y'all'll you'd've 'ow's'at"
)


def _one_apostrophe_dropped(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i, char in enumerate(word) if char == "'"]


_APOSTROPHES = {word.replace("'", ""): word for word in _CONTRACTIONS.split()}
_APOSTROPHES |= {key: w for w in _COMPOUNDS.split() for key in _one_apostrophe_dropped(w)}
_APOSTROPHES["somebody'd"] = "somebodyd"  # the list's one entry that runs the other way


def vqa_normalize(text: str) -> str:
    """The normalisation LLaVA-Med and MultiMedEval share (quirk 1 of the module text).

    >>> vqa_normalize("The Left-Lung."), vqa_normalize("x-ray - ct"), vqa_normalize("None")
    ('left lung', 'xray ct', '0')
    >>> vqa_normalize("3.4 cm, dont"), vqa_normalize("x-ray (1,000)")
    ("3.4 cm don't", 'xray 1000')
    """
    lowered = str(text).lower()
    digit_comma = bool(_DIGIT_COMMA.search(lowered))
    out = lowered
    for mark in _MARKS:  # decided per mark, on the whole text
        deleted = f"{mark} " in lowered or f" {mark}" in lowered or digit_comma
        out = out.replace(mark, "" if deleted else " ")
    out = _FULL_STOP.sub("", out, count=32)
    words = [_NUMBER_WORDS.get(w, w) for w in out.split()]
    words = [_APOSTROPHES.get(w, w) for w in words]
    return " ".join(w for w in words if w not in _ARTICLES).replace(",", "")


def llava_med_closed(prediction: str, truth: str) -> bool | None:
    """LLaVA-Med's closed rule: True / False, or None when the answer is skipped (quirks 2-3).

    >>> llava_med_closed("Yes, it is.", "yes"), llava_med_closed("normal", "no")
    (True, True)
    >>> llava_med_closed("yes", "no") is None, llava_med_closed("left", "left")
    (True, False)
    """
    pred, gold = vqa_normalize(prediction), vqa_normalize(truth)
    if "yes" in pred or "no" in pred:
        return True if gold in pred else None
    return False


def llava_med_recall(prediction: str, truth: str) -> float:
    """LLaVA-Med's open recall, repeated prediction words counted (quirk 4).

    >>> llava_med_recall("lung lung lung", "left lung"), llava_med_recall("liver", "left lung")
    (0.75, 0.0)
    """
    pred = Counter(vqa_normalize(vqa_normalize(prediction)).split())
    gold = Counter(vqa_normalize(vqa_normalize(truth)).split())
    if not pred or not gold:
        return 0.0
    hits = sum(pred[w] for w in gold if w in pred)
    missed = sum(gold[w] for w in gold if w not in pred)
    return hits / (hits + missed) if hits else 0.0


def multimedeval_closed(prediction: str, truth: str) -> bool | None:
    """MultiMedEval's closed rule (None: the truth is not yes/no, so the question is open).

    >>> multimedeval_closed("It is not.", "no"), multimedeval_closed("maybe yes", "yes")
    (True, True)
    >>> multimedeval_closed("normal", "no"), multimedeval_closed("left", "left") is None
    (False, True)
    """
    gold_text = vqa_normalize(truth.strip())
    if gold_text not in ("yes", "no"):
        return None
    gold = set(gold_text.split()) | ({"not"} if gold_text == "no" else set())
    pred = set(vqa_normalize(prediction).split())
    return len(pred & gold) / len(gold) >= 0.4


def multimedeval_recall(prediction: str, truth: str) -> float:
    """MultiMedEval's open recall: the share of the truth's distinct words found.

    >>> multimedeval_recall("lung lung lung", "left lung"), multimedeval_recall("", "x")
    (0.5, 0.0)
    """
    gold = set(vqa_normalize(truth.strip()).split())
    pred = set(vqa_normalize(prediction).split())
    return len(pred & gold) / len(gold) if gold else 0.0


def rescore(rows: Iterable[Mapping[str, Any]], scorer: Scorer) -> list[dict[str, Any]]:
    """Prediction rows with ``closed_correct`` and ``open_recall`` as ``scorer`` gives them
    (strict: as stored). A skipped LLaVA-Med closed answer has neither, so it counts nowhere;
    a MultiMedEval question is closed only when its truth is yes/no.
    """
    out = []
    for row in rows:
        new = dict(row)
        if scorer != "strict":
            text = extract_answer_part(str(row.get("prediction") or ""))
            truth = str(row["answer"])
            closed = str(row["answer_type"]).strip().upper() == "CLOSED"
            if scorer == "llava-med":
                verdict = llava_med_closed(text, truth) if closed else None
                recall = None if closed else llava_med_recall(text, truth)
            else:
                verdict = multimedeval_closed(text, truth)
                recall = multimedeval_recall(text, truth) if verdict is None else None
            new["closed_correct"] = None if verdict is None else int(verdict)
            new["open_recall"] = recall
        out.append(new)
    return out


def skipped(rows: Iterable[Mapping[str, Any]]) -> int:
    """How many closed questions LLaVA-Med's rule leaves out (quirk 3) among scored rows."""
    return sum(
        1
        for row in rows
        if str(row["answer_type"]).strip().upper() == "CLOSED"
        and llava_med_closed(extract_answer_part(str(row.get("prediction") or "")), row["answer"])
        is None
    )
