"""``describe`` and ``instruct`` (PubMedVision): "unblinded" reformatting of image + text.

One vision-generator call per record returns ``{description, question, answer}``. ``describe``
pairs the description with a question drawn from fixed paraphrases of "describe this image"
(a multi-image set for records with several images): alignment VQA. ``instruct`` keeps the
generated question and answer under one of ten role-play scenarios: instruction VQA. Scenarios
are dealt evenly: every block of ten consecutive records of a dataset gets each scenario once,
in a seeded order. Both generators make the same seeded call, so the second is read from the
call log.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from medsynth.prompts import render
from medsynth.synth import checks
from medsynth.synth.model import Draft, RecordContext, Task, task_seed
from medsynth.synth.runtime import Runtime

CONTEXT_MAX_CHARS = 2000
# PubMedVision's published answers run to 717-1,132 characters: the caps leave room above that
DESCRIPTION_MAX_CHARS = 1600
QUESTION_MAX_CHARS = 400
ANSWER_MAX_CHARS = 1600
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "maxLength": DESCRIPTION_MAX_CHARS},
        "question": {"type": "string", "maxLength": QUESTION_MAX_CHARS},
        "answer": {"type": "string", "maxLength": ANSWER_MAX_CHARS},
    },
    "required": ["description", "question", "answer"],
    "additionalProperties": False,
}
ALIGN_SINGLE = (
    "Please describe this image.",
    "Describe what you see in this medical image.",
    "Can you give a detailed description of this image?",
    "What does this image show? Please describe it in detail.",
    "Walk me through the findings in this image.",
    "Provide a thorough description of the image.",
    "Give a radiological description of this image.",
    "Explain what is depicted in this image.",
    "Summarise the visual content of this image.",
    "Describe the anatomy and any abnormalities visible here.",
)
ALIGN_MULTI = (
    "Please describe these images.",
    "Describe what you see in these medical images.",
    "Give a detailed description of each of these images.",
    "What do these images show? Describe them in detail.",
    "Compare and describe the images provided.",
)
ALIGN_TEMPLATE = ("pubmedvision_alignment_questions", "1")


@dataclass(frozen=True)
class Scenario:
    """A role-play setting of instruction VQA."""

    name: str
    asker: str
    answerer: str
    style: str
    system: str


SCENARIOS = (
    Scenario(
        "standard_qa",
        "someone checking how well a model understands the image, asking simply",
        "a medical imaging expert",
        "The question is short and conversational. The answer is professional and detailed: "
        "it reports what the image shows and analyses it, with as much useful detail as the "
        "image and the text support.",
        "You are a medical imaging expert. Answer questions about the image in professional, "
        "detailed terms.",
    ),
    Scenario(
        "doctor_doctor",
        "a doctor discussing the image with a colleague",
        "the colleague, also a doctor",
        "Both speak as clinicians. The answer is detailed and rich in findings from the image.",
        "You are a doctor discussing this image with a colleague.",
    ),
    Scenario(
        "senior_intern",
        "a senior doctor testing an intern's observation and analysis of the image",
        "the intern, saying what they see and what they make of it",
        "The question probes whether the intern notices and interprets the key findings; the "
        "answer walks through the intern's observations and reasoning.",
        "You are an intern answering your senior doctor's question about this image.",
    ),
    Scenario(
        "intern_specialist",
        "an intern",
        "a specialist doctor",
        "The answer gives a detailed analysis with rich, useful information from the image.",
        "You are a specialist doctor answering an intern's question about this image.",
    ),
    Scenario(
        "teacher_student",
        "a medical teacher asking the student to analyse the image and suggest possible diagnoses",
        "the student, explaining the observations and the reasoning behind the diagnoses",
        "The question sets a task; the answer shows the student's observations, then the "
        "reasoning that leads to the possible diagnoses.",
        "You are a medical student answering your teacher's question about this image.",
    ),
    Scenario(
        "doctor_family",
        "a family member of the patient asking about the cause, severity or treatment",
        "the doctor",
        "The answer explains the findings in everyday words, patiently, until the family "
        "member understands the condition.",
        "You are a doctor explaining this image to a patient's family member.",
    ),
    Scenario(
        "difficult_patient",
        "a patient who doubts the diagnosis and asks a pointed question",
        "the doctor",
        "The answer uses the image patiently to explain the condition in plain words and to "
        "address the doubt, so that the patient can trust the explanation.",
        "You are a doctor answering a sceptical patient's question about their image.",
    ),
    Scenario(
        "evaluator_ai",
        "a member of a quality-control team probing an AI model's vision with a question "
        "about a subtle detail of the image",
        "the AI model",
        "The question targets a fine detail that is easy to miss; the answer describes it "
        "precisely.",
        "You are an AI model whose reading of medical images is being assessed.",
    ),
    Scenario(
        "ai_assists_doctor",
        "a doctor asking an AI model about specific structures, abnormalities and their "
        "possible clinical significance",
        "the AI model",
        "The answer is a detailed analysis that helps the doctor decide; it does not give a "
        "final diagnosis.",
        "You are an AI model helping a doctor analyse this image; the diagnosis is the doctor's.",
    ),
    Scenario(
        "ai_assists_patient",
        "a patient curious or confused about a structure or mark on their image",
        "the AI model",
        "The answer explains details such as density, shape or an abnormal area in simple words "
        "and says that the final reading belongs to their doctor.",
        "You are an AI model helping a patient understand their medical image.",
    ),
)
"""PubMedVision's ten role-play settings (its Appendix D), in our own words: who asks, who
answers, and how; the paper's order of asker and answerer is kept (the senior doctor and the
teacher ask, the intern and the student answer)."""


def scenario_for(position: int, dataset_id: int, seed: int) -> Scenario:
    """The scenario of the record at ``position`` among its dataset's kept records: each block
    of ten positions holds every scenario once, in a seeded order.

    >>> names = {scenario_for(i, 1, 0).name for i in range(10, 20)}
    >>> len(names)
    10
    """
    block, slot = divmod(position, len(SCENARIOS))
    order = list(range(len(SCENARIOS)))
    random.Random(task_seed(seed, f"scenarios:d{dataset_id}:b{block}")).shuffle(order)
    return SCENARIOS[order[slot]]


def pubmedvision_call(ctx: RecordContext, rt: Runtime) -> tuple[dict[str, Any], Any, Any]:
    """The record's one ``{description, question, answer}`` call (shared by both generators)."""
    role = "vision_generator"
    scenario = scenario_for(ctx.position, ctx.dataset_id, rt.options.seed)
    messages, template = render(
        "synth_pubmedvision",
        context=" ".join(ctx.context.split())[:CONTEXT_MAX_CHARS],
        scenario=scenario,
        n_images=max(1, len(ctx.images)),
        with_image=rt.sees_images(role),
    )
    seed = task_seed(rt.options.seed, f"pubmedvision:r{ctx.id}")
    result = rt.call(
        role,
        messages,
        template,
        seed=seed,
        schema=SCHEMA,
        ctx=ctx,
        max_tokens=rt.options.reformat_max_tokens,
    )
    return result.parsed, template, result


