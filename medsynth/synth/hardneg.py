"""``hardneg`` (MedKInstruct): "Does {disease} appear in this image?" -> "No." for the KG diseases
whose images look most like this record's image, never a disease the record affirms or leaves
open (grounded, extracted, named in its caption without a negation, or a dataset answer).

No model call: the negatives come from the entity-image index (the image encoder of
``[models.image_encoder]``), the questions from fixed templates, and each sample carries the
negative disease's KG path. ``negatives_mode = "random"`` draws diseases at random instead (the
paper's ablation, which gave no gain).
"""

from __future__ import annotations

import random
from typing import Any

from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.paths import KGPath, paths_for
from medsynth.synth.facts import facts_for
from medsynth.synth.model import Draft, RecordContext, Task, task_seed
from medsynth.synth.runtime import Runtime

TEMPLATES = (
    "Does {disease} appear in this image?",
    "Is there any sign of {disease} in this image?",
    "Can {disease} be seen in this image?",
    "Does this image show {disease}?",
)
ANSWER = "No."
TEMPLATE_NAME, TEMPLATE_VERSION = "hardneg_templates", "1"


def negative_path(paths: list[KGPath]) -> KGPath | None:
    """The path attached to a negative: its location chain if it has one, else its first."""
    for path in paths:
        if path.relation == "location":
            return path
    return paths[0] if paths else None


class HardNegatives:
    """Negative questions about look-alike diseases."""

    name = "hardneg"
    roles: tuple[str, ...] = ()

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        """One task per record (its m negatives are found together)."""
        opts = rt.options
        if opts.negatives == 0 or not ctx.images:
            return []
        unit = f"m{opts.negatives}-{opts.negatives_mode}"
        return [Task(self.name, ctx.id, unit, opts.seed)]

    def excluded(self, ctx: RecordContext, rt: Runtime) -> set[int]:
        """Every disease the record affirms or leaves open: grounded, named by the extractor,
        named in the caption without a negation, or the answer of one of its own dataset
        questions (see :mod:`medsynth.synth.facts`). A disease the record negates stays
        allowed: "No" is right about it."""
        return facts_for(ctx, rt)[1]

    def _setup(self, rt: Runtime) -> None:
        with rt.lock:
            if "hardneg_matcher" in rt.state:
                return
            rt.state["hardneg_matcher"] = matcher = ExactMatcher(rt.db)
            rt.state["hardneg_diseases"] = sorted(
                e.id for e in matcher.entities.values() if e.type == "disease"
            )
            if rt.options.negatives_mode == "similar":
                from medsynth.backends.encoders import image_encoder
                from medsynth.ground.fuzzy import LoadedIndex

                index = LoadedIndex(rt.ws, "entity_image", matcher.entities, 200)
                rt.state["hardneg_index"] = index
                rt.state["hardneg_encoder"] = image_encoder(rt.ws.config.models.image_encoder)

    def candidates(self, ctx: RecordContext, rt: Runtime, seed: int) -> list[tuple[int, float]]:
        """``(entity id, image similarity)`` of the negatives, best first (similarity is NaN in
        random mode)."""
        self._setup(rt)
        m = rt.options.negatives
        excluded = self.excluded(ctx, rt)
        if rt.options.negatives_mode == "random":
            pool = [e for e in rt.state["hardneg_diseases"] if e not in excluded]
            return [(e, float("nan")) for e in random.Random(seed).sample(pool, min(m, len(pool)))]
        index = rt.state["hardneg_index"]
        image = ctx.record_image().load()
        vector = rt.state["hardneg_encoder"].encode_image([image])[0]
        found: list[tuple[int, float]] = []
        for entity_id in index.nearest(vector, ("disease",), m + len(excluded) + 4):
            if entity_id not in excluded:
                found.append((entity_id, float(index.best(entity_id, vector) or 0.0)))
                if len(found) == m:
                    break
        return found

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        """Find the negatives and fill the templates."""
        seed = task_seed(task.seed, task.key)
        rng = random.Random(seed)
        chosen = self.candidates(ctx, rt, seed)
        matcher: ExactMatcher = rt.state["hardneg_matcher"]
        drafts = []
        for rank, (entity_id, score) in enumerate(chosen, 1):
            name = matcher.entities[entity_id].name
            with rt.lock:
                path = negative_path(paths_for(rt.db, entity_id, language="en"))
            question = rng.choice(TEMPLATES).format(disease=name)
            meta: dict[str, Any] = {
                "negative": name,
                "negative_entity_id": entity_id,
                "mode": rt.options.negatives_mode,
                "rank": rank,
                "path": path.text() if path else "",
            }
            if score == score:  # not NaN
                meta["image_similarity"] = round(score, 4)
                meta["image_encoder"] = getattr(rt.state["hardneg_encoder"], "name", "")
            entities = path.entities if path else [name]
            drafts.append(
                Draft(
                    sample_type="negative",
                    question=question,
                    answer=ANSWER,
                    key_answer="no",
                    ground_truth="no",
                    path_triples=[t.id for t in path.triples] if path else [],
                    path_entities=entities,
                    images=[str(p) for p in ctx.image_paths()],
                    meta=meta,
                    template=TEMPLATE_NAME,
                    template_version=TEMPLATE_VERSION,
                    model="",
                )
            )
        return drafts
