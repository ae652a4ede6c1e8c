"""What a record says about diseases, gathered once per record for the quality gate and for
hard negatives: affirmed, negated or left open, from four sources.

1. The diseases grounding matched, and the disease the extractor named (affirmed).
2. Every KG disease whose name or alias occurs in the caption / context, with the polarity the
   negation rules give it (:mod:`medsynth.synth.negation`), English and Chinese.
3. The record's own dataset questions (SLAKE / VQA-RAD rows): an answer that is a KG disease
   affirms it; "yes" / "no" to a question naming a disease affirms / negates it.
4. Affirmed beats open beats negated when sources disagree: a label may only say "no" about a
   disease that nothing in the record affirms or leaves open.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from medsynth.ground.extract import is_no_mention
from medsynth.kg.lookup import ExactMatcher
from medsynth.synth.gate import Facts
from medsynth.synth.model import RecordContext
from medsynth.synth.negation import Polarity, polarity
from medsynth.synth.queries import disease_and_organ_names
from medsynth.synth.runtime import Runtime
from medsynth.text import key_answer, mentions, normalize

_RANK = {"affirmed": 3, "uncertain": 2, "negated": 1}
_YES = frozenset({"yes", "是", "有"})
_NO = frozenset({"no", "否", "无", "没有", "不是"})


@dataclass(frozen=True)
class Vocabulary:
    """The KG's disease and organ names (aliases included), for spotting them in text."""

    disease_ids: dict[str, int]  # name or alias -> entity id
    organs: tuple[str, ...]
    names: dict[int, str]  # disease entity id -> its name

    @property
    def diseases(self) -> tuple[str, ...]:
        """Every disease name and alias."""
        return tuple(self.disease_ids)


def vocabulary(db: sqlite_utils.Database) -> Vocabulary:
    """Read the KG's disease and organ names once per run."""
    disease_ids: dict[str, int] = {}
    names: dict[int, str] = {}
    organs: list[str] = []
    for entity_id, kind, name, alias in disease_and_organ_names(db):
        for text in (name, alias):
            key = normalize(text or "")
            if not key or (key.isascii() and len(key) < 3):
                continue
            if kind == "disease":
                disease_ids.setdefault(text, entity_id)
                names.setdefault(entity_id, name)
            elif text not in organs:
                organs.append(text)
    return Vocabulary(disease_ids, tuple(organs), names)


def _merge(into: dict[str, Polarity], name: str, how: Polarity) -> None:
    if _RANK[how] > _RANK.get(into.get(name, ""), 0):
        into[name] = how


def dataset_answers(ctx: RecordContext, vocab: Vocabulary) -> dict[str, Polarity]:
    """What the record's own QA rows say about KG diseases."""
    found: dict[str, Polarity] = {}
    for row in ctx.meta.get("qa") or []:
        question, answer = str(row.get("question") or ""), str(row.get("answer") or "")
        said = key_answer(answer)
        for name in vocab.diseases:
            if said not in _YES and said not in _NO and mentions(answer, name):
                _merge(found, name, "affirmed")
            elif mentions(question, name) and (said in _YES or said in _NO):
                _merge(found, name, "affirmed" if said in _YES else "negated")
    return found


def record_facts(
    ctx: RecordContext, vocab: Vocabulary, mention_id: int | None = None
) -> tuple[Facts, set[int]]:
    """The record's evidence for the gate, and the disease ids a hard negative must avoid
    (everything affirmed or left open). ``mention_id``: the disease entity the extractor's
    mention names exactly, if any."""
    by_name: dict[str, Polarity] = {}
    for grounding in ctx.groundings:
        if grounding.kind == "disease":
            _merge(by_name, grounding.name, "affirmed")
    if mention_id is not None and mention_id in vocab.names:
        _merge(by_name, vocab.names[mention_id], "affirmed")
    text = ctx.context if not ctx.derived else _free_text(ctx)
    for name, how in polarity(text, vocab.diseases).items():
        _merge(by_name, name, how)
    for name, how in dataset_answers(ctx, vocab).items():
        _merge(by_name, name, how)
    avoid: set[int] = {g.entity_id for g in ctx.groundings if g.kind == "disease"}
    if mention_id is not None:
        avoid.add(mention_id)
    for name, how in by_name.items():
        if how != "negated" and name in vocab.disease_ids:
            avoid.add(vocab.disease_ids[name])
    # a name and its aliases share one polarity: the strongest any of them has
    by_entity: dict[int, Polarity] = {}
    for name, how in by_name.items():
        entity_id = vocab.disease_ids.get(name)
        if entity_id is not None and _RANK[how] > _RANK.get(by_entity.get(entity_id, ""), 0):
            by_entity[entity_id] = how
    for name, entity_id in vocab.disease_ids.items():
        if entity_id in by_entity:
            by_name[name] = by_entity[entity_id]
    facts = Facts(
        context=ctx.context,
        polarity=by_name,
        kg_diseases=vocab.diseases,
        kg_organs=vocab.organs,
    )
    return facts, avoid


def facts_for(ctx: RecordContext, rt: Runtime) -> tuple[Facts, set[int]]:
    """:func:`record_facts` of ``ctx``, computed once per run and record (any thread)."""
    with rt.lock:
        cache: dict[int, tuple[Facts, set[int]]] = rt.state.setdefault("record_facts", {})
        if ctx.id in cache:
            return cache[ctx.id]
        if "vocabulary" not in rt.state:
            rt.state["vocabulary"] = vocabulary(rt.db)
            rt.state["exact_matcher"] = ExactMatcher(rt.db)
        vocab: Vocabulary = rt.state["vocabulary"]
        matcher: ExactMatcher = rt.state["exact_matcher"]
    mention = ctx.mentions.get("disease", "")
    ref = None if is_no_mention(mention) else matcher.match(mention, "disease")
    found = record_facts(ctx, vocab, ref.id if ref is not None else None)
    with rt.lock:
        cache[ctx.id] = found
    return found


def _free_text(ctx: RecordContext) -> str:
    """A derived context without the dataset's question-answer sentences (read with their
    answers by :func:`dataset_answers`: a bare question names a disease without asserting it)."""
    text = ctx.context
    for row in ctx.meta.get("qa") or []:
        question = str(row.get("question") or "").strip()
        answer = str(row.get("answer") or "").strip().rstrip(".")
        text = text.replace(f"Q: {question} A: {answer}.", " ")
    return text
