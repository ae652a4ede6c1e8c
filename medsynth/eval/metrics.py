"""Scoring one prediction against one ground-truth answer, and summarising many.

Every function here is pure. Answers are compared after :func:`normalize_answer`: lower case,
punctuation turned into spaces, the articles *a*, *an*, *the* dropped and number words up to
twenty written as digits. Numbers stay whole: "3.4" is one word (not "3" and "4"), "1,000" is
"1000", "2.50" is "2.5", and a unit glued to a number is split off ("2.5cm" is "2.5 cm").
Words are compared whole, never as substrings, so "no" is not found in "not", "nodule" or
"normal".

- Closed questions (yes/no, or a choice such as left/right): :func:`closed_correct`.
- Open questions: :func:`open_recall`, the share of ground-truth words found in the prediction
  (LLaVA-Med's open-question score), plus :func:`exact_match` and :func:`token_f1` for both kinds.
- Outputs with ``<think>``/``<answer>`` tags are scored on their answer part
  (:func:`extract_answer_part`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medsynth.eval.loaders import EvalQuestion

ARTICLES = frozenset({"a", "an", "the"})
_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
NUMBER_WORDS = {word: str(value) for value, word in enumerate(_NUMBERS.split())}
YES_NO = frozenset({"yes", "no"})
_PUNCTUATION = re.compile(r"[^\w\s]|_", re.UNICODE)
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|\.\d)")
_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")
# Units a report writes glued to a number; "3d", "1st" or "t2" are left alone.
_UNIT_WORDS = (
    "mm cm m km um nm ml l dl cc mg g kg ug mcg s sec ms min h hr hrs wk wks mo y yr yrs "
    "hz khz mhz t kv kvp ma mas gy mgy msv hu bpm mmhg"
)
UNITS = frozenset(_UNIT_WORDS.split())
_GLUED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([a-z]+)\b")
_DOT = "\u01c2"  # a letter (so kept by _PUNCTUATION) standing for a decimal point
_TAG = re.compile(r"<\s*(/?)\s*(think|answer)\s*>", re.IGNORECASE)


def normalize_answer(text: str) -> str:
    """The answer as compared: lower case, no punctuation or articles, digits for number words.

    >>> normalize_answer("The Left Lung.")
    'left lung'
    >>> normalize_answer("Two nodules, (an) X-ray!")
    '2 nodules x ray'
    >>> normalize_answer("  ")
    ''
    >>> normalize_answer("3.4 cm"), normalize_answer("3,4 cm"), normalize_answer("2.5cm x 1.70cm")
    ('3.4 cm', '3 4 cm', '2.5 cm x 1.7 cm')
    >>> normalize_answer("1,000 mL"), normalize_answer("eleven"), normalize_answer("T2, 3D, 1st")
    ('1000 ml', '11', 't2 3d 1st')
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = _GLUED.sub(lambda m: f"{m[1]} {m[2]}" if m[2] in UNITS else m[0], text)
    text = _THOUSANDS.sub(lambda m: m[0].replace(",", ""), text)
    text = _DECIMAL.sub(_decimal, text)
    words = _PUNCTUATION.sub(" ", text).replace(_DOT, ".").split()
    return " ".join(NUMBER_WORDS.get(w, w) for w in words if w not in ARTICLES)


def _decimal(match: re.Match[str]) -> str:
    """A decimal number without trailing zeros, its point protected from punctuation removal."""
    whole, fraction = match[1] or "0", match[2].rstrip("0")
    return f"{whole}{_DOT}{fraction}" if fraction else whole


def answer_tokens(text: str) -> list[str]:
    """The words of the normalised answer.

    >>> answer_tokens("Yes, it is.")
    ['yes', 'it', 'is']
    """
    return normalize_answer(text).split()


def split_think_answer(text: str) -> tuple[str, str]:
    """``(think, answer)`` parts of a model output.

    The think part is what stands inside ``<think>`` tags (to the end when unclosed). The answer
    is the inside of the last ``<answer>`` tag (to the end when unclosed) or, without answer
    tags, everything outside the think tags; untagged output is all answer.

    >>> split_think_answer("<think>the lungs look clear</think><answer>No</answer>")
    ('the lungs look clear', 'No')
    >>> split_think_answer("<think>left side</think> Left kidney")
    ('left side', 'Left kidney')
    >>> split_think_answer("<think>cut off before the answ")
    ('cut off before the answ', '')
    >>> split_think_answer("Yes")
    ('', 'Yes')
    """
    think: list[str] = []
    outside: list[str] = []
    answers: list[str] = []
    open_tag: str | None = None
    position = 0
    for match in _TAG.finditer(text):
        chunk = text[position : match.start()]
        closing, name = match.group(1) == "/", match.group(2).lower()
        if open_tag == "think":
            think.append(chunk)
        elif open_tag == "answer":
            answers[-1] += chunk
        else:
            outside.append(chunk)
        if not closing:
            open_tag = name
            if name == "answer":
                answers.append("")
        elif open_tag == name:
            open_tag = None
        position = match.end()
    rest = text[position:]
    if open_tag == "think":
        think.append(rest)
    elif open_tag == "answer":
        answers[-1] += rest
    else:
        outside.append(rest)
    thought = " ".join(part.strip() for part in think if part.strip())
    if answers:
        return thought, answers[-1].strip()
    return thought, " ".join(part.strip() for part in outside if part.strip())


