"""The gate itself: which detectors apply to a draft, in what order, with what settings."""

from __future__ import annotations

from medsynth.config import ChecksConfig
from medsynth.synth.gate.claims import (
    INSTRUCTION,
    contradiction,
    key_answer_absent,
    label,
    path_unused,
    unsupported,
)
from medsynth.synth.gate.form import notation, prompt_copy, repetition, stages, truncation, units
from medsynth.synth.gate.model import DETECTORS, Candidate, Facts

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
    # reasoning stages may name the same region one after another: loops are judged per stage,
    # a sentence said twice anywhere is still a repeat
    for part in list(c.stages.values()) or [prose]:
        found += [r for r in repetition(part, cfg) if r not in found]
    if c.stages and not any(r.startswith("repetition:") for r in found):
        sentence_only = cfg.model_copy(update={"ngram": 0, "min_compression": 0.0})
        found += [r for r in repetition(prose, sentence_only) if "a sentence occurs" in r]
    found += prompt_copy(generated, c.template_text, cfg.prompt_copy_words)
    if cfg.notation:
        parts = list(c.stages.values()) or [c.question, c.answer]
        found += next((notation(p) for p in parts if notation(p)), [])
    if cfg.truncation:
        # a stage may be a phrase ("the right upper lobe"); one of a few words is judged by
        # the stages detector instead
        parts = [t for t in c.stages.values() if len(units(t)) >= 4] or [c.answer]
        found += next((truncation(p) for p in parts if truncation(p)), [])
    if c.stages:
        found += stages(c.stages, cfg.stage_overlap)
    if c.generator == "multihop" and cfg.path_facts:
        found += path_unused(c.answer, c.path_entities)
    if cfg.unsupported:
        if c.stages and INSTRUCTION.match(c.stages.get("localization", "")):
            # "Look at the left upper quadrant" says where to look, not what is there
            prose = " ".join(t for k, t in c.stages.items() if k != "localization")
        evidence = "\n".join(
            [facts.context, c.path_text, " ".join(c.path_entities), c.trusted, c.label]
        )
        found += unsupported(prose, evidence, facts)
        # the knowledge stage states general facts ("an effusion blunts the angle"): what the
        # draft says of this image is in the other stages
        said = {k: v for k, v in c.stages.items() if k != "knowledge"}
        found += contradiction(" ".join(said.values()) if said else prose, facts)
    return found


def detector_of(reason: str) -> str:
    """The detector a reason comes from ("" for reasons from elsewhere).

    >>> detector_of("repetition: a word loop"), detector_of("answer has 4 sentences, not 2-3")
    ('repetition', '')
    """
    head = reason.split(":", 1)[0].strip()
    return head if head in DETECTORS else ""