def blinded(rt: Runtime) -> dict[str, Any]:
    """``{"blinded": True}`` for the meta of a sample the model wrote without seeing the image
    (allowed with ``--allow-blind``), else nothing."""
    return {} if rt.sees_images("vision_generator") else {"blinded": True}


class Describe:
    """Alignment VQA: a "describe this image" question and the description."""

    name = "describe"
    roles: tuple[str, ...] = ("vision_generator",)

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """One task per record with an image."""
        return [Task(self.name, ctx.id, "pmv", rt.options.seed)] if ctx.images else []

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        """Pair a paraphrase of "describe this image" with the description."""
        parsed, template, result = pubmedvision_call(ctx, rt)
        pool = ALIGN_MULTI if len(ctx.images) > 1 else ALIGN_SINGLE
        question = random.Random(task_seed(task.seed, task.key)).choice(pool)
        description = str(parsed["description"]).strip()
        draft = Draft(
            sample_type="alignment",
            question=question,
            answer=description,
            ground_truth=description,
            images=[str(p) for p in ctx.image_paths()],
            meta={"question_set": "multi" if len(ctx.images) > 1 else "single", **blinded(rt)},
        )
        draft.problems = checks.word_count(description, rt.options.description_words)
        rt.provenance(draft, "vision_generator", template, result)
        draft.meta["question_template"] = "/".join(ALIGN_TEMPLATE)
        return [draft]


class Instruct:
    """Instruction VQA under a role-play scenario."""

    name = "instruct"
    roles: tuple[str, ...] = ("vision_generator",)

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """One task per record with an image."""
        return [Task(self.name, ctx.id, "pmv", rt.options.seed)] if ctx.images else []

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        """Keep the generated question and answer with the record's scenario."""
        parsed, template, result = pubmedvision_call(ctx, rt)
        scenario = scenario_for(ctx.position, ctx.dataset_id, rt.options.seed)
        question = str(parsed["question"]).strip()
        answer = str(parsed["answer"]).strip()
        draft = Draft(
            sample_type="instruction",
            question=question,
            answer=answer,
            ground_truth=answer,
            images=[str(p) for p in ctx.image_paths()],
            system=scenario.system,
            meta={
                "scenario": scenario.name,
                "scenario_detail": asdict(scenario),
                **blinded(rt),
            },
        )
        draft.problems = [
            *checks.non_empty(question=question, answer=answer),
            *([] if question.endswith("?") else ['question does not end with "?"']),
        ]
        return [rt.provenance(draft, "vision_generator", template, result)]
