"""GRPO reward functions: pure functions in TRL's convention ``f(completions, **columns)``.

Each takes the batch's completions (plain strings, or conversational ``[{"role": "assistant",
"content": ...}]`` lists as TRL passes them) and the dataset columns it needs as keyword lists of
the same length, and returns one ``float`` per completion, or ``None`` where the reward does not
apply to that row (TRL turns ``None`` into NaN and leaves it out of the sum).

MedKInstruct's four rewards:

- :func:`answer_reward`: 1 when the key answer appears in the ``<answer>`` (or ``<ans>``) part;
- :func:`path_reward`: r / |path| for the r KG path entities the whole output mentions;
- :func:`full_path_reward`: 1 more when every path entity is mentioned;
- :func:`format_reward`: 0.5 for ``<think>...</think><answer>...</answer>`` (MedKInstruct
  writes ``<ans>...</ans>``; both count).

MEDSAGE's, for reasoning data (``reasoning`` column true):

- :func:`structured_format_reward`: 0.5 for complete ``<LOC> <VIS> <KNO> <CON> <ANS>`` stages
  (the paper's long tag names ``<VISUAL> <KNOWLEDGE> <ANSWER>`` count too);
- :func:`self_check_reward`: alpha (0.2) when a wrong first answer is followed by a
  ``<CHECK>...</CHECK>`` span and a corrected answer. GRPO does not add it to a completion: its
  bonus goes to the self-check tokens of the two-pass rollout
  (:class:`medsynth.train.selfcheck.SelfCheckGRPOTrainer`); here it scores a single text.

The self-check rule cannot be gamed inside one completion: the answer reward is judged on the
*first* answer (and lost when a check turns a right answer wrong), so a deliberately wrong answer
that is then "corrected" earns only alpha, never the 1.0 of a right first answer:

=========================  ======  ==========  ====================
completion                 answer  self-check  total (+0.5 format)
=========================  ======  ==========  ====================
right first                1.0     0.0         1.5
wrong, check, then right   0.0     0.2         0.7
wrong, check, still wrong  0.0     0.0         0.5
right, check, then wrong   0.0     0.0         0.5
=========================  ======  ==========  ====================

Matching is on normalised text (:func:`medsynth.kg.normalize.normalize`: case, punctuation and
simple plurals), whole words only: "lungs" mentions *Lung*, "pulmonary" does not.

>>> done = "<think>The lungs belong to the respiratory system.</think><answer>Chest pain</answer>"
>>> answer_reward([done], key_answer=["chest pain"])
[1.0]
>>> path_reward([done], path_entities=[["Lung", "Respiratory System", "Lung Cancer"]])
[0.6666666666666666]
>>> format_reward([done])
[0.5]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from medsynth.kg.normalize import mentions, normalize

FORMAT_REWARD = 0.5
STRUCTURED_FORMAT_REWARD = 0.5
SELF_CHECK_ALPHA = 0.2

_NO_TAG = r"((?:(?!</?(?:think|answer|ans)>).)*)"  # text holding no think/answer tag
_THINK_FORMAT = re.compile(
    rf"\s*<think>{_NO_TAG}</think>\s*<(answer|ans)>{_NO_TAG}</\2>\s*", re.DOTALL
)
_ANSWER = re.compile(r"<(answer|ans)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_CHECK = re.compile(r"<(check|self-check|self_check)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_STAGES = (
    ("LOC", "LOCALIZATION"),
    ("VIS", "VISUAL"),
    ("KNO", "KNOWLEDGE"),
    ("CON", "CONCLUSION"),
    ("ANS", "ANSWER"),
)
_STAGE_PATTERNS = [
    re.compile(rf"\s*<({'|'.join(names)})>(.*?)</\1>", re.DOTALL) for names in _STAGES
]


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a message list (TRL's conversational format,
    the assistant turns joined) or a list of typed content parts.

    >>> completion_text([{"role": "assistant", "content": "<answer>no</answer>"}])
    '<answer>no</answer>'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "yes"}]}])
    'yes'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        if "content" in completion:
            return completion_text(completion["content"])
        return str(completion.get("text") or "")
    if isinstance(completion, Sequence):
        return "".join(completion_text(part) for part in completion)
    return str(completion)


def answers(text: str) -> list[str]:
    """Every ``<answer>``/``<ans>`` block of ``text`` (case-insensitive tags), in order.

    >>> answers("<think>x</think><answer> lung </answer> then <ANS>liver</ANS>")
    [' lung ', 'liver']
    """
    return [match.group(2) for match in _ANSWER.finditer(text)]


def _target(row: int, key_answer: Sequence[Any] | None, ground_truth: Sequence[Any] | None) -> str:
    """The key answer of ``row``, else its ground truth (reasoning data), else ''."""
    for column in (key_answer, ground_truth):
        if column is not None and row < len(column) and column[row]:
            return str(column[row])
    return ""


def _is_reasoning(reasoning: Sequence[Any] | None, row: int) -> bool:
    return bool(reasoning is not None and row < len(reasoning) and reasoning[row])


def answer_reward(
    completions: Sequence[Any],
    key_answer: Sequence[Any] | None = None,
    ground_truth: Sequence[Any] | None = None,
    **_: Any,
) -> list[float | None]:
    """1.0 when the key answer (else the ground truth) appears in the first answer block and in
    the last (a self-check that turns a right answer wrong loses it; one that corrects a wrong
    first answer earns :func:`self_check_reward`'s bonus, not this); rows with neither get
    ``None``.

    >>> answer_reward(["<answer>Chest pain</answer>", "<answer>cough</answer>", "chest pain"],
    ...               key_answer=["chest pain"] * 3)
    [1.0, 0.0, 0.0]
    >>> answer_reward(["<ANS>A lung nodule.</ANS>"], key_answer=[""], ground_truth=["lung nodule"])
    [1.0]
    >>> answer_reward(["<ANS>cyst</ANS><CHECK>dense</CHECK><ANS>nodule</ANS>",
    ...                "<ANS>nodule</ANS><CHECK>hmm</CHECK><ANS>cyst</ANS>"],
    ...               key_answer=["nodule"] * 2)
    [0.0, 0.0]
    """
    rewards: list[float | None] = []
    for row, completion in enumerate(completions):
        target = _target(row, key_answer, ground_truth)
        if not target:
            rewards.append(None)
            continue
        found = answers(completion_text(completion))
        right = bool(found) and mentions(found[0], target) and mentions(found[-1], target)
        rewards.append(1.0 if right else 0.0)
    return rewards


def _path(row: int, path_entities: Sequence[Any] | None) -> list[str]:
    """The distinct (by normalised name) path entities of ``row``."""
    if path_entities is None or row >= len(path_entities) or not path_entities[row]:
        return []
    seen: dict[str, str] = {}
    for entity in path_entities[row]:
        key = normalize(str(entity))
        if key and key not in seen:
            seen[key] = str(entity)
    return list(seen.values())


def path_reward(
    completions: Sequence[Any], path_entities: Sequence[Any] | None = None, **_: Any
) -> list[float | None]:
    """r / |path| for the r path entities mentioned anywhere in the output; ``None`` without a
    path.

    >>> path_reward(["The lung is part of the respiratory system."],
    ...             path_entities=[["Lung Cancer", "Lung", "Respiratory System"]])
    [0.6666666666666666]
    >>> path_reward(["anything"], path_entities=[[]])
    [None]
    """
    rewards: list[float | None] = []
    for row, completion in enumerate(completions):
        path = _path(row, path_entities)
        if not path:
            rewards.append(None)
            continue
        text = completion_text(completion)
        rewards.append(sum(mentions(text, entity) for entity in path) / len(path))
    return rewards


def full_path_reward(
    completions: Sequence[Any], path_entities: Sequence[Any] | None = None, **_: Any
) -> list[float | None]:
    """1.0 when every path entity is mentioned, else 0.0; ``None`` without a path.

    >>> full_path_reward(["Lung cancer grows in the lung (respiratory system).", "lung"],
    ...                  path_entities=[["Lung Cancer", "Lung", "Respiratory System"]] * 2)
    [1.0, 0.0]
    """
    rewards: list[float | None] = []
    for row, completion in enumerate(completions):
        path = _path(row, path_entities)
        if not path:
            rewards.append(None)
            continue
        text = completion_text(completion)
        rewards.append(1.0 if all(mentions(text, entity) for entity in path) else 0.0)
    return rewards


def is_think_format(text: str) -> bool:
    """``<think>...</think><answer>...</answer>`` (or ``<ans>...</ans>``, as MedKInstruct
    writes it), both parts non-empty, nothing else around.

    >>> is_think_format("<think>a</think>\\n<answer>b</answer>")
    True
    >>> is_think_format("<think>a</think><ans>b</ans>")
    True
    >>> is_think_format("<think>a</think><ans>b</answer>")
    False
    >>> is_think_format("<think> </think><answer>b</answer>")
    False
    >>> is_think_format("<answer>b</answer>")
    False
    >>> is_think_format("<think>a</think><answer>b</answer><answer>c</answer>")
    False
    """
    match = _THINK_FORMAT.fullmatch(text)
    return bool(match and match.group(1).strip() and match.group(3).strip())


def format_reward(
    completions: Sequence[Any], reasoning: Sequence[Any] | None = None, **_: Any
) -> list[float | None]:
    """0.5 for the think format; ``None`` for reasoning rows (they get the structured format).

    >>> format_reward(["<think>x</think><answer>y</answer>", "y", "<LOC>..."],
    ...               reasoning=[False, False, True])
    [0.5, 0.0, None]
    """
    return [
        None
        if _is_reasoning(reasoning, row)
        else (FORMAT_REWARD if is_think_format(completion_text(c)) else 0.0)
        for row, c in enumerate(completions)
    ]


def is_structured(text: str) -> bool:
    """Complete MEDSAGE stages in order, each non-empty: ``<LOC> <VIS> <KNO> <CON> <ANS>``
    (or the long names); a plain-text preamble may come first, and a self-check with a revised
    answer may follow the first trajectory.

    >>> is_structured("<LOC>upper lobe</LOC><VIS>round opacity</VIS><KNO>nodules are round"
    ...               "</KNO><CON>a nodule</CON><ANS>nodule</ANS>")
    True
    >>> is_structured("<LOC>upper lobe</LOC><VIS>round opacity</VIS><CON>a nodule</CON>"
    ...               "<ANS>nodule</ANS>")
    False
    """
    check = _CHECK.search(text)
    first = text[: check.start()] if check else text
    position = first.find("<")  # a plain-text preamble may open the trajectory
    if position < 0:
        return False
    for pattern in _STAGE_PATTERNS:
        match = pattern.match(first, position)
        if match is None or not match.group(2).strip():
            return False
        position = match.end()
    return not first[position:].strip()


def structured_format_reward(
    completions: Sequence[Any], reasoning: Sequence[Any] | None = None, **_: Any
) -> list[float | None]:
    """0.5 for complete MEDSAGE stages on reasoning rows; ``None`` on other rows.

    >>> structured_format_reward(["<LOC>a</LOC><VIS>b</VIS><KNO>c</KNO><CON>d</CON><ANS>e</ANS>",
    ...                           "<ANS>e</ANS>", "x"], reasoning=[True, True, False])
    [0.5, 0.0, None]
    """
    return [
        (STRUCTURED_FORMAT_REWARD if is_structured(completion_text(c)) else 0.0)
        if _is_reasoning(reasoning, row)
        else None
        for row, c in enumerate(completions)
    ]


def self_check_reward(
    completions: Sequence[Any],
    key_answer: Sequence[Any] | None = None,
    ground_truth: Sequence[Any] | None = None,
    alpha: float = SELF_CHECK_ALPHA,
    **_: Any,
) -> list[float | None]:
    """``alpha`` when an answer before a ``<CHECK>`` span is wrong and the last answer after it is
    right (MEDSAGE's r_sc = [a1 wrong and a2 right], scaled); else 0.0; ``None`` without a target.

    >>> wrong_then_right = ("<LOC>l</LOC><VIS>v</VIS><KNO>k</KNO><CON>c</CON><ANS>splenic cyst"
    ...     "</ANS><CHECK>The fluid is dense, so it is blood.</CHECK><ANS>hemoperitoneum</ANS>")
    >>> self_check_reward([wrong_then_right, "<ANS>hemoperitoneum</ANS>"],
    ...                   key_answer=["hemoperitoneum"] * 2)
    [0.2, 0.0]
    """
    rewards: list[float | None] = []
    for row, completion in enumerate(completions):
        target = _target(row, key_answer, ground_truth)
        if not target:
            rewards.append(None)
            continue
        text = completion_text(completion)
        check = _CHECK.search(text)
        if check is None:
            rewards.append(0.0)
            continue
        before, after = answers(text[: check.start()]), answers(text[check.end() :])
        corrected = (
            bool(before)
            and bool(after)
            and not mentions(before[-1], target)
            and mentions(after[-1], target)
        )
        rewards.append(alpha if corrected else 0.0)
    return rewards


REWARD_FUNCS: dict[str, Callable[..., list[float | None]]] = {
    "answer": answer_reward,
    "path": path_reward,
    "full": full_path_reward,
    "format": format_reward,
    "structured": structured_format_reward,
    "self_check": self_check_reward,
}
"""Every reward by its short name (the keys of the ``reward_weights`` setting)."""
