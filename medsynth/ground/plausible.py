"""Mention plausibility and refusals: what grounding will not try to match, and why.

An extracted mention is matched only when it looks like the name of one entity:

- short: at most ``mention_max_words`` words and ``mention_max_chars`` characters; a mention in
  a CJK script (no spaces between words) at most ``mention_max_cjk_chars`` characters;
- no sentence punctuation inside (``.`` ``,`` ``;`` ``:`` ``!`` ``?`` and their full-width CJK
  forms; the CJK enumeration comma ``、`` is allowed: two SLAKE KG names use it);
- not negated ("no pleural effusion", "未见结石") and not a clause (verbs and auxiliaries such
  as "shows", "is", "consistent with", "there"; Chinese 可见, 显示, 提示 ...);
- not only generic words ("disease", "abnormality");
- found in the record's own context text: as whole words after normalisation
  (:func:`medsynth.text.mentions`), or near it: at least two thirds of its content words
  (CJK: characters) occur in the context. ``mention_in_context = false`` turns this last check
  off (records without captions).

A mention that is a KG name or alias needs none of this: the exact stage accepts it. Refusals
at later stages (a KG name of the other kind, every fuzzy candidate below the score floor, the
verifier saying no to every candidate) are described the same way, so the reports can count
refused mentions per stage and reason.

>>> rules = MentionRules()
>>> rules.check("lung mass", "CT shows a mass in the left lung.") is None
True
>>> rules.check("Cardiovascular disease", "a calculus in the left kidney").category
'not in the context'
>>> rules.check("肺癌", "右肺上叶可见肺癌。") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medsynth.text import has_cjk, key_answer, mentions, normalize

# The steps a mention passes, in order (the reports list refusals in this order).
PLAUSIBILITY, EXACT, FUZZY_FLOOR, VERIFIER = "plausibility", "exact", "fuzzy floor", "verifier"
STEPS = (PLAUSIBILITY, EXACT, FUZZY_FLOOR, VERIFIER)
REJECT_STAGE = "ground mention"  # the rejects rows of refused mentions

MAX_WORDS, MAX_CHARS, MAX_CJK_CHARS = 6, 48, 12
NEAR_SHARE = 2 / 3  # share of content words (CJK: characters) that must occur in the context

_SENTENCE_MARKS = ".,;:!?。，；：！？\n\r\t"
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")
# English clause cues, compared with key_answer() tokens (case-folded, no plural folding).
_CLAUSE_WORDS = frozenset(
    (
        *("is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had"),
        *("do", "does", "did", "can", "could", "may", "might", "will", "would", "should"),
        *("show", "shows", "showed", "shown", "showing", "see", "sees", "seen", "noted"),
        *("reveal", "reveals", "revealed", "revealing", "identified", "visible"),
        *("demonstrate", "demonstrates", "demonstrated", "demonstrating"),
        *("suggest", "suggests", "suggested", "suggesting", "suggestive"),
        *("indicate", "indicates", "indicated", "indicating"),
        *("appear", "appears", "appeared", "appearing", "consistent", "compatible"),
        *("there", "which", "what", "where", "when", "why", "how", "this", "these", "those"),
        *("image", "picture", "scan", "patient"),
    )
)
_NEGATION_WORDS = frozenset(("no", "not", "without", "absent", "absence", "negative", "nor"))
_CJK_CLAUSE = (
    *("可见", "显示", "提示", "考虑", "符合", "表现为", "这是", "是否", "什么", "哪"),
    *("吗", "图像", "图片", "位于", "存在"),
)
_CJK_NEGATION = ("未见", "没有", "无明显", "未发现", "不存在", "排除")
# Words that name no particular entity; a mention made only of these is refused.
_GENERIC = frozenset(
    normalize(w)
    for w in (
        *("disease", "disorder", "condition", "finding", "abnormality", "abnormal", "lesion"),
        *("pathology", "problem", "issue", "illness", "sickness", "organ", "body", "part"),
        *("structure", "tissue"),
    )
)
_STOP = frozenset(
    normalize(w)
    for w in (
        *("a", "an", "the", "of", "in", "on", "at", "to", "for"),
        *("and", "or", "by", "from", "with"),
    )
)
_CJK_STOP = frozenset("的是了和与及")


@dataclass(frozen=True)
class Refusal:
    """Why a mention was not matched: the step that refused it, a short category, a detail."""

    step: str
    category: str
    detail: str

    @property
    def reason(self) -> str:
        """One line for the ``rejects`` table, parsed back by :func:`parse_reason`.

        >>> Refusal("plausibility", "too long", "14 words, limit 6").reason
        'plausibility: too long (14 words, limit 6)'
        """
        return f"{self.step}: {self.category} ({self.detail})"


def parse_reason(reason: str) -> tuple[str, str]:
    """(step, category) of a stored refusal reason.

    >>> parse_reason("fuzzy floor: below the score floor (best Kidney 0.41 < 0.6)")
    ('fuzzy floor', 'below the score floor')
    """
    step, _, rest = reason.partition(": ")
    return step.strip(), rest.split(" (")[0].strip()


def mention_source(record_id: int, kind: str) -> str:
    """The ``rejects.source`` of a refused mention.

    >>> mention_source(12, "disease")
    'record 12 disease'
    """
    return f"record {record_id} {kind}"


def _cjk_count(text: str) -> int:
    return len(_CJK_CHAR.findall(text))


def content_units(mention: str) -> list[str]:
    """The words (CJK: characters) of ``mention`` that must be found in the context: stop words,
    generic words and CJK function characters left out.

    >>> content_units("Mass in the Lungs"), content_units("肺部的结节")
    (['mass', 'lung'], ['肺', '部', '结', '节'])
    """
    units: list[str] = []
    for token in normalize(mention).split():
        if has_cjk(token):
            units += [c for c in token if _CJK_CHAR.match(c) and c not in _CJK_STOP]
            rest = _CJK_CHAR.sub(" ", token).split()
            units += [w for w in rest if w not in _STOP and w not in _GENERIC]
        elif token not in _STOP and token not in _GENERIC:
            units.append(token)
    return units


@dataclass(frozen=True)
class MentionRules:
    """The plausibility checks, with their limits (see the module doc)."""

    max_words: int = MAX_WORDS
    max_chars: int = MAX_CHARS
    max_cjk_chars: int = MAX_CJK_CHARS
    in_context: bool = True

    def check(self, mention: str, context: str) -> Refusal | None:
        """None when ``mention`` may be matched; else the reason it may not."""
        return self.shape(mention) or (self.found(mention, context) if self.in_context else None)

    def shape(self, mention: str) -> Refusal | None:
        """Length, punctuation, negation, clause and generic-word checks (no context needed)."""
        text = mention.strip()
        words = key_answer(text).split()
        cjk = _cjk_count(text)
        if cjk:
            size = cjk + len(key_answer(_CJK_CHAR.sub(" ", text)).split())
            if size > self.max_cjk_chars:
                return _refuse("too long", f"{size} characters, limit {self.max_cjk_chars}")
        elif len(words) > self.max_words:
            return _refuse("too long", f"{len(words)} words, limit {self.max_words}")
        elif len(text) > self.max_chars:
            return _refuse("too long", f"{len(text)} characters, limit {self.max_chars}")
        inner = text.rstrip(_SENTENCE_MARKS + " ").lstrip(_SENTENCE_MARKS + " ")
        marks = sorted({c for c in inner if c in _SENTENCE_MARKS})
        if marks:
            return _refuse("sentence punctuation inside", " ".join(repr(c) for c in marks))
        negated = [w for w in words if w in _NEGATION_WORDS] + [
            cue for cue in _CJK_NEGATION if cue in text
        ]
        if negated:
            return _refuse("negated", ", ".join(negated))
        clause = [w for w in words if w in _CLAUSE_WORDS] + [
            cue for cue in _CJK_CLAUSE if cue in text
        ]
        if clause:
            return _refuse("a clause, not a name", ", ".join(clause))
        if not content_units(text):
            return _refuse("generic word", "names no particular entity")
        return None

    def found(self, mention: str, context: str) -> Refusal | None:
        """Whether ``mention`` occurs in ``context``: whole, or most of its content units."""
        if mentions(context, mention):
            return None
        units = content_units(mention)
        words = set(normalize(context).split())
        chars = set(_CJK_CHAR.findall(context))
        hits = sum(1 for u in units if (u in chars if _CJK_CHAR.fullmatch(u) else u in words))
        if units and hits >= NEAR_SHARE * len(units):
            return None
        return _refuse("not in the context", f"{hits} of {len(units)} content words found")


def _refuse(category: str, detail: str) -> Refusal:
    return Refusal(PLAUSIBILITY, category, detail)