def extract_answer_part(text: str) -> str:
    """The part of a model output that is scored (see :func:`split_think_answer`).

    >>> extract_answer_part("<think>a round opacity</think>\\n<answer> Nodule </answer>")
    'Nodule'
    >>> extract_answer_part("Liver")
    'Liver'
    """
    return split_think_answer(text)[1]


def _contains(words: list[str], phrase: list[str]) -> bool:
    size = len(phrase)
    return size > 0 and any(words[i : i + size] == phrase for i in range(len(words) - size + 1))


def closed_correct(prediction: str, truth: str) -> bool:
    """Whether a closed question was answered right.

    Yes/no truths: the first whole word "yes" or "no" of the prediction must equal it (a
    prediction without either is wrong). Other closed truths ("Left", "MRI"): the truth's words
    must appear together, in order, in the prediction.

    >>> closed_correct("Yes, there is a mass in the left lung.", "yes")
    True
    >>> closed_correct("normal", "No")
    False
    >>> closed_correct("There is a nodule, not an effusion", "no")
    False
    >>> closed_correct("No.", "no")
    True
    >>> closed_correct("", "yes")
    False
    >>> closed_correct("The lesion is in the left lobe", "Left")
    True
    >>> closed_correct("leftover", "left")
    False
    """
    truth_words = answer_tokens(truth)
    words = answer_tokens(prediction)
    if not words or not truth_words:
        return False
    if len(truth_words) == 1 and truth_words[0] in YES_NO:
        said = next((w for w in words if w in YES_NO), None)
        return said == truth_words[0]
    return _contains(words, truth_words)


_LETTER = re.compile(
    r"^\s*(option|answer|choice)?\s*[:\-]?\s*(\()?\s*([a-z])\s*(\))?(?=$|[\s.:)])(.*)$",
    re.IGNORECASE | re.DOTALL,
)


def chosen_option(prediction: str, choices: Sequence[str]) -> str | None:
    """The option a multiple-choice answer picks: a leading letter ("B", "(B)", "B.", "Option B",
    "B) Axial"), else the only option whose words appear in it; None when it picks none or
    several.

    >>> opts = ["CT", "MRI", "X-ray", "Ultrasound"]
    >>> [chosen_option(p, opts) for p in ("B", "(c)", "Option D", "A. CT", "It is an MRI.")]
    ['MRI', 'X-ray', 'Ultrasound', 'CT', 'MRI']
    >>> chosen_option("A mass", ["mass", "cyst"]), chosen_option("CT or MRI", opts)
    ('mass', None)
    """
    match = _LETTER.match(prediction)
    if match:
        word, opened, letter, closed, rest = match.groups()
        index = ord(letter.upper()) - ord("A")
        marked = bool(word or opened or closed) or rest[:1] in ("", ".", ":", ")")
        if marked and 0 <= index < len(choices):
            return choices[index]
    words = answer_tokens(prediction)
    found = [c for c in choices if _contains(words, answer_tokens(c))]
    longest = [
        c
        for c in found
        if not any(c != o and _contains(answer_tokens(o), answer_tokens(c)) for o in found)
    ]
    return longest[0] if len(longest) == 1 else None


def open_recall(prediction: str, truth: str) -> float:
    """Share of the truth's words found in the prediction (each matched at most as often as it
    occurs in the truth); 0.0 when the truth has no words.

    >>> open_recall("The liver and the right kidney", "Liver")
    1.0
    >>> open_recall("left lung", "Right Lung")
    0.5
    >>> open_recall("", "heart")
    0.0
    >>> open_recall("nodules", "nodule")
    0.0
    """
    truth_counts = Counter(answer_tokens(truth))
    if not truth_counts:
        return 0.0
    found = Counter(answer_tokens(prediction)) & truth_counts
    return sum(found.values()) / sum(truth_counts.values())


def exact_match(prediction: str, truth: str) -> bool:
    """Whether the normalised prediction equals the normalised truth.

    >>> exact_match("The Liver.", "liver")
    True
    >>> exact_match("liver and spleen", "liver")
    False
    """
    return normalize_answer(prediction) == normalize_answer(truth)


