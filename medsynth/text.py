"""Text comparison in one place: entity names, answers, questions and key answers.

Every comparison is Unicode-aware: NFKC (full-width letters), case folding, one apostrophe
(``Crohn's`` = ``Crohn’s`` = ``Crohns``), punctuation of any script as a space, simple English
plurals. Chinese, Japanese and Korean have no spaces between words, so a CJK phrase is found
by substring and a CJK question is keyed by character pairs. The original spelling is always
stored beside the normalised key.

>>> normalize("  Pulmonary   Nodules ")
'pulmonary nodule'
>>> normalize("Crohn's disease") == normalize("crohns Disease")
True
>>> normalize("Non-enhancing Tumor")
'non enhancing tumor'
>>> normalize("Kidneys") == normalize("kidney")
True
>>> normalize("肺癌，")
'肺癌'
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

_APOSTROPHES = re.compile(r"['’`´]")
_PUNCT = re.compile(r"[^\w\s]|_")
_KEEP_S = ("ss", "us", "is")
# ASCII fast path: apostrophes vanish, every other punctuation mark becomes a space.
_ASCII_TABLE = str.maketrans(
    {
        c: (None if c in "'`" else " ")
        for c in map(chr, range(128))
        if not (c.isalnum() or c.isspace())
    }
)


@lru_cache(maxsize=65_536)
def singular(token: str) -> str:
    """Strip a simple English plural ending from one lower-case token.

    >>> [singular(t) for t in ["nodules", "arteries", "masses", "ribs", "virus", "abscesses"]]
    ['nodule', 'artery', 'mass', 'rib', 'virus', 'abscess']
    """
    if len(token) <= 3 or not token.isascii() or not token.isalpha():
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "ches", "shes", "xes", "zes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(_KEEP_S):
        return token[:-1]
    return token


@lru_cache(maxsize=200_000)
def normalize(name: str) -> str:
    """The matching key of ``name`` (see module doc)."""
    if name.isascii():
        text = name.lower().translate(_ASCII_TABLE)
    else:
        text = unicodedata.normalize("NFKC", name).casefold()
        text = _PUNCT.sub(" ", _APOSTROPHES.sub("", text))
    return " ".join([singular(token) for token in text.split()])


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]")
# punctuation that separates (a point or comma inside a number such as 4.5 does not)
_PUNCT_RUN = re.compile(r"(?:[^\w\s.,]|_|(?<!\d)[.,]|[.,](?!\d))+")
_TOKEN = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "is",
        "are",
        "was",
        "were",
        "this",
        "that",
        "these",
        "those",
        "be",
        "by",
        "for",
    ]
)
# Chinese function characters that carry no content in a question ("of", "is", question marks).
_CJK_STOP = frozenset("的是吗呢了")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds Chinese, Japanese or Korean characters.

    >>> has_cjk("肺癌"), has_cjk("lung")
    (True, False)
    """
    return bool(_CJK.search(text))


def mentions(text: str, phrase: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text``: as whole words, or, for a
    phrase in a CJK script (no spaces between words), as a substring.

    >>> mentions("Pain in the CHEST; chest-pain.", "chest pain")
    True
    >>> mentions("There are nodules in both lungs", "Lung Nodule")
    False
    >>> mentions("nodules in the lungs", "lung")
    True
    >>> mentions("notable", "no")
    False
    >>> mentions("右肺上叶可见肺癌。", "肺癌"), mentions("右肺上叶可见结节", "肺癌")
    (True, False)
    >>> mentions("脑组织体积减小，脑沟增宽", "小脑"), mentions("大小约4.5cm。", "约4.5cm")
    (False, True)
    """
    key = normalize(phrase)
    if not key:
        return False
    if has_cjk(key):
        # spaces between CJK characters do not separate words, punctuation does
        compact = key.replace(" ", "")
        pieces = _PUNCT_RUN.split(unicodedata.normalize("NFKC", text))
        return any(compact in normalize(piece).replace(" ", "") for piece in pieces)
    return f" {key} " in f" {normalize(text)} "


def _cjk_units(token: str) -> list[str]:
    """A token's content units: CJK runs as overlapping character pairs, other runs whole."""
    units: list[str] = []
    for run in re.findall(rf"(?:{_CJK.pattern})+|(?:(?!{_CJK.pattern}).)+", token):
        if not has_cjk(run):
            units.append(run)
            continue
        chars = [c for c in run if c not in _CJK_STOP]
        if len(chars) == 1:
            units.append(chars[0])
        units += ["".join(pair) for pair in itertools.pairwise(chars)]
    return units


def question_key(question: str) -> str:
    """A question's content units, sorted: the basis of near-duplicate detection. English words
    (stop words dropped), words of other alphabets, and CJK character pairs.

    >>> question_key("What is the FUNCTION of the organ?") == question_key("what function organ")
    True
    >>> question_key("这是什么器官？") == question_key("图中有几个肾脏？")
    False
    >>> question_key("肝脏在哪里？")
    '哪里 在哪 肝脏 脏在'
    """
    if question.isascii():
        words = {w for w in _ASCII_WORD.findall(question.lower()) if w not in _STOP}
    else:
        text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", question).casefold())
        words = set()
        for token in _TOKEN.findall(text):
            units = _cjk_units(token) if has_cjk(token) else [token]
            words.update(u for u in units if u not in _STOP)
    return " ".join(sorted(words))


def similarity(key_a: str, key_b: str) -> float:
    """Jaccard overlap of two question keys.

    >>> similarity("function organ what", "function organ what"), similarity("a", "b")
    (1.0, 0.0)
    """
    a, b = set(key_a.split()), set(key_b.split())
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def key_answer(text: str) -> str:
    """A key answer as stored: case-folded, one apostrophe rule, punctuation of any script as a
    space, single spaces (no plural folding: the answer keeps its words).

    >>> key_answer(" Chest pain, cough. ")
    'chest pain cough'
    >>> key_answer("Crohn's disease") == key_answer("Crohn’s Disease") == "crohns disease"
    True
    >>> key_answer("肺，右侧")
    '肺 右侧'
    """
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(_PUNCT.sub(" ", text).split())
