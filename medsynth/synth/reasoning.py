"""``reasoning`` (MEDSAGE): structured trajectories <LOC> <VIS> <KNO> <CON> <ANS> per question.

Questions are the dataset's own (SLAKE / VQA-RAD training rows) or, for records without any,
generated ones with a key answer. Each question gets several regions (annotated boxes as given,
jittered, expanded, a sub-region, the whole image; or a text cue) times several ways of putting
the record's KG triples (reasoning-path augmentation); every variant is one task. The answer
stage is always the label. The verifier role then rejects trajectories whose stages contradict
each other or the label; a lexical check catches a conclusion that opens with the opposite
yes/no.
"""

from __future__ import annotations

import random
import re
from typing import Any

from medsynth.ground.extract import is_no_mention
from medsynth.prompts import render
from medsynth.synth import checks
from medsynth.synth.context import triples_text
from medsynth.synth.model import Draft, Later, RecordContext, Task, task_seed
from medsynth.synth.quality import screen
from medsynth.synth.roi import rois_for
from medsynth.synth.runtime import Runtime

STAGES = ("localization", "visual_analysis", "knowledge", "conclusion")
TAGS = {"localization": "LOC", "visual_analysis": "VIS", "knowledge": "KNO", "conclusion": "CON"}
MAX_FACTS = 8
CONTEXT_MAX_CHARS = 1200
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {stage: {"type": "string", "maxLength": 300} for stage in STAGES},
    "required": list(STAGES),
    "additionalProperties": False,
}
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "consistent": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["consistent", "reason"],
    "additionalProperties": False,
}
KNOWLEDGE_TEMPLATES = ("facts", "sentences", "focused")


