"""``reasoning`` (MEDSAGE): structured trajectories <LOC> <VIS> <KNO> <CON> <ANS> per question.

Questions are the dataset's own (SLAKE / VQA-RAD training rows) or, for records without any,
generated ones with a key answer. Each question gets several regions (the annotated box, its
jittered, expanded and sub-region forms, then the whole image; or a text cue) times one or two
selections of the record's KG triples; every variant is one task.

A task is a chain of calls, each a step of its own for the runner (:class:`Later`):
localization from the region (label hidden), visual analysis (label hidden; the region's crop
goes with the full image to a model that reads images), knowledge guided by an interpretation
template for the kind of finding (it must not state the label), then the integrator's
conclusion, which sees the label; the verifier's check is the last step. The answer stage is
always the label. A trajectory that fails (the knowledge states the label, the gate, the
checker) is written again with a new seed from the task key (``reasoning_retries``) before it is
rejected with its reason.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.ground.extract import is_no_mention
from medsynth.prompts import render
from medsynth.synth import checks
from medsynth.synth.interpret import GUIDES, finding_type, hide_label, states_label
from medsynth.synth.model import Draft, Later, RecordContext, Task, task_seed
from medsynth.synth.quality import screen
from medsynth.synth.queries import kept_key_answers, triples_text
from medsynth.synth.roi import crop_file, rois_for
from medsynth.synth.runtime import Runtime

STAGES = ("localization", "visual_analysis", "knowledge", "conclusion")
TAGS = {"localization": "LOC", "visual_analysis": "VIS", "knowledge": "KNO", "conclusion": "CON"}
PROMPTS = {
    "localization": "synth_reasoning_loc",
    "visual_analysis": "synth_reasoning_vis",
    "knowledge": "synth_reasoning_kno",
    "conclusion": "synth_reasoning",
}
MAX_FACTS = 8
CONTEXT_MAX_CHARS = 1200
STAGE_MAX_TOKENS = 192
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "consistent": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["consistent", "reason"],
    "additionalProperties": False,
}
FACT_VIEWS = ("all", "focused")


def stage_schema(stage: str) -> dict[str, Any]:
    """The JSON schema of one stage's reply: ``{stage: text}``."""
    return {
        "type": "object",
        "properties": {stage: {"type": "string", "maxLength": 400}},
        "required": [stage],
        "additionalProperties": False,
    }


