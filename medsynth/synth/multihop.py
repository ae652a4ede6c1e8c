"""``multihop`` (MedKInstruct): one QA pair per KG path of a record's grounded entities.

Short paths (organ -> belong to -> system) ask about what is visible; long paths (disease ->
attribute, disease -> location -> organ -> system) ask for knowledge. The vision generator sees
the image, the record's notes and the path; the question must start with What/Why/How and never
name the disease, the answer is 2-3 sentences grounded in the path.
"""

from __future__ import annotations

import random
from typing import Any

from medsynth.ground.extract import is_no_mention
from medsynth.prompts import render
from medsynth.synth import checks
from medsynth.synth.context import disease_names, record_paths
from medsynth.synth.model import Draft, RecordContext, Task, task_seed
from medsynth.synth.runtime import Runtime

CONTEXT_MAX_CHARS = 1500
QUESTION_PATTERN = r'^(What|Why|How) [^"?]{8,160}[?]$'
ANSWER_PATTERN = r'^[A-Z][^".!?]{12,220}[.]( [A-Z][^".!?]{12,220}[.]){1,2}$'  # 2-3 sentences
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # the template's form, enforced while decoding where the backend supports patterns
        # (llama.cpp grammars, vLLM); the checks below catch what other backends let through
        "question": {"type": "string", "pattern": QUESTION_PATTERN},
        "answer": {"type": "string", "pattern": ANSWER_PATTERN},
    },
    "required": ["question", "answer"],
    "additionalProperties": False,
}


def choose_paths(paths: list[Any], k: int, seed: int) -> list[Any]:
    """Up to ``k`` paths, drawn without replacement by ``seed`` and kept in their given order.

    >>> choose_paths(list("abcdef"), 3, 7) == choose_paths(list("abcdef"), 3, 7)
    True
    >>> choose_paths(list("ab"), 10, 0)
    ['a', 'b']
    """
    if len(paths) <= k:
        return list(paths)
    picked = sorted(random.Random(seed).sample(range(len(paths)), k))
    return [paths[i] for i in picked]


class Multihop:
    """Path-grounded QA pairs."""

    name = "multihop"
    roles: tuple[str, ...] = ("vision_generator",)

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """One task per chosen path (at most ``multihop_per_record``)."""
        seed = rt.options.seed
        with rt.lock:
            paths = record_paths(rt.db, ctx)
            avoid = disease_names(rt.db, [g.entity_id for g in ctx.groundings])
            avoid += disease_names(rt.db, sorted({t.head_id for p in paths for t in p.triples}))
        mention = ctx.mentions.get("disease", "")
        if not is_no_mention(mention):
            avoid.append(mention)
        avoid = list(dict.fromkeys(avoid))
        chosen = choose_paths(
            paths, rt.options.multihop_per_record, task_seed(seed, f"multihop:r{ctx.id}")
        )
        tasks = []
        for path in chosen:
            unit = "p" + "-".join(str(t.id) for t in path.triples)
            payload = {
                "kind": path.kind,
                "relation": path.relation,
                "text": path.text(),
                "triple_ids": [t.id for t in path.triples],
                "entities": path.entities,
                "avoid": avoid,
            }
            tasks.append(Task(self.name, ctx.id, unit, seed, payload))
        return tasks

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        """Ask for the QA pair and check it."""
        p = task.payload
        role = "vision_generator"
        messages, template = render(
            "synth_multihop",
            context=" ".join(ctx.context.split())[:CONTEXT_MAX_CHARS],
            path_text=p["text"],
            path_kind=p["kind"],
            avoid=p["avoid"],
            with_image=rt.sees_images(role),
        )
        result = rt.call(
            role, messages, template, seed=task_seed(task.seed, task.key), schema=SCHEMA, ctx=ctx
        )
        question = str(result.parsed["question"]).strip()
        answer = str(result.parsed["answer"]).strip()
        opts = rt.options
        draft = Draft(
            sample_type="qa",
            question=question,
            answer=answer,
            ground_truth=answer,
            path_triples=list(p["triple_ids"]),
            path_entities=list(p["entities"]),
            images=[str(path) for path in ctx.image_paths()],
            meta={"path_kind": p["kind"], "relation": p["relation"], "path": p["text"]},
        )
        draft.problems = [
            *checks.non_empty(question=question, answer=answer),
            *checks.question_form(question),
            *checks.names_absent(question, p["avoid"]),
            *checks.sentence_count(answer, opts.answer_min_sentences, opts.answer_max_sentences),
        ]
        return [rt.provenance(draft, role, template, result)]
