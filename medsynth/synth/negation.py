"""Which findings a text affirms, negates or leaves uncertain (English and Chinese).

A small NegEx-style rule set, scoped to the clause: a negation cue ("no", "without", "negative
for", "ruled out", 未见, 无 ...) before a finding, or a closing cue after it ("... is absent",
"... was excluded", ...阴性), in the same clause negates it; hedges ("possible", "cannot be
excluded", 可能 ...) make it uncertain; everything else named is affirmed. Clauses end at
sentence marks, semicolons, colons and contrast words ("but", "however", 但; in Chinese also
commas). A finding named only in a question is uncertain. Pseudo-cues such as "no change in"
are skipped.

We chose rules over medspaCy's ConText or negspacy: both need spaCy (a large install for the
air-gapped machines) and neither reads Chinese, which SLAKE's captions and KG are half written
in. The rules below cover the cues our data uses and are tested one by one.

>>> polarity("No pleural effusion. A mass in the right upper lobe.", ["pleural effusion", "mass"])
{'pleural effusion': 'negated', 'mass': 'affirmed'}
>>> polarity("未见胸腔积液，右肺可见结节", ["胸腔积液", "结节"])
{'胸腔积液': 'negated', '结节': 'affirmed'}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

from medsynth.text import has_cjk, normalize

Polarity = Literal["affirmed", "negated", "uncertain"]

_PRE_NEGATION = (
    "no",
    "not",
    "without",
    "negative for",
    "free of",
    "absence of",
    "absent",
    "no evidence of",
    "no sign of",
    "no signs of",
    "no finding of",
    "no suspicion of",
    "no findings of",
    "denies",
    "denied",
    "never",
    "none",
    "nor",
    "neither",
    "ruled out",
    "excluded",
    "resolution of",
    "resolved",
    "unremarkable for",
)
_POST_NEGATION = (
    "not suspected",
    "is not suspected",
    "not considered",
    "not favored",
    "absent",
    "is absent",
    "are absent",
    "not seen",
    "not present",
    "not identified",
    "not detected",
    "not visible",
    "not demonstrated",
    "is not seen",
    "are not seen",
    "was excluded",
    "were excluded",
    "is excluded",
    "ruled out",
    "was ruled out",
    "has resolved",
    "have resolved",
    "resolved",
    "negative",
    "unlikely",
)
_UNCERTAIN = (
    "possible",
    "possibly",
    "probable",
    "probably",
    "suspected",
    "suspicious for",
    "suspicion of",
    "concern for",
    "questionable",
    "cannot exclude",
    "cannot rule out",
    "can not be excluded",
    "cannot be excluded",
    "cannot be ruled out",
    "rule out",
    "r o",
    "differential",
    "may",
    "might",
    "could",
    "versus",
    "likely",
    "would",
    "not ruled out",
    "not been ruled out",
    "not excluded",
    "not been excluded",
)
_PSEUDO = (
    "no change",
    "no significant change",
    "no interval change",
    "no increase",
    "not only",
    "without change",
    "without any change",
    "not certain whether",
    "no further",
    "not resolved",
    "not yet resolved",
    "not ruled out",
    "not been ruled out",
    "not excluded",
    "not been excluded",
)
_ZH_PRE_NEGATION = (
    "未见",
    "未发现",
    "未显示",
    "没有",
    "无",
    "不伴",
    "否认",
    "排除",
    "未",
    "不是",
    "非",
)
_ZH_POST_NEGATION = ("阴性", "未见", "已排除", "消失", "不明显")
_ZH_UNCERTAIN = ("可能", "疑似", "考虑", "待排", "不除外", "不排除", "或")
_SENTENCE = re.compile(r"(?<=[.!?。！？\n])")
_CLAUSE = re.compile(
    r"[;:；：]|,\s*(?:but|however|although|though|except)\b|"
    r"\b(?:but|however|although|though|whereas|except|apart from)\b",
    re.IGNORECASE,
)
_CJK_CLAUSE = re.compile(r"[,;:，；：]|但|然而|而")


_NEW_PART_WORDS = (
    "a an the this these it its there in with which who suggesting consistent compatible "
    "likely probably representing favoring favouring keeping"
)
_NEW_PART = frozenset(_NEW_PART_WORDS.split())


def _comma_parts(clause: str) -> list[str]:
    """An English clause cut at commas, except where a comma only separates list items ("no
    pneumothorax, effusion, or pleural effusion" stays one part; "no nodule, in keeping with
    simple goiter" and "no effusion, the lungs are clear" are two).

    >>> _comma_parts("no mass, effusion or pleural thickening, in keeping with fibrosis")
    ['no mass, effusion or pleural thickening', ' in keeping with fibrosis']
    """
    parts: list[str] = []
    for piece in clause.split(","):
        words = piece.lower().split()
        starts_new = bool(words) and (words[0] in _NEW_PART or len(words) > 6)
        if parts and not starts_new:
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return parts


def clauses(text: str) -> list[tuple[str, bool]]:
    """``text`` cut where a negation stops applying: ``(clause, is part of a question)``.

    >>> [c for c, _ in clauses("No mass, no effusion; a nodule but no cyst.")]
    ['No mass, no effusion', 'a nodule', 'no cyst.']
    >>> clauses("未见积液，肝脏正常。有积液吗？")
    [('未见积液', False), ('肝脏正常。', False), ('有积液吗?', True)]
    """
    found = []
    for sentence in _SENTENCE.split(unicodedata.normalize("NFKC", text)):
        asked = sentence.rstrip().endswith("?")
        if has_cjk(sentence):
            parts = _CJK_CLAUSE.split(sentence)
        else:
            parts = [c for p in _CLAUSE.split(sentence) if p for c in _comma_parts(p)]
        found += [(p.strip(), asked) for p in parts if p and p.strip()]
    return found


def _positions(haystack: str, needle: str) -> list[int]:
    found, start = [], haystack.find(needle)
    while start >= 0:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def _spellings(key: str) -> list[str]:
    """``key`` and, for a two-word name, its common reordering ("patella fracture" is also
    "fracture of the patella", "kidney stone" also "stone in the left kidney").

    >>> _spellings("liver cyst")[:3]
    ['liver cyst', 'cyst of liver', 'cyst of the liver']
    """
    words = key.split()
    if len(words) != 2:
        return [key]
    a, b = words
    return [key] + [
        f"{b} {link} {a}"
        for link in (
            "of",
            "of the",
            "in",
            "in the",
            "of the left",
            "of the right",
            "in the left",
            "in the right",
        )
    ]


def _latin(clause: str, key: str) -> Polarity | None:
    """The polarity of ``key`` (normalised) in one Latin-script clause; None if not named."""
    text = f" {normalize(clause)} "
    found = [(p, form) for form in _spellings(key) for p in _positions(text, f" {form} ")]
    if not found:
        return None
    spots = [p for p, _ in found]
    key = max((form for _, form in found), key=len)
    pseudo = [(p, p + len(c) + 2) for c in _PSEUDO for p in _positions(text, f" {normalize(c)} ")]

    def cues(words: Iterable[str], negation: bool = True) -> list[tuple[int, int]]:
        out = []
        for cue in words:
            for p in _positions(text, f" {normalize(cue)} "):
                end = p + len(normalize(cue)) + 2
                if not negation or not any(a <= p + 1 < b for a, b in pseudo):
                    out.append((p, end))
        return out

    neg_pre, neg_post = cues(_PRE_NEGATION), cues(_POST_NEGATION)
    hedge = cues(_UNCERTAIN, negation=False)
    results: set[Polarity] = set()
    for spot in spots:
        end = spot + len(key) + 1
        if any(b - 1 <= spot for _, b in hedge if _ <= spot):
            results.add("uncertain")
        elif any(b - 1 <= spot for a, b in neg_pre if a <= spot) or any(
            a >= end - 1 and a - end <= 24 for a, _ in neg_post
        ):
            results.add("negated")
        elif any(a >= end - 1 and a - end <= 24 for a, _ in hedge):
            results.add("uncertain")
        else:
            results.add("affirmed")
    return _strongest(results)


def _chinese(clause: str, key: str) -> Polarity | None:
    """The polarity of ``key`` in one clause written in a CJK script."""
    text = normalize(clause).replace(" ", "")
    compact = key.replace(" ", "")
    spots = _positions(text, compact)
    if not spots:
        return None
    results: set[Polarity] = set()
    for spot in spots:
        before, after = text[:spot], text[spot + len(compact) :]
        if any(cue in before for cue in _ZH_UNCERTAIN):
            results.add("uncertain")
        elif any(cue in before for cue in _ZH_PRE_NEGATION) or any(
            cue in after[:8] for cue in _ZH_POST_NEGATION
        ):
            results.add("negated")
        else:
            results.add("affirmed")
    return _strongest(results)


def _strongest(results: set[Polarity]) -> Polarity:
    """Named several ways: affirmed anywhere wins, then uncertain, then negated."""
    for level in ("affirmed", "uncertain", "negated"):
        if level in results:
            return level
    return "affirmed"


def polarity(text: str, names: Iterable[str]) -> dict[str, Polarity]:
    """Each of ``names`` that ``text`` names, with how it is named (see the module doc).

    >>> polarity("Pneumonia was ruled out.", ["pneumonia"])
    {'pneumonia': 'negated'}
    >>> polarity("Possible pneumonia; no effusion.", ["pneumonia", "effusion", "cyst"])
    {'pneumonia': 'uncertain', 'effusion': 'negated'}
    >>> polarity("No change in the nodule.", ["nodule"])
    {'nodule': 'affirmed'}
    >>> polarity("A kidney stone, but no hydronephrosis.", ["kidney stone", "hydronephrosis"])
    {'kidney stone': 'affirmed', 'hydronephrosis': 'negated'}
    >>> polarity("No discrete nodule, in keeping with simple goiter.", ["simple goiter", "nodule"])
    {'simple goiter': 'affirmed', 'nodule': 'negated'}
    >>> polarity("A transverse fracture of the patella.", ["patella fracture"])
    {'patella fracture': 'affirmed'}
    >>> polarity("Thyroid cancer is not suspected.", ["thyroid cancer"])
    {'thyroid cancer': 'negated'}
    """
    parts = clauses(text)
    found: dict[str, Polarity] = {}
    for name in names:
        key = normalize(name)
        if not key:
            continue
        seen: set[Polarity] = set()
        for clause, asked in parts:
            result = _chinese(clause, key) if has_cjk(key) else _latin(clause, key)
            if result is not None:
                seen.add("uncertain" if asked and result == "affirmed" else result)
        if seen:
            found[name] = _strongest(seen)
    return found
