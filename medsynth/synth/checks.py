"""Quality checks on drafts: each returns the problems it found (an empty list passes).

Kept apart from the generators so that every rule is one small, tested function; a draft with
problems is stored with status ``rejected`` and the reasons, never silently dropped.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from medsynth.text import key_answer, mentions, question_key, similarity

QUESTION_WORDS = ("what", "why", "how")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_ABBREVIATIONS = re.compile(r"\b(e\.g|i\.e|etc|vs|dr|mr|mrs|approx|fig)\.", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """Split prose into sentences (abbreviations such as "e.g." do not end one).

    >>> sentences("It spreads. It hurts! Why? e.g. here.")
    ['It spreads.', 'It hurts!', 'Why? e.g. here.']
    """
    guarded = _ABBREVIATIONS.sub(lambda m: m.group(0).replace(".", "\0"), text.strip())
    parts = [p.replace("\0", ".").strip() for p in _SENTENCE_END.split(guarded)]
    return [p for p in parts if p]


def question_form(question: str, allowed: Iterable[str] = QUESTION_WORDS) -> list[str]:
    """The question starts with one of ``allowed`` and ends with a question mark.

    >>> question_form("Why does this organ swell?"), question_form("Is it big")
    ([], ['question does not start with what/why/how', 'question does not end with "?"'])
    """
    problems = []
    words = question.strip().split()
    first = words[0].lower().strip(string.punctuation) if words else ""
    if first not in tuple(allowed):
        problems.append(f"question does not start with {'/'.join(allowed)}")
    if not question.strip().endswith("?"):
        problems.append('question does not end with "?"')
    return problems


def names_absent(text: str, names: Iterable[str]) -> list[str]:
    """None of ``names`` (a disease and its aliases) appears in ``text`` as whole words.

    >>> names_absent("What causes this lung lesion?", ["Lung Cancer"])
    []
    >>> names_absent("How is lung cancer treated?", ["Lung Cancer", "carcinoma"])
    ['question names the disease (Lung Cancer)']
    """
    for name in names:
        if mentions(text, name):
            return [f"question names the disease ({name})"]
    return []


def sentence_count(text: str, low: int, high: int, what: str = "answer") -> list[str]:
    """``text`` has between ``low`` and ``high`` sentences.

    >>> sentence_count("One. Two. Three. Four.", 2, 3)
    ['answer has 4 sentences, not 2-3']
    """
    count = len(sentences(text))
    return [] if low <= count <= high else [f"{what} has {count} sentences, not {low}-{high}"]


def non_empty(**fields: str) -> list[str]:
    """Every named field has text.

    >>> non_empty(question="Why?", answer=" ")
    ['answer is empty']
    """
    return [f"{name} is empty" for name, value in fields.items() if not value.strip()]


def key_answer_words(text: str, most: int) -> list[str]:
    """A key answer is 1 to ``most`` words.

    >>> key_answer_words("chest pain", 5), key_answer_words("", 5)
    ([], ['key answer is empty'])
    """
    words = key_answer(text).split()
    if not words:
        return ["key answer is empty"]
    return [] if len(words) <= most else [f"key answer has {len(words)} words, more than {most}"]


def word_count(text: str, least: int, what: str = "description") -> list[str]:
    """``text`` has at least ``least`` words."""
    count = len(text.split())
    return [] if count >= least else [f"{what} has {count} words, fewer than {least}"]


YES = frozenset({"yes", "yeah", "true", "present"})
NO = frozenset({"no", "not", "false", "absent", "none"})


def contradicts_label(conclusion: str, label: str) -> list[str]:
    """For a yes/no label, the conclusion must not open with the opposite answer.

    >>> contradicts_label("No, the liver looks normal.", "Yes")
    ['conclusion says "no" but the answer is "yes"']
    >>> contradicts_label("Yes: the lesion is visible.", "yes"), contradicts_label("No.", "lung")
    ([], [])
    """
    answer = key_answer(label)
    if answer not in ("yes", "no"):
        return []
    words = key_answer(conclusion).split()
    first = words[0] if words else ""
    opposite = NO if answer == "yes" else YES
    if first in opposite:
        return [f'conclusion says "{first}" but the answer is "{answer}"']
    return []


__all__ = [
    "contradicts_label",
    "key_answer",
    "key_answer_words",
    "names_absent",
    "non_empty",
    "question_form",
    "question_key",
    "sentence_count",
    "sentences",
    "similarity",
    "word_count",
]
