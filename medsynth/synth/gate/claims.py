"""Detectors of content: path use, key answers, unsupported specifics, contradictions, labels.

They compare what a draft claims with what the record and its KG path say (:class:`Facts`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from medsynth.synth.gate.model import Candidate, Facts
from medsynth.synth.negation import Polarity, polarity
from medsynth.text import has_cjk, key_answer, mentions, normalize

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


_ITEMS = re.compile(r"\s*(?:[,;，、；]|\band\b|\bor\b|和|及)\s*")


def uses(text: str, entity: str) -> bool:
    """``text`` names ``entity``, or most of its content words (long KG values such as
    "fever, cough and chest pain").

    >>> uses("It causes a cough and fever.", "Fever, cough, chest pain")
    True
    >>> uses("It is in the chest.", "Fever, cough, chest pain")
    False
    >>> uses("Most patients need no treatment.", "most are congenital")
    False
    """
    if mentions(text, entity):
        return True
    items = [i for i in _ITEMS.split(entity) if i.strip()]
    if len(items) > 1:
        return any(uses(text, item) for item in items)
    words = _content(entity)
    if len(words) < 2:
        return False
    shared = len(words & _content(text))
    return shared >= 2 and shared * 2 >= len(words)


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
        ok = mentions(parent, key) or any(
            _close_together(words, normalize(part).split())
            for part in re.split(r"[.;:,!?]", parent)
        )
    return [] if ok else [f'key_answer_absent: "{key}" is not in its answer']


def _close_together(words: list[str], tokens: list[str]) -> bool:
    """All ``words`` occur within a span of ``len(words) + 2`` tokens ("pain in the chest"
    condenses to "chest pain"; "left kidney ... right side" is not "right kidney")."""
    width = len(words) + 2
    for start in range(len(tokens)):
        window = set(tokens[start : start + width])
        if all(w in window for w in words):
            return True
    return False


# --- unsupported specifics ------------------------------------------------------------------

# a number standing alone or glued to a unit ("3.5 cm", "3cm", "25-year-old"), not digits
# inside a code or word ("t2", "39570c")
_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])\d+(?:[.,]\d+)?(?=(?:cm|mm|ml|kg|mg|g|m|x|%)?(?![A-Za-z0-9_]))"
)
_SIZE = re.compile(r"(?<![A-Za-z0-9_.])(\d+(?:[.,]\d+)?)\s*(cm|mm|ml|kg|mg|g)(?![A-Za-z])")
# "right" that is not a side: "the right answer", "right away"; 左右 after a size is "about"
_NOT_SIDE = re.compile(
    r"\bright\s+(?:answer|away|now|choice|option|time|way|term|one|thing|diagnosis)\b|左右",
    re.IGNORECASE,
)
# words of one meaning: an organ's adjective names the organ; sex words name the sex
_SAME = {
    "liver": ("hepatic", "肝"),
    "kidney": ("renal", "nephric", "肾"),
    "lung": ("pulmonary", "upper lobe", "lower lobe", "middle lobe", "lingula", "肺"),
    "heart": ("cardiac", "心"),
    "brain": ("cerebral", "脑"),
    "spleen": ("splenic", "脾"),
    "stomach": ("gastric", "胃"),
    "colon": ("colonic",),
    "bone": ("osseous", "骨"),
    "chest": ("thoracic", "thorax", "胸"),
    "abdomen": ("abdominal", "腹"),
    "female": ("woman", "women", "girl", "lady", "she", "her", "女"),
    "male": ("man", "men", "boy", "he", "his", "男"),
}
_SIDES = {
    "left": ("left", "左"),
    "right": ("right", "右"),
    "bilateral": ("bilateral", "both sides", "双侧", "两侧"),
}
_PERSON = (
    "male",
    "female",
    "man",
    "woman",
    "boy",
    "girl",
    "elderly",
    "child",
    "infant",
    "男性",
    "女性",
    "老年",
    "儿童",
)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


def _sides(text: str) -> set[str]:
    text = _NOT_SIDE.sub(" ", text)
    return {side for side, words in _SIDES.items() if any(mentions(text, w) for w in words)}


def _expand(evidence: str) -> str:
    """The evidence with the plain word for each adjective or synonym it uses."""
    extra = [word for word, others in _SAME.items() if any(mentions(evidence, o) for o in others)]
    return evidence + "\n" + " ".join(extra)


def _sizes(text: str) -> set[tuple[str, str]]:
    return {(n.replace(",", "."), u.lower()) for n, u in _SIZE.findall(text)}


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
    evidence = _expand(evidence)
    numbers = _numbers(text) - _numbers(evidence)
    found += [f"unsupported: number {n} is not in the record" for n in sorted(numbers)]
    for number, unit in sorted(_sizes(text) - _sizes(evidence)):
        if number not in numbers and any(n == number for n, _ in _sizes(evidence)):
            found.append(f"unsupported: size {number} {unit} is not in the record")
    extra_sides = _sides(text) - _sides(evidence)
    found += [f'unsupported: side "{s}" is not in the record' for s in sorted(extra_sides)]
    found += [
        f'unsupported: "{w}" is not in the record'
        for w in _PERSON
        if mentions(text, w) and not mentions(evidence, w) and not _synonym_in(w, evidence)
    ]
    for kind, names in (("organ", facts.kg_organs), ("disease", facts.kg_diseases)):
        for name in names:
            if mentions(text, name) and not _supported(name, evidence, facts):
                found.append(f'unsupported: {kind} "{name}" is not in the record or its KG facts')
                break
    return found


def _synonym_in(word: str, evidence: str) -> bool:
    """``evidence`` names ``word`` in other words (woman = female)."""
    for plain, others in _SAME.items():
        group = (plain, *others)
        if word in group and any(mentions(evidence, w) for w in group):
            return True
    return False


def _supported(name: str, evidence: str, facts: Facts) -> bool:
    """A name is supported by the evidence: named there (in any word order: "clavicle fracture"
    = "fracture of the clavicle"; a Chinese organ without its 脏 suffix: 肝 = 肝脏), or known to
    the record's facts."""
    if mentions(evidence, name) or facts.how(name) is not None:
        return True
    key = normalize(name)
    if has_cjk(key):
        return key.endswith("脏") and len(key) > 1 and mentions(evidence, key[:-1])
    words = [w for w in key.split() if w not in _STOP]
    have = set(normalize(evidence).split())
    return bool(words) and all(w in have for w in words)


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