def knowledge(
    triples: list[tuple[int, str, str, str]], view: str, question: str
) -> tuple[str, list[str], list[int]]:
    """The facts the knowledge step reads: ``(intro, lines, triple ids used)``; ``view`` is
    ``all`` (the record's facts) or ``focused`` (those nearest the question).

    >>> t = [(1, "Lung", "belong to", "Chest"), (2, "Pneumonia", "symptom", "Cough")]
    >>> knowledge(t, "all", "")[1]
    ['The symptom of Pneumonia is Cough.', 'Lung belongs to Chest.']
    >>> knowledge(t, "focused", "Which organ is the lung?")[2]
    [1]
    """
    if view == "focused":
        words = set(checks.question_key(question).split())
        near = [t for t in triples if words & set(checks.question_key(f"{t[1]} {t[3]}").split())]
        chosen = (near or triples)[: MAX_FACTS // 2]
        intro = "Facts from the knowledge graph nearest the question:"
    else:
        chosen = triples[:MAX_FACTS]
        intro = "Facts from the knowledge graph:"
    chosen = sorted(chosen, key=lambda t: (t[2] == "belong to", t[1], t[0]))
    lines = [
        f"{h} belongs to {tail}." if r == "belong to" else f"The {r} of {h} is {tail}."
        for _, h, r, tail in chosen
    ]
    return intro, lines, [t[0] for t in chosen]


def trajectory(stages: dict[str, str], answer: str) -> str:
    """The tagged text a model is trained to produce.

    >>> trajectory(dict.fromkeys(STAGES, "x"), "yes").splitlines()[-1]
    '<ANS>yes</ANS>'
    """
    parts = [f"<{TAGS[s]}>{stages.get(s, '').strip()}</{TAGS[s]}>" for s in STAGES]
    return "\n".join([*parts, f"<ANS>{answer.strip()}</ANS>"])


def attempt_seed(task: Task, attempt: int, step: str) -> int:
    """The seed of one step of one attempt, fixed by the task key (re-runs reuse the log).

    >>> t = Task("reasoning", 1, "u", 0)
    >>> attempt_seed(t, 0, "loc") == attempt_seed(t, 0, "loc") != attempt_seed(t, 1, "loc")
    True
    """
    return task_seed(task.seed, f"{task.key}:{step}" + (f":retry{attempt}" if attempt else ""))


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
        rows = kept_key_answers(rt.db, ctx.id)
    return [
        {"question": q, "answer": a, "source": generator, "qid": None, "answer_type": None}
        for generator, q, a in rows
    ]


@dataclass
class Attempt:
    """One pass through the chain for a task: its number, the stages written so far, the crop
    sent with the image (if any) and why earlier attempts failed."""

    task: Task
    ctx: RecordContext
    number: int = 0
    stages: dict[str, str] = field(default_factory=dict)
    call_ids: list[int] = field(default_factory=list)
    crop: tuple[Path, str] | None = None
    failures: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # stage -> its prompt's version


class Reasoning:
    """Structured reasoning trajectories written stage by stage, with augmentation, an
    interpretation template per finding type, regeneration and a consistency check."""

    name = "reasoning"
    roles: tuple[str, ...] = ("vision_generator", "verifier")

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """Questions x regions x fact selections, one task each."""
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
                for view in FACT_VIEWS[: opts.reasoning_knowledge]:
                    intro, lines, ids = knowledge(triples, view, q["question"])
                    entities = list(
                        dict.fromkeys(n for t in triples if t[0] in ids for n in (t[1], t[3]))
                    )
                    kind = finding_type(q["question"], q["answer"], entities)
                    unit = f"q{qkey}-{roi.variant}{r}-{view}".replace(" ", "_")
                    payload = {
                        **q,
                        "roi": roi.as_dict(),
                        "facts_view": view,
                        "knowledge_template": kind,
                        "intro": intro,
                        "facts": lines,
                        "triple_ids": ids,
                        "entities": entities,
                    }
                    tasks.append(Task(self.name, ctx.id, unit, opts.seed, payload))
        return tasks

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft] | Later:
        """The first step: localization; the others follow as steps of their own."""
        return self.localize(Attempt(task, ctx), rt)

    def _call(self, att: Attempt, stage: str, rt: Runtime, **values: Any) -> str:
        """One stage's call; its text joins the attempt's stages."""
        role = "vision_generator"
        sees = rt.sees_images(role) and bool(att.ctx.images)
        crop = att.crop if sees and stage in ("localization", "visual_analysis") else None
        messages, template = render(
            PROMPTS[stage],
            question=att.task.payload["question"],
            with_image=sees,
            with_crop=crop is not None,
            n_images=len(att.ctx.images) + (crop is not None),
            **values,
        )
        result = rt.call(
            role,
            messages,
            template,
            seed=attempt_seed(att.task, att.number, stage),
            schema=stage_schema(stage),
            ctx=att.ctx if stage != "conclusion" else None,
            max_tokens=STAGE_MAX_TOKENS,
            extra_images=[crop] if crop else (),
        )
        att.call_ids += result.call_ids
        att.versions[stage] = template.version
        att.stages[stage] = str(result.parsed[stage]).strip()
        return att.stages[stage]

    def _hidden(self, att: Attempt, text: str) -> str:
        return hide_label(text, att.task.payload["answer"])

    def localize(self, att: Attempt, rt: Runtime) -> Later:
        """LOC: where to look, from the region (the label hidden, the crop sent along)."""
        p, ctx = att.task.payload, att.ctx
        box = p["roi"]["box"]
        if (
            box
            and rt.sees_images("vision_generator")
            and ctx.images
            and ctx.image_sha256
            and ctx.image_sha256[0]
        ):
            att.crop = crop_file(
                ctx.image_paths()[0], tuple(box), ctx.image_sha256[0], rt.ws.path("cache", "crops")
            )
        context = self._hidden(att, " ".join(ctx.context.split())[:CONTEXT_MAX_CHARS])
        self._call(
            att, "localization", rt, context=context, region=self._hidden(att, p["roi"]["words"])
        )
        return Later(lambda: self.look(att, rt, context))

    def look(self, att: Attempt, rt: Runtime, context: str) -> Later:
        """VIS: the whole image, then the region's evidence (the label hidden)."""
        loc = self._hidden(att, att.stages["localization"])
        self._call(att, "visual_analysis", rt, context=context, localization=loc)
        return Later(lambda: self.interpret(att, rt))

    def interpret(self, att: Attempt, rt: Runtime) -> list[Draft] | Later:
        """KNO: what the observations can mean, by the finding type's template; it must not
        state the label."""
        p = att.task.payload
        self._call(
            att,
            "knowledge",
            rt,
            guide=GUIDES[p["knowledge_template"]],
            localization=self._hidden(att, att.stages["localization"]),
            visual_analysis=self._hidden(att, att.stages["visual_analysis"]),
            knowledge_intro=p["intro"],
            facts=[self._hidden(att, f) for f in p["facts"]],
        )
        if states_label(att.stages["knowledge"], p["answer"]):
            return self.failed(att, rt, "knowledge states the label")
        return Later(lambda: self.conclude(att, rt))

    def conclude(self, att: Attempt, rt: Runtime) -> list[Draft] | Later:
        """The integrator's conclusion (it sees the label); the gate, then the checker."""
        p = att.task.payload
        self._call(
            att,
            "conclusion",
            rt,
            answer=p["answer"],
            localization=att.stages["localization"],
            visual_analysis=att.stages["visual_analysis"],
            knowledge=att.stages["knowledge"],
        )
        draft = self.draft(att, rt)
        draft.problems = [
            *checks.non_empty(**{s: att.stages[s] for s in STAGES}),
            *checks.contradicts_label(att.stages["conclusion"], p["answer"]),
        ]
        screen([draft], self.name, att.ctx, rt)  # the gate first: no verifier call for a reject
        if draft.problems:
            return self.failed(att, rt, "; ".join(draft.problems), draft)
        if rt.options.check_reasoning:
            return Later(lambda: self.check(att, draft, rt))
        return [draft]

    def draft(self, att: Attempt, rt: Runtime) -> Draft:
        """The sample as the attempt has it so far."""
        p = att.task.payload
        stages = {s: att.stages.get(s, "") for s in STAGES}
        draft = Draft(
            sample_type="reasoning",
            question=p["question"],
            answer=trajectory(stages, p["answer"]),
            key_answer=checks.key_answer(p["answer"]),
            ground_truth=p["answer"],
            path_triples=p["triple_ids"],
            path_entities=p["entities"],
            images=[str(path) for path in att.ctx.image_paths()],
            meta={
                "stages": stages,
                "roi": p["roi"],
                "crop": att.crop[1] if att.crop else None,
                "knowledge_template": p["knowledge_template"],
                "facts_view": p["facts_view"],
                "facts": p["facts"],
                "question_source": p["source"],
                "qid": p["qid"],
                "answer_type": p["answer_type"],
                "attempt": att.number,
                "seed": attempt_seed(att.task, att.number, "localization"),
                "earlier_failures": list(att.failures),
                "prompt_versions": {PROMPTS[s]: v for s, v in att.versions.items()},
            },
        )
        draft.template = PROMPTS["conclusion"]
        draft.template_version = att.versions.get("conclusion", "")
        draft.model = rt.model_name("vision_generator")
        draft.call_ids = list(att.call_ids)
        return draft

    def failed(
        self, att: Attempt, rt: Runtime, reason: str, draft: Draft | None = None
    ) -> list[Draft] | Later:
        """Write the trajectory again with a new seed, or reject it with its reason."""
        if att.number < rt.options.reasoning_retries:
            again = Attempt(att.task, att.ctx, att.number + 1, failures=[*att.failures, reason])
            again.call_ids = list(att.call_ids)
            return Later(lambda: self.localize(again, rt))
        draft = draft or self.draft(att, rt)
        if not draft.problems:
            draft.problems = [reason]
        return [draft]

    def check(self, att: Attempt, draft: Draft, rt: Runtime) -> list[Draft] | Later:
        """Have the verifier check that the stages lead to the answer (the last step)."""
        check_messages, check_template = render(
            "synth_reasoning_check",
            question=draft.question,
            answer=draft.ground_truth,
            stages=att.stages,
        )
        verdict = rt.call(
            "verifier",
            check_messages,
            check_template,
            seed=attempt_seed(att.task, att.number, "check"),
            schema=CHECK_SCHEMA,
            max_tokens=96,
            temperature=0.0,
        )
        draft.call_ids += verdict.call_ids
        att.call_ids += verdict.call_ids
        draft.meta["check"] = {
            "consistent": bool(verdict.parsed["consistent"]),
            "reason": str(verdict.parsed["reason"]),
            "template": f"{check_template.name}/{check_template.version}",
            "model": rt.model_name("verifier"),
        }
        if not verdict.parsed["consistent"]:
            reason = f"checker: inconsistent ({verdict.parsed['reason']})"
            draft.problems.append(reason)
            return self.failed(att, rt, reason, draft)
        return [draft]


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
