"""The three papers' training recipes as presets (``medsynth train sft|grpo --recipe NAME``).

A recipe is a settings layer between the workspace's ``[train]`` and the command line (see
:mod:`medsynth.train.settings`): it sets what the paper fixes and leaves the rest. Where a paper
trains in stages, each stage names the export rows it trains on (by generator) and continues
from the previous stage's adapter.

- **MedKInstruct** (section 5.1, implementation details): LoRA rank 16, 8 epochs, batch size 4,
  learning rate 1e-4 for SFT on the multi-hop and hard-negative QA; GRPO on the key-answer
  samples with its four rewards (the paper gives no GRPO numbers of its own: ours stay).
- **PubMedVision** (section 4.1): LLaVA-1.5's two stages and hyper-parameters, learning rate
  2e-5 and one epoch: stage ``align`` trains on Alignment VQA (``describe`` samples), stage
  ``instruct`` on Instruction-Tuning VQA (``instruct`` samples), starting from stage 1's adapter.
- **MEDSAGE** (implementation details and its supplement): SFT on the reasoning trajectories
  with the vision encoder frozen, 4 epochs, AdamW 1e-5, sequences up to 4,096 tokens, batch 4 x
  16 accumulation steps, gradient checkpointing; RL (R-GRPO) for 8 epochs at 1e-5, generations
  up to 1,024 tokens, 6 samples per prompt, 2 prompts per device batch (12 completions) x 8
  accumulation steps, self-check bonus alpha = 0.2.

Every number is written once here and tested against the papers in
``tests/unit/test_train_recipes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medsynth.errors import InputError


@dataclass(frozen=True)
class Stage:
    """One training stage of a recipe: its settings and the generators whose rows it uses."""

    name: str
    settings: dict[str, Any]
    generators: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipe:
    """A paper's settings for SFT and for GRPO (each one stage or several, in order)."""

    name: str
    paper: str
    sft: tuple[Stage, ...]
    grpo: tuple[Stage, ...] = field(default_factory=tuple)

    def stages(self, kind: str) -> tuple[Stage, ...]:
        """The stages of a ``kind`` run; a recipe without GRPO numbers gives an empty stage."""
        found = self.sft if kind == "sft" else self.grpo
        return found or (Stage("main", {}),)


RECIPES = {
    "medkinstruct": Recipe(
        "medkinstruct",
        "MedKInstruct",
        sft=(
            Stage(
                "main",
                {"lora_rank": 16, "epochs": 8.0, "batch_size": 4, "learning_rate": 1e-4},
                ("multihop", "hardneg"),
            ),
        ),
        grpo=(Stage("main", {"lora_rank": 16}, ("keyanswer",)),),
    ),
    "pubmedvision": Recipe(
        "pubmedvision",
        "PubMedVision",
        sft=(
            Stage("align", {"learning_rate": 2e-5, "epochs": 1.0}, ("describe",)),
            Stage("instruct", {"learning_rate": 2e-5, "epochs": 1.0}, ("instruct",)),
        ),
    ),
    "medsage": Recipe(
        "medsage",
        "MEDSAGE",
        sft=(
            Stage(
                "main",
                {
                    "epochs": 4.0,
                    "learning_rate": 1e-5,
                    "max_length": 4096,
                    "batch_size": 4,
                    "grad_accum": 16,
                    "gradient_checkpointing": True,
                },
                ("reasoning",),
            ),
        ),
        grpo=(
            Stage(
                "main",
                {
                    "epochs": 8.0,
                    "learning_rate": 1e-5,
                    "max_completion_length": 1024,
                    "num_generations": 6,
                    "batch_size": 12,
                    "grad_accum": 8,
                    "self_check": True,
                    "self_check_alpha": 0.2,
                },
                ("reasoning",),
            ),
        ),
    ),
}


def recipe(name: str) -> Recipe:
    """The recipe called ``name``; a clear error for an unknown one."""
    if name not in RECIPES:
        raise InputError(
            f"unknown recipe {name!r}", hint=f"use one of {', '.join(sorted(RECIPES))}"
        )
    return RECIPES[name]


def stage_of(name: str, kind: str, stage: str | None) -> Stage:
    """The named stage of a recipe's ``kind`` run (default: the first)."""
    stages = recipe(name).stages(kind)
    if stage is None:
        return stages[0]
    for found in stages:
        if found.name == stage:
            return found
    raise InputError(
        f"recipe {name} has no {kind} stage {stage!r}",
        hint=f"its {kind} stages: {', '.join(s.name for s in stages)}",
    )


def recipe_layer(name: str | None, kind: str, stage: str | None = None) -> dict[str, Any]:
    """The settings layer of a recipe stage (empty without a recipe), with ``recipe``,
    ``recipe_stage`` and the ``generators`` whose rows the stage trains on.

    >>> recipe_layer("pubmedvision", "sft", "instruct")["generators"]
    ['instruct']
    >>> recipe_layer(None, "sft")
    {}
    """
    if not name:
        return {}
    found = stage_of(name, kind, stage)
    return {
        **found.settings,
        "recipe": name,
        "recipe_stage": found.name,
        "generators": list(found.generators),
    }