def token_f1(prediction: str, truth: str) -> float:
    """Harmonic mean of word precision and word recall (counts clipped, as in SQuAD); 1.0 when
    both are empty, 0.0 when only one is.

    >>> token_f1("left lung", "right lung")
    0.5
    >>> round(token_f1("the liver, spleen", "liver"), 4)
    0.6667
    >>> token_f1("", "liver")
    0.0
    """
    predicted, truth_words = answer_tokens(prediction), answer_tokens(truth)
    if not predicted or not truth_words:
        return float(predicted == truth_words)
    common = sum((Counter(predicted) & Counter(truth_words)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(truth_words)
    return 2 * precision * recall / (precision + recall)


def score(
    prediction: str, truth: str, answer_type: str, choices: Sequence[str] = ()
) -> dict[str, Any]:
    """All scores of one raw model output (its answer part is scored). With ``choices`` (a
    multiple-choice question) the answer is the option it picks (:func:`chosen_option`).

    >>> score("<think>..</think><answer>No</answer>", "No", "CLOSED")["closed_correct"]
    True
    >>> score("the right lung", "Right Lung", "OPEN")["open_recall"]
    1.0
    """
    answer = extract_answer_part(prediction)
    closed = str(answer_type).strip().upper() == "CLOSED"
    if choices:
        picked = chosen_option(answer, choices)
        answer = picked if picked is not None else answer
        right = picked is not None and normalize_answer(picked) == normalize_answer(truth)
    else:
        right = closed_correct(answer, truth)
    return {
        "scored_text": answer,
        "closed_correct": right if closed else None,
        "open_recall": None if closed else open_recall(answer, truth),
        "exact_match": exact_match(answer, truth),
        "token_f1": token_f1(answer, truth),
    }


def prediction_row(
    eval_run_id: int,
    question: EvalQuestion,
    text: str,
    call_id: int | None,
    cached: bool,
    run_id: int | None,
) -> dict[str, Any]:
    """One answer scored against its question, as ``eval_predictions`` stores it (the model's
    ``text``, the call that gave it and whether the call log answered it)."""
    scores = score(text, question.answer, question.answer_type, question.choices)
    closed = scores["closed_correct"]
    return {
        "eval_run_id": eval_run_id,
        "qid": question.qid,
        "image": question.image,
        "question": question.question,
        "answer": question.answer,
        "answer_type": question.answer_type,
        "question_type": question.question_type,
        "prediction": text,
        "scored_text": scores["scored_text"],
        "closed_correct": None if closed is None else int(closed),
        "open_recall": scores["open_recall"],
        "exact_match": int(scores["exact_match"]),
        "token_f1": scores["token_f1"],
        "call_id": call_id,
        "cached": int(cached),
        "run_id": run_id,
    }


def question_types(label: str) -> list[str]:
    """A question's type(s): VQA-RAD writes several as ``"PRES, POS"``; case is unified.

    >>> question_types("PRES, POS")
    ['PRES', 'POS']
    >>> question_types("Organ")
    ['Organ']
    >>> question_types("")
    ['(none)']
    """
    parts = [p.strip() for p in str(label or "").split(",") if p.strip()]
    if not parts:
        return ["(none)"]
    return [p.upper() if p.upper() == p or p.lower() == "other" else p for p in parts]


def _mean(values: list[float]) -> dict[str, Any]:
    return {
        "value": round(100 * sum(values) / len(values), 2) if values else None,
        "n": len(values),
    }


def summarize_group(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Closed accuracy, open recall, their average, exact match and token F1 of some scored
    questions, in percent, each with the number of questions behind it."""
    closed: list[float] = []
    opened: list[float] = []
    exact: list[float] = []
    f1: list[float] = []
    for row in rows:
        if row["closed_correct"] is not None:
            closed.append(float(row["closed_correct"]))
        if row["open_recall"] is not None:
            opened.append(float(row["open_recall"]))
        exact.append(float(row["exact_match"]))
        f1.append(float(row["token_f1"]))
    closed_acc, open_rec = _mean(closed), _mean(opened)
    both = [m["value"] for m in (closed_acc, open_rec) if m["value"] is not None]
    return {
        "n": len(exact),
        "closed_accuracy": closed_acc,
        "open_recall": open_rec,
        "average": round(sum(both) / len(both), 2) if both else None,
        "exact_match": _mean(exact),
        "token_f1": _mean(f1),
    }


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The report of a run: overall, by answer type and by question (content) type.

    ``rows`` carry ``answer_type``, ``question_type``, ``closed_correct``, ``open_recall``,
    ``exact_match`` and ``token_f1``. ``average`` is the mean of closed accuracy and open
    recall (how MedKInstruct reports SLAKE and VQA-RAD). A question with several types (VQA-RAD's
    ``"PRES, POS"``) counts under each.
    """
    by_answer: dict[str, list[Mapping[str, Any]]] = {}
    by_question: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_answer.setdefault(str(row["answer_type"]).strip().upper(), []).append(row)
        for label in question_types(row["question_type"]):
            by_question.setdefault(label, []).append(row)
    return {
        "overall": summarize_group(rows),
        "by_answer_type": {k: summarize_group(v) for k, v in sorted(by_answer.items())},
        "by_question_type": {k: summarize_group(v) for k, v in sorted(by_question.items())},
    }
