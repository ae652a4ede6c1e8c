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
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "maxLength": 700},
        "question": {"type": "string", "maxLength": 250},
        "answer": {"type": "string", "maxLength": 600},
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
        "a user",
        "a medical expert",
        "Ask and answer plainly.",
        "You are a medical imaging assistant. Answer questions about the image accurately.",
    ),
    Scenario(
        "doctor_doctor",
        "a physician asking a colleague for a second opinion",
        "the consulting radiologist",
        "Use professional clinical language between peers.",
        "You are a radiologist consulted by a fellow physician about this image.",
    ),
    Scenario(
        "senior_intern",
        "an intern presenting the case to a senior doctor",
        "the senior doctor, teaching as they answer",
        "The answer explains the reasoning so that the intern learns from it.",
        "You are a senior doctor supervising an intern who asks about this image.",
    ),
    Scenario(
        "intern_specialist",
        "a junior doctor unsure about a finding",
        "a specialist",
        "The answer is precise and points to the decisive visual signs.",
        "You are a specialist answering a junior doctor's question about this image.",
    ),
    Scenario(
        "teacher_student",
        "a medical student",
        "a teacher of radiology",
        "The answer is didactic and defines the terms it uses.",
        "You are a radiology teacher answering a student's question about this image.",
    ),
    Scenario(
        "doctor_family",
        "a worried family member of the patient",
        "the doctor",
        "The answer is kind, avoids jargon and explains what happens next.",
        "You are a doctor explaining this image to a patient's family member.",
    ),
    Scenario(
        "difficult_patient",
        "an anxious, sceptical patient",
        "a calm, patient doctor",
        "The answer stays calm, factual and reassuring without overpromising.",
        "You are a doctor answering a distressed patient's question about their image.",
    ),
    Scenario(
        "evaluator_ai",
        "an examiner testing an AI system's knowledge",
        "the AI system",
        "The question is exacting; the answer is complete and exact.",
        "You are an AI system being evaluated on medical image understanding.",
    ),
    Scenario(
        "ai_assists_doctor",
        "a doctor using an AI assistant during reporting",
        "the AI assistant",
        "The answer is concise and structured for a busy clinician.",
        "You are an AI assistant helping a doctor read this image.",
    ),
    Scenario(
        "ai_assists_patient",
        "a patient using an AI assistant to understand their scan",
        "the AI assistant",
        "The answer is in plain language and suggests talking to their doctor.",
        "You are an AI assistant helping a patient understand their medical image.",
    ),
)


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
    result = rt.call(role, messages, template, seed=seed, schema=SCHEMA, ctx=ctx, max_tokens=640)
    return result.parsed, template, result


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
            meta={"question_set": "multi" if len(ctx.images) > 1 else "single"},
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
            meta={"scenario": scenario.name, "scenario_detail": asdict(scenario)},
        )
        draft.problems = [
            *checks.non_empty(question=question, answer=answer),
            *([] if question.endswith("?") else ['question does not end with "?"']),
        ]
        return [rt.provenance(draft, "vision_generator", template, result)]
