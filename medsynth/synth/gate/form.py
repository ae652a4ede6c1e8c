"""Detectors of form: repetition, copied prompt text, notation, truncation, reasoning stages.

They read the draft alone (and the prompt's fixed wording), never the record."""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from collections.abc import Iterable

from medsynth.config import ChecksConfig
from medsynth.text import has_cjk, key_answer

# --- repetition ----------------------------------------------------------------------------

_SPLIT = re.compile(r"(?<=[.!?。！？])\s*")


def _sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SPLIT.split(text)) if s]


def units(text: str) -> list[str]:
    """Words of ``text`` (CJK: characters), normalised for comparison."""
    folded = key_answer(text)
    if has_cjk(folded):
        return [u for u in re.findall(r"[^\W\d_]|\w+", folded) if u.strip()]
    return folded.split()


def repetition(text: str, cfg: ChecksConfig) -> list[str]:
    """Repeated sentences, word loops and text that compresses too well.

    >>> cfg = ChecksConfig()
    >>> repetition("The liver is big. The liver is big. It hurts.", cfg)
    ['repetition: a sentence occurs 2 times ("The liver is big.")']
    >>> repetition("the the the lesion", cfg)
    ['repetition: "the" repeated 3 times in a row']
    >>> repetition("The mass is in the left lung and it is round.", cfg)
    []
    """
    found = []
    if cfg.repeated_sentences:
        counts = Counter(key_answer(s) for s in _sentences(text) if key_answer(s))
        for sentence, n in counts.most_common(1):
            if n >= cfg.repeated_sentences:
                shown = next(s for s in _sentences(text) if key_answer(s) == sentence)
                found.append(f'repetition: a sentence occurs {n} times ("{shown[:60]}")')
    words = units(text)
    run = 1
    for prev, unit in itertools.pairwise(words):
        run = run + 1 if unit == prev else 1
        if run == 3 and not unit.isdigit():
            found.append(f'repetition: "{unit}" repeated 3 times in a row')
            break
    if cfg.ngram and not found:
        grams = Counter(tuple(words[i : i + cfg.ngram]) for i in range(len(words) - cfg.ngram + 1))
        for gram, n in grams.most_common(1):
            if n >= cfg.ngram_repeats:
                found.append(f'repetition: a word loop ("{" ".join(gram)}" {n} times)')
    if cfg.min_compression and not found and len(text.encode()) >= 200:
        raw = text.encode()
        ratio = len(zlib.compress(raw, 9)) / len(raw)
        if ratio < cfg.min_compression:
            found.append(f"repetition: compresses to {ratio:.2f} of its size (degenerate)")
    return found


# --- copied prompt text ---------------------------------------------------------------------


def prompt_copy(text: str, template_text: Iterable[str], n: int) -> list[str]:
    """A run of ``n`` consecutive words of the prompt's fixed wording in ``text``.

    >>> prompt_copy("<KNO>the medical facts that matter here</KNO>",
    ...             ["the medical facts that matter here, taken from"], 5)
    ['prompt_copy: repeats the prompt ("the medical facts that matter")']
    >>> prompt_copy("The facts matter here.", ["the medical facts that matter here"], 5)
    []
    """
    if n <= 0:
        return []
    words = key_answer(text).split()
    have = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    if not have:
        return []
    for chunk in template_text:
        fixed = key_answer(chunk).split()
        for i in range(len(fixed) - n + 1):
            gram = tuple(fixed[i : i + n])
            if gram in have:
                return [f'prompt_copy: repeats the prompt ("{" ".join(gram)}")']
    return []


# --- notation -------------------------------------------------------------------------------

_NOTATION = (
    (re.compile(r"-\s*\[[^\]]{1,40}\]\s*->|->|=>|<-|→"), "a KG arrow"),
    (re.compile(r"\w#\w[^#\n]{0,40}#\w"), "a head#relation#tail triple"),
    (re.compile(r'[{}]|"\s*:\s*["\[{\d]|\[\s*"'), "JSON"),
    (re.compile(r"</?[A-Z]{2,6}>|</?(?:think|answer)>", re.IGNORECASE), "a tag"),
)


def notation(text: str) -> list[str]:
    """KG arrows, triples, JSON fragments or tags inside prose.

    >>> notation("Liver -[function]-> Detoxification is key.")
    ['notation: a KG arrow in prose ("-[function]->")']
    >>> notation('It says {"answer": "yes"}')
    ['notation: JSON in prose ("{")']
    >>> notation("The liver detoxifies blood (mainly).")
    []
    """
    for pattern, what in _NOTATION:
        match = pattern.search(text)
        if match:
            return [f'notation: {what} in prose ("{match.group(0)[:30]}")']
    return []


# --- truncation -----------------------------------------------------------------------------

_ENDS = tuple(".!?。！？)\"”’'")
_DANGLING_PAIRS = ("such as", "as well as", "due to", "because of")
_DANGLING = frozenset(
    ["the", "a", "an", "of", "and", "or", "with", "its", "their", "including", "because"]
)
_TRAILING_MARKUP = re.compile(r'(?:\s*(?:</?[A-Za-z]{2,8}>|[}\]"\s]))+$')


def truncation(text: str) -> list[str]:
    """Prose that stops mid-sentence.

    >>> truncation("The lesion lies in the right upper")
    ['truncation: stops mid-sentence ("the right upper")']
    >>> truncation("It is seen in the."), truncation("It is benign.")
    (['truncation: stops mid-sentence ("seen in the.")'], [])
    """
    stripped = _TRAILING_MARKUP.sub("", text.strip())  # tags and JSON are notation's to judge
    if not stripped:
        return []
    words = stripped.rstrip(".!?").lower().split()
    tail = " ".join(stripped.split()[-3:])
    if not stripped.endswith(_ENDS) and not (text.strip().endswith(("}", ">"))):
        return [f'truncation: stops mid-sentence ("{tail[-40:]}")']
    if words and (
        words[-1] in _DANGLING or " ".join(words[-2:]) in _DANGLING_PAIRS or words[-1] == "as"
    ):
        return [f'truncation: stops mid-sentence ("{tail[-40:]}")']
    if stripped.count("(") > stripped.count(")"):
        return [f'truncation: an unclosed parenthesis ("{tail[-40:]}")']
    return []


# --- reasoning stages -----------------------------------------------------------------------


def stages(parts: dict[str, str], overlap: float) -> list[str]:
    """Empty or one-word stages, and stages that repeat another.

    >>> stages({"localization": "The liver.", "visual_analysis": ""}, 0.8)
    ['stages: visual_analysis is empty']
    >>> stages({"localization": "localization", "conclusion": "It is a cyst of the liver."}, 0.8)
    ['stages: localization is too short ("localization")']
    >>> stages({"a": "The liver is dense.", "b": "the liver is dense"}, 0.8)
    ['stages: b repeats a']
    """
    found = []
    for name, text in parts.items():
        if not text.strip():
            found.append(f"stages: {name} is empty")
        elif len(units(text)) < 2:
            found.append(f'stages: {name} is too short ("{text.strip()[:30]}")')
    names = [n for n, t in parts.items() if t.strip()]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = set(units(parts[first])), set(units(parts[second]))
            if a and b and len(a & b) / len(a | b) >= overlap:
                found.append(f"stages: {second} repeats {first}")
    return found
