"""Name normalisation for matching: case, width, whitespace, punctuation and simple plurals.

The original spelling is always stored beside the normalised key.

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


def mentions(text: str, phrase: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text`` as whole words.

    >>> mentions("Pain in the CHEST; chest-pain.", "chest pain")
    True
    >>> mentions("There are nodules in both lungs", "Lung Nodule")
    False
    >>> mentions("nodules in the lungs", "lung")
    True
    >>> mentions("notable", "no")
    False
    """
    key = normalize(phrase)
    return bool(key) and f" {key} " in f" {normalize(text)} "
