"""``keyanswer`` (MedKInstruct RL data): each kept multihop answer condensed to a key answer.

The RL sample is {image, question, key answer, path entities}: the path's entity names are
carried over from the multihop sample; the full answer stays as ``ground_truth``.
"""

from __future__ import annotations

import json
from typing import Any

from medsynth.prompts import render
from medsynth.synth import checks
from medsynth.synth.model import Draft, RecordContext, Task, task_seed
from medsynth.synth.queries import kept_multihop_samples
from medsynth.synth.runtime import Runtime

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key_answer": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9 -]{0,48}$"}
    },
    "required": ["key_answer"],
    "additionalProperties": False,
}


class KeyAnswers:
    """Key answers for RL, one per kept multihop sample."""

    name = "keyanswer"
    roles: tuple[str, ...] = ("generator",)

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """One task per kept multihop sample of the record (run after ``multihop``)."""
        with rt.lock:
            rows = kept_multihop_samples(rt.db, ctx.id)
        tasks = []
        for task_key, position, question, answer, triples, entities, images in rows:
            payload = {
                "parent": f"{task_key}#{position}",
                "question": question,
                "answer": answer,
                "path_triples": json.loads(triples or "[]"),
                "path_entities": json.loads(entities or "[]"),
                "images": json.loads(images or "[]"),
            }
            unit = "of-" + payload["parent"].replace(":", "_")
            tasks.append(Task(self.name, ctx.id, unit, rt.options.seed, payload))
        return tasks

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        """Condense the answer; check it is a few words."""
        p = task.payload
        role = "generator"
        messages, template = render("synth_keyanswer", question=p["question"], answer=p["answer"])
        result = rt.call(
            role,
            messages,
            template,
            seed=task_seed(task.seed, task.key),
            schema=SCHEMA,
            max_tokens=48,
        )
        raw = str(result.parsed["key_answer"])
        draft = Draft(
            sample_type="rl",
            question=p["question"],
            answer=checks.key_answer(raw),
            key_answer=checks.key_answer(raw),
            ground_truth=p["answer"],
            path_triples=p["path_triples"],
            path_entities=p["path_entities"],
            images=p["images"],
            meta={"parent": p["parent"], "raw_key_answer": raw},
        )
        draft.problems = checks.key_answer_words(raw, rt.options.key_answer_words)
        return [rt.provenance(draft, role, template, result)]