def knowledge(
    triples: list[tuple[int, str, str, str]], template: str, question: str
) -> tuple[str, list[str], list[int]]:
    """The facts put one of three ways: ``(intro, lines, triple ids used)``.

    >>> t = [(1, "Lung", "belong to", "Chest"), (2, "Pneumonia", "symptom", "Cough")]
    >>> knowledge(t, "sentences", "")[1]
    ['The symptom of Pneumonia is Cough.', 'Lung belongs to Chest.']
    >>> knowledge(t, "focused", "Which organ is the lung?")[2]
    [1]
    """
    if template == "focused":
        words = set(checks.question_key(question).split())
        near = [t for t in triples if words & set(checks.question_key(f"{t[1]} {t[3]}").split())]
        chosen = (near or triples)[: MAX_FACTS // 2]
        intro = "The facts most related to the question:"
    else:
        chosen = triples[:MAX_FACTS]
        intro = "Facts from the knowledge graph:"
    if template == "sentences":
        chosen = sorted(chosen, key=lambda t: (t[2] == "belong to", t[1], t[0]))
        lines = [
            f"{h} belongs to {tail}." if r == "belong to" else f"The {r} of {h} is {tail}."
            for _, h, r, tail in chosen
        ]
    else:
        lines = [f"{h} -[{r}]-> {tail}" for _, h, r, tail in chosen]
    return intro, lines, [t[0] for t in chosen]


def trajectory(stages: dict[str, str], answer: str) -> str:
    """The tagged text a model is trained to produce.

    >>> trajectory(dict.fromkeys(STAGES, "x"), "yes").splitlines()[-1]
    '<ANS>yes</ANS>'
    """
    parts = [f"<{TAGS[s]}>{stages[s].strip()}</{TAGS[s]}>" for s in STAGES]
    return "\n".join([*parts, f"<ANS>{answer.strip()}</ANS>"])


def questions_for(ctx: RecordContext, rt: Runtime) -> list[dict[str, Any]]:
    """The record's questions with labels: the dataset's own, else generated key answers,
    else hard negatives."""
    own = [
        {
            "question": str(q["question"]),
            "answer": str(q["answer"]),
            "source": "dataset",
            "qid": q.get("qid"),
            "answer_type": q.get("answer_type"),
        }
        for q in ctx.meta.get("qa") or []
        if str(q.get("question") or "").strip() and str(q.get("answer") or "").strip()
    ]
    if own:
        return own
    with rt.lock:
        rows = rt.db.execute(
            "SELECT generator, question, key_answer FROM samples WHERE record_id = ? AND "
            "status = 'kept' AND generator IN ('keyanswer', 'hardneg') AND key_answer != '' "
            "ORDER BY generator = 'hardneg', task_key, position",
            [ctx.id],
        ).fetchall()
    return [
        {"question": q, "answer": a, "source": generator, "qid": None, "answer_type": None}
        for generator, q, a in rows
    ]


class Reasoning:
    """Structured reasoning trajectories with augmentation and a consistency check."""

    name = "reasoning"
    roles: tuple[str, ...] = ("vision_generator", "verifier")

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """Questions x regions x knowledge templates, one task each."""
        opts = rt.options
        questions = questions_for(ctx, rt)
        rng = random.Random(task_seed(opts.seed, f"reasoning:r{ctx.id}"))
        if len(questions) > opts.reasoning_questions:
            picked = sorted(rng.sample(range(len(questions)), opts.reasoning_questions))
            questions = [questions[i] for i in picked]
        with rt.lock:
            triples = triples_text(rt.db, ctx.triple_ids)
        organ = ctx.entity("organ")
        cue = (
            organ.name.lower()
            if organ
            else ctx.mentions.get("organ", "")
            if not is_no_mention(ctx.mentions.get("organ"))
            else str(ctx.meta.get("location") or ctx.meta.get("image_organ") or "").lower()
        )
        tasks = []
        for q in questions:
            qkey = q["qid"] if q["qid"] is not None else checks.question_key(q["question"])[:40]
            qseed = task_seed(opts.seed, f"reasoning:r{ctx.id}:q{qkey}")
            rois = rois_for(ctx.meta, ctx.size, q["question"], cue, opts.reasoning_rois, qseed)
            for r, roi in enumerate(rois):
                for template in KNOWLEDGE_TEMPLATES[: opts.reasoning_knowledge]:
                    intro, lines, ids = knowledge(triples, template, q["question"])
                    unit = f"q{qkey}-{roi.variant}{r}-{template}".replace(" ", "_")
                    payload = {
                        **q,
                        "roi": roi.as_dict(),
                        "knowledge_template": template,
                        "intro": intro,
                        "facts": lines,
                        "triple_ids": ids,
                        "entities": list(
                            dict.fromkeys(n for t in triples if t[0] in ids for n in (t[1], t[3]))
                        ),
                    }
                    tasks.append(Task(self.name, ctx.id, unit, opts.seed, payload))
        return tasks

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft] | Later:
        """Generate the four stages; the verifier's check of them is the task's second step."""
        p = task.payload
        role = "vision_generator"
        seed = task_seed(task.seed, task.key)
        messages, template = render(
            "synth_reasoning",
            context=" ".join(ctx.context.split())[:CONTEXT_MAX_CHARS],
            question=p["question"],
            answer=p["answer"],
            region=p["roi"]["words"],
            knowledge_intro=p["intro"],
            facts=p["facts"],
            with_image=rt.sees_images(role),
        )
        result = rt.call(
            role, messages, template, seed=seed, schema=SCHEMA, ctx=ctx, max_tokens=512
        )
        stages = {s: str(result.parsed[s]).strip() for s in STAGES}
        draft = Draft(
            sample_type="reasoning",
            question=p["question"],
            answer=trajectory(stages, p["answer"]),
            key_answer=checks.key_answer(p["answer"]),
            ground_truth=p["answer"],
            path_triples=p["triple_ids"],
            path_entities=p["entities"],
            images=[str(path) for path in ctx.image_paths()],
            meta={
                "stages": stages,
                "roi": p["roi"],
                "knowledge_template": p["knowledge_template"],
                "facts": p["facts"],
                "question_source": p["source"],
                "qid": p["qid"],
                "answer_type": p["answer_type"],
            },
        )
        rt.provenance(draft, role, template, result)
        draft.problems = [
            *checks.non_empty(**stages),
            *checks.contradicts_label(stages["conclusion"], p["answer"]),
        ]
        screen([draft], self.name, ctx, rt)  # the gate first: no verifier call for a reject
        if rt.options.check_reasoning and not draft.problems:
            return Later(lambda: [self.check(draft, stages, seed, rt)])
        return [draft]

    def check(self, draft: Draft, stages: dict[str, str], seed: int, rt: Runtime) -> Draft:
        """Have the verifier check that the stages lead to the answer (a task's second step)."""
        check_messages, check_template = render(
            "synth_reasoning_check",
            question=draft.question,
            answer=draft.ground_truth,
            stages=stages,
        )
        verdict = rt.call(
            "verifier",
            check_messages,
            check_template,
            seed=seed,
            schema=CHECK_SCHEMA,
            max_tokens=96,
            temperature=0.0,
        )
        draft.call_ids += verdict.call_ids
        draft.meta["check"] = {
            "consistent": bool(verdict.parsed["consistent"]),
            "reason": str(verdict.parsed["reason"]),
            "template": f"{check_template.name}/{check_template.version}",
            "model": rt.model_name("verifier"),
        }
        if not verdict.parsed["consistent"]:
            draft.problems.append(f"checker: inconsistent ({verdict.parsed['reason']})")
        return draft


def stages_of(text: str) -> dict[str, str]:
    """The tagged parts of a trajectory, by tag.

    >>> stages_of("<LOC>liver</LOC><ANS>yes</ANS>")
    {'LOC': 'liver', 'ANS': 'yes'}
    """
    found = {}
    for tag in (*TAGS.values(), "ANS"):
        match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S)
        if match:
            found[tag] = match.group(1).strip()
    return found
