"""Every draft through the quality gate before it is stored: the glue between generators'
drafts and :mod:`medsynth.synth.gate` (which knows nothing of the database)."""

from __future__ import annotations

from medsynth.prompts import fixed_wording
from medsynth.synth.facts import facts_for
from medsynth.synth.gate import Candidate, inspect
from medsynth.synth.model import Draft, RecordContext
from medsynth.synth.runtime import Runtime


def candidate(draft: Draft, generator: str) -> Candidate:
    """The gate's view of a draft."""
    meta = draft.meta
    stages = meta.get("stages") if generator == "reasoning" else None
    # reasoning questions are the dataset's or our own kept samples' (fixed hard-negative
    # templates, kept multihop questions): naming what they ask about is supported
    trusted = draft.question if generator == "reasoning" else ""
    # a chained draft (reasoning) was written by several prompts: any of their wording counts
    names = dict.fromkeys([draft.template, *(meta.get("prompt_versions") or {})])
    template = tuple(c for n in names if n.startswith("synth_") for c in fixed_wording(n))
    return Candidate(
        generator=generator,
        question=draft.question,
        answer="" if stages else draft.answer,
        key_answer=draft.key_answer,
        parent_answer=draft.ground_truth if generator == "keyanswer" else "",
        label=draft.key_answer or (draft.ground_truth if generator == "reasoning" else ""),
        subject=str(meta.get("negative") or ""),
        stages=dict(stages or {}),
        path_text="\n".join([str(meta.get("path") or ""), *map(str, meta.get("facts") or [])]),
        path_entities=list(draft.path_entities),
        template_text=template,
        trusted=trusted,
    )


def screen(drafts: list[Draft], generator: str, ctx: RecordContext, rt: Runtime) -> list[Draft]:
    """Add the gate's reasons to each draft's problems (a draft with problems is stored
    rejected). Drafts already failing a generator check still get the gate's reasons, so the
    report counts every detector that fired."""
    facts, _ = facts_for(ctx, rt)
    for draft in drafts:
        for reason in inspect(candidate(draft, generator), facts, rt.options.checks):
            if reason not in draft.problems:
                draft.problems.append(reason)
    return drafts
