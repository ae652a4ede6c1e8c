"""The quality gate: named detectors every draft passes before it can be kept.

Each detector is a small pure function of the draft's text and the record's evidence (no model
call), so what it lets through does not depend on how good the generator is. A detector that
fires returns reasons of the form ``"<detector>: <what and where>"``; the sample is stored
``rejected`` with them, never dropped silently. Thresholds live in ``[synth.checks]``
(:class:`medsynth.config.ChecksConfig`).

Detectors: ``repetition``, ``prompt_copy``, ``notation``, ``truncation``, ``stages``,
``path_unused``, ``key_answer_absent``, ``unsupported`` and ``label`` (see each function).
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from medsynth.config import ChecksConfig
from medsynth.synth.negation import Polarity, polarity
from medsynth.text import has_cjk, key_answer, mentions, normalize

DETECTORS = (
    "repetition",
    "prompt_copy",
    "notation",
    "truncation",
    "stages",
    "path_unused",
    "key_answer_absent",
    "unsupported",
    "label",
)
PROSE_GENERATORS = ("multihop", "describe", "instruct", "reasoning")


@dataclass(frozen=True)
class Facts:
    """What a record and the KG say: the evidence drafts are checked against."""

    context: str = ""
    polarity: dict[str, Polarity] = field(default_factory=dict)  # disease name -> how named
    kg_diseases: tuple[str, ...] = ()  # every KG disease name and alias (to spot in prose)
    kg_organs: tuple[str, ...] = ()  # every KG organ name and alias

    def how(self, name: str) -> Polarity | None:
        """How the record names ``name`` (None: it does not)."""
        key = normalize(name)
        for known, value in self.polarity.items():
            if normalize(known) == key:
                return value
        return None


@dataclass
class Candidate:
    """One draft as the gate sees it."""

    generator: str  # multihop | hardneg | keyanswer | describe | instruct | reasoning
    question: str = ""
    answer: str = ""  # the prose to inspect (reasoning: leave empty, use ``stages``)
    key_answer: str = ""
    parent_answer: str = ""  # keyanswer: the answer it condenses
    label: str = ""  # the sample's label (hardneg "no", reasoning <ANS>, keyanswer key answer)
    subject: str = ""  # hardneg: the disease the label is about
    stages: dict[str, str] = field(default_factory=dict)  # reasoning: stage -> text
    path_text: str = ""  # the KG path or facts the model was given
    path_entities: list[str] = field(default_factory=list)
    template_text: Sequence[str] = ()  # the prompt's fixed wording, chunk by chunk
    trusted: str = ""  # other text that counts as evidence (a dataset question)

    def prose(self) -> str:
        """All generated text of the draft."""
        if self.stages:
            return " ".join(s.strip() for s in self.stages.values())
        return self.answer


# --- repetition ----------------------------------------------------------------------------

_SPLIT = re.compile(r"(?<=[.!?。！？])\s*")


def _sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SPLIT.split(text)) if s]


def _units(text: str) -> list[str]:
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
    units = _units(text)
    run = 1
    for prev, unit in itertools.pairwise(units):
        run = run + 1 if unit == prev else 1
        if run == 3 and not unit.isdigit():
            found.append(f'repetition: "{unit}" repeated 3 times in a row')
            break
    if cfg.ngram and not found:
        grams = Counter(tuple(units[i : i + cfg.ngram]) for i in range(len(units) - cfg.ngram + 1))
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
_DANGLING = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "or",
        "with",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "is",
        "are",
        "was",
        "were",
        "that",
        "which",
        "its",
        "their",
    ]
)


def truncation(text: str) -> list[str]:
    """Prose that stops mid-sentence.

    >>> truncation("The lesion lies in the right upper")
    ['truncation: stops mid-sentence ("the right upper")']
    >>> truncation("It is seen in the."), truncation("It is benign.")
    (['truncation: stops mid-sentence ("seen in the.")'], [])
    """
    stripped = text.strip()
    if not stripped:
        return []
    words = stripped.rstrip(".!?").split()
    tail = " ".join(stripped.split()[-3:])
    if not stripped.endswith(_ENDS):
        return [f'truncation: stops mid-sentence ("{tail[-40:]}")']
    if words and words[-1].lower() in _DANGLING:
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
        elif len(_units(text)) < 2:
            found.append(f'stages: {name} is too short ("{text.strip()[:30]}")')
    names = [n for n, t in parts.items() if t.strip()]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = set(_units(parts[first])), set(_units(parts[second]))
            if a and b and len(a & b) / len(a | b) >= overlap:
                found.append(f"stages: {second} repeats {first}")
    return found


# --- path use and key answers ---------------------------------------------------------------

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
        "be",
        "by",
        "for",
        "and",
        "or",
        "with",
        "its",
        "this",
        "that",
        "from",
        "as",
    ]
)


def _content(text: str) -> set[str]:
    if has_cjk(text):
        chars = [c for c in key_answer(text) if not c.isspace()]
        return {"".join(p) for p in itertools.pairwise(chars)} or set(chars)
    return {w for w in normalize(text).split() if w not in _STOP and len(w) > 2}


def uses(text: str, entity: str) -> bool:
    """``text`` names ``entity``, or most of its content words (long KG values such as
    "fever, cough and chest pain").

    >>> uses("It causes a cough and fever.", "Fever, cough, chest pain")
    True
    >>> uses("It is in the chest.", "Fever, cough, chest pain")
    False
    """
    if mentions(text, entity):
        return True
    words = _content(entity)
    if len(words) < 2:
        return False
    return len(words & _content(text)) * 2 >= len(words)


def path_unused(answer: str, entities: Sequence[str]) -> list[str]:
    """A multihop answer must use a fact of its path: name an entity past the first.

    >>> path_unused("It lies in the chest cavity.", ["Lung", "Chest"])
    []
    >>> path_unused("It is an organ.", ["Lung", "Chest"])
    ['path_unused: the answer uses no fact of its KG path (Lung, Chest)']
    """
    if len(entities) < 2 or any(uses(answer, e) for e in entities[1:]):
        return []
    return [f"path_unused: the answer uses no fact of its KG path ({', '.join(entities[:4])})"]


def key_answer_absent(key: str, parent: str) -> list[str]:
    """Every content word of a key answer occurs in the answer it condenses.

    >>> key_answer_absent("chest pain", "It mainly causes chest pains.")
    []
    >>> key_answer_absent("fever", "It causes chest pain.")
    ['key_answer_absent: "fever" is not in its answer']
    """
    if not key.strip() or not parent.strip():
        return []
    if has_cjk(key):
        ok = mentions(parent, key)
    else:
        words = [w for w in normalize(key).split() if w not in _STOP] or normalize(key).split()
        have = set(normalize(parent).split())
        ok = all(w in have for w in words)
    return [] if ok else [f'key_answer_absent: "{key}" is not in its answer']


# --- unsupported specifics ------------------------------------------------------------------

# a number standing alone or glued to a unit ("3.5 cm", "3cm", "25-year-old"), not digits
# inside a code or word ("t2", "39570c")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?=(?:cm|mm|ml|kg|mg|g|m|x|%)?(?!\w))")
_SIDES = {
    "left": ("left", "左"),
    "right": ("right", "右"),
    "bilateral": ("bilateral", "both sides", "双侧", "两侧"),
}
_PERSON = ("male", "female", "man", "woman", "boy", "girl", "elderly", "child", "infant")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def _sides(text: str) -> set[str]:
    return {side for side, words in _SIDES.items() if any(mentions(text, w) for w in words)}


def unsupported(text: str, evidence: str, facts: Facts) -> list[str]:
    """Numbers, ages, sides, patient details, organs and diseases in ``text`` that the evidence
    (the record's text, the KG facts given, trusted questions) does not support.

    >>> facts = Facts(kg_organs=("Lung", "Ear"), kg_diseases=("Lung Cancer",))
    >>> unsupported("A spiculated mass in the right ear.", "Mass in the right upper lobe.", facts)
    ['unsupported: organ "Ear" is not in the record or its KG facts']
    >>> unsupported("A 25-year-old male.", "A chest film.", facts)
    ['unsupported: number 25 is not in the record', 'unsupported: "male" is not in the record']
    """
    found = []
    numbers = _numbers(text) - _numbers(evidence)
    found += [f"unsupported: number {n} is not in the record" for n in sorted(numbers)]
    extra_sides = _sides(text) - _sides(evidence)
    found += [f'unsupported: side "{s}" is not in the record' for s in sorted(extra_sides)]
    found += [
        f'unsupported: "{w}" is not in the record'
        for w in _PERSON
        if mentions(text, w) and not mentions(evidence, w)
    ]
    for kind, names in (("organ", facts.kg_organs), ("disease", facts.kg_diseases)):
        for name in names:
            if mentions(text, name) and not _supported(name, evidence, facts):
                found.append(f'unsupported: {kind} "{name}" is not in the record or its KG facts')
                break
    return found


def _supported(name: str, evidence: str, facts: Facts) -> bool:
    """A name is supported by the evidence text, or by a longer name that contains it."""
    return bool(mentions(evidence, name) or facts.how(name) is not None)


def contradiction(text: str, facts: Facts) -> list[str]:
    """Text that negates a disease the record affirms, or affirms one it negates.

    >>> f = Facts(polarity={"Liver Cyst": "affirmed", "Pleural Effusion": "negated"})
    >>> contradiction("There is no liver cyst.", f)
    ['unsupported: says Liver Cyst is absent, but the record affirms it']
    >>> contradiction("A pleural effusion is seen.", f)
    ['unsupported: says Pleural Effusion is present, but the record negates it']
    >>> contradiction("No pleural effusion; a liver cyst.", f)
    []
    """
    stated = {n: h for n, h in facts.polarity.items() if h in ("affirmed", "negated")}
    for name, how in polarity(text, list(stated)).items():
        if stated[name] == "affirmed" and how == "negated":
            return [f"unsupported: says {name} is absent, but the record affirms it"]
        if stated[name] == "negated" and how == "affirmed":
            return [f"unsupported: says {name} is present, but the record negates it"]
    return []


# --- labels ---------------------------------------------------------------------------------

_YES = frozenset({"yes", "是", "有"})
_NO = frozenset({"no", "否", "无", "没有"})


def label(c: Candidate, facts: Facts) -> list[str]:
    """A label never contradicts what the record affirms or negates.

    >>> f = Facts(polarity={"Kidney Stone": "affirmed", "Pleural Effusion": "negated"})
    >>> label(Candidate("hardneg", label="no", subject="kidney stones"), f)
    ['label: "no" about Kidney Stone, which the record affirms']
    >>> label(Candidate("hardneg", label="no", subject="Pleural Effusion"), f)
    []
    >>> label(Candidate("reasoning", question="Is there pleural effusion?", label="Yes"), f)
    ['label: "yes" about Pleural Effusion, which the record negates']
    """
    answer = key_answer(c.label)
    if c.generator == "hardneg" and c.subject:
        how = facts.how(c.subject)
        if how in ("affirmed", "uncertain"):
            name = _known(c.subject, facts)
            return [f'label: "{answer}" about {name}, which the record {_verb(how)}']
        return []
    if answer in _YES or answer in _NO:
        for name, how in facts.polarity.items():
            if not mentions(c.question, name):
                continue
            if answer in _YES and how == "negated":
                return [f'label: "{answer}" about {name}, which the record negates']
            if answer in _NO and how == "affirmed":
                return [f'label: "{answer}" about {name}, which the record affirms']
        return []
    for name, how in facts.polarity.items():
        if how == "negated" and mentions(c.label, name):
            return [f'label: the answer "{c.label}" names {name}, which the record negates']
    return []


def _known(name: str, facts: Facts) -> str:
    key = normalize(name)
    return next((k for k in facts.polarity if normalize(k) == key), name)


def _verb(how: Polarity | None) -> str:
    return {"affirmed": "affirms", "uncertain": "leaves open", "negated": "negates"}.get(
        how or "", "names"
    )


# --- the gate -------------------------------------------------------------------------------


def inspect(c: Candidate, facts: Facts, cfg: ChecksConfig) -> list[str]:
    """Every reason to reject ``c`` (empty: it passes). Which detectors apply depends on the
    generator: fixed templates (hardneg) are only checked against the record."""
    found: list[str] = []
    if cfg.labels:
        found += label(c, facts)
    if c.generator == "hardneg":
        return found
    if c.generator == "keyanswer":
        if cfg.key_answer_in_parent:
            found += key_answer_absent(c.key_answer, c.parent_answer)
        if cfg.notation:
            found += notation(c.key_answer)
        return found
    prose = c.prose()
    generated = " ".join(
        [c.question if c.generator in ("multihop", "instruct") else "", prose]
    ).strip()
    found += repetition(prose, cfg)
    found += prompt_copy(generated, c.template_text, cfg.prompt_copy_words)
    if cfg.notation:
        parts = list(c.stages.values()) or [c.question, c.answer]
        found += next((notation(p) for p in parts if notation(p)), [])
    if cfg.truncation:
        # a stage may be a phrase ("the right upper lobe"); one of a few words is judged by
        # the stages detector instead
        parts = [t for t in c.stages.values() if len(t.split()) >= 4] or [c.answer]
        found += next((truncation(p) for p in parts if truncation(p)), [])
    if c.stages:
        found += stages(c.stages, cfg.stage_overlap)
    if c.generator == "multihop" and cfg.path_facts:
        found += path_unused(c.answer, c.path_entities)
    if cfg.unsupported:
        evidence = "\n".join(
            [facts.context, c.path_text, " ".join(c.path_entities), c.trusted, c.label]
        )
        found += unsupported(prose, evidence, facts)
        found += contradiction(prose, facts)
    return found


def detector_of(reason: str) -> str:
    """The detector a reason comes from ("" for reasons from elsewhere).

    >>> detector_of("repetition: a word loop"), detector_of("answer has 4 sentences, not 2-3")
    ('repetition', '')
    """
    head = reason.split(":", 1)[0].strip()
    return head if head in DETECTORS else ""