INSTRUCTION = re.compile(
    r"\s*(?:look|compare|examine|observe|check|inspect|start|begin|focus|观察|比较|对比|注意|查看)",
    re.IGNORECASE,
)


# --- labels ---------------------------------------------------------------------------------

_YES = frozenset({"yes", "是", "是的", "有", "包含", "存在"})
_NO = frozenset({"no", "否", "无", "没有", "不是", "不包含", "不存在"})
# words of a question that asks whether a finding is there at all (not where, which side...)
_PRESENCE = frozenset(
    normalize(w)
    for w in [
        "is",
        "are",
        "was",
        "were",
        "there",
        "does",
        "do",
        "did",
        "this",
        "image",
        "picture",
        "scan",
        "film",
        "show",
        "shows",
        "contain",
        "contains",
        "include",
        "includes",
        "any",
        "sign",
        "signs",
        "of",
        "evidence",
        "have",
        "has",
        "patient",
        "see",
        "seen",
        "visible",
        "appear",
        "appears",
        "present",
        "in",
        "the",
        "a",
        "an",
        "can",
        "be",
        "suffer",
        "suffering",
        "from",
        "it",
    ]
)
_ZH_PRESENCE = "图中图片这张病人患者是否包含存在显示有没有吗可见出现能看到"


def presence_question(question: str, name: str) -> bool:
    """Whether ``question`` asks if ``name`` is there (so "yes"/"no" is about the finding).

    >>> presence_question("Does the picture contain pneumonia?", "Pneumonia")
    True
    >>> presence_question("Is the pneumonia in the left lung?", "Pneumonia")
    False
    >>> presence_question("图中病人是否有肺炎？", "肺炎")
    True
    """
    if not mentions(question, name):
        return False
    if has_cjk(question):
        chars = normalize(question).replace(" ", "").replace(normalize(name).replace(" ", ""), "")
        return all(c in _ZH_PRESENCE for c in chars)
    words = f" {normalize(question)} ".replace(f" {normalize(name)} ", " ").split()
    return all(w in _PRESENCE for w in words)


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
            if not presence_question(c.question, name):
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
