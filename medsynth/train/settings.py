"""Training settings as one layered model, :class:`TrainSettings`.

Every value a run uses is decided by ordered overrides, the later layer winning (nanoGPT's
configurator, with pydantic checking the result):

1. ``default``: the defaults of the ``[train]`` section (:class:`~medsynth.config.TrainConfig`);
2. ``workspace``: the workspace's ``[train]`` section (medsynth.toml);
3. ``recipe``: a paper's preset, when ``--recipe`` names one (:mod:`medsynth.train.recipes`;
   the source reads ``recipe:NAME``);
4. ``smoke``: :data:`SMOKE`, in smoke mode only;
5. ``cli``: what the invocation gave (:class:`TrainOptions`; ``None`` is "not given").

:func:`layer` merges them and records which layer each value came from
(``TrainSettings.sources``); :func:`resolve` adds what the run located (device, model, data,
name, output folder) and checks the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsynth.config import TrainConfig
from medsynth.errors import ConfigError

LAYERS = ("default", "workspace", "recipe", "smoke", "cli")

# Smoke mode: a tiny model for a few steps with short sequences, float32, no quantisation.
SMOKE: dict[str, Any] = {
    "max_steps": 4,
    "epochs": 1.0,
    "batch_size": 2,
    "grad_accum": 1,
    "max_length": 256,
    "num_generations": 2,
    "max_completion_length": 16,
    "save_steps": 2,
    "quantization": "none",
    "gradient_checkpointing": False,
    "lora_rank": 8,
    "learning_rate": 1e-3,
}

# Setting <- ``[train]`` key where the names differ (GRPO has its own epochs and learning rate).
CONFIG_KEYS: dict[str, dict[str, str]] = {
    "sft": {"reward_weights": "rewards"},
    "grpo": {
        "reward_weights": "rewards",
        "epochs": "grpo_epochs",
        "learning_rate": "grpo_learning_rate",
    },
}


@dataclass
class TrainOptions:
    """What one ``medsynth train sft|grpo`` invocation (or the TUI's form) asked for: where to
    find the model and data, and the ``cli`` layer of the settings, where ``None`` (and no
    reward weights) means "not given"."""

    kind: str  # sft | grpo
    model: str | None = field(default=None, metadata={"help": "Base model folder."})
    data: Path | None = field(default=None, metadata={"help": "Export folder."})
    name: str | None = field(default=None, metadata={"help": "Run (adapter folder) name."})
    resume: bool = field(default=False, metadata={"help": "Go on from the last checkpoint."})
    smoke: bool | None = field(default=None, metadata={"help": "Tiny model, few steps, CPU."})
    device: str | None = field(default=None, metadata={"help": "cuda, cuda:N or cpu."})
    limit: int | None = field(default=None, metadata={"help": "Use at most N rows."})
    force: bool = field(default=False, metadata={"help": "Run even if preflight says no."})
    recipe: str | None = field(
        default=None, metadata={"help": "A paper's settings: medkinstruct, pubmedvision, medsage."}
    )
    stage: str | None = field(default=None, metadata={"help": "The recipe stage to run."})
    epochs: float | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    learning_rate: float | None = None
    lora_rank: int | None = None
    max_length: int | None = None
    quantization: str | None = None
    gradient_checkpointing: bool | None = None
    save_steps: int | None = None
    # GRPO
    from_sft: str | None = field(default=None, metadata={"help": "SFT run name or adapter."})
    fresh_lora: bool = field(default=False, metadata={"help": "Start GRPO from a new LoRA."})
    num_generations: int | None = None
    max_completion_length: int | None = None
    temperature: float | None = None
    beta: float | None = None
    self_check: bool | None = None
    reward_weights: dict[str, float] = field(default_factory=dict)
    # memory and speed (issue 19)
    fused_loss: str | None = None  # auto | off
    optimizer: str | None = None  # auto | adamw_torch(_fused) | paged_adamw_8bit
    vllm: bool | None = None
    vllm_memory: float | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings this invocation gave: the ``cli`` layer."""
        given = {key: getattr(self, key, None) for key in LAYERED if key != "recipe"}
        return {key: value for key, value in given.items() if value not in (None, {})}


class TrainSettings(BaseModel):
    """Every value a run uses, resolved (stored as the run's config, :meth:`as_config`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: str
    device: str
    smoke: bool
    model: Path
    data: Path
    name: str
    output_dir: Path
    quantization: str  # as layered (auto | nf4 | none); prepare makes auto nf4 or none
    epochs: float
    max_steps: int | None
    batch_size: int
    grad_accum: int
    learning_rate: float
    lora_rank: int
    lora_alpha: int
    lora_dropout: float
    max_length: int
    gradient_checkpointing: bool
    save_steps: int
    save_total_limit: int
    seed: int
    limit: int | None
    num_generations: int
    max_completion_length: int
    temperature: float
    beta: float
    self_check: bool
    self_check_alpha: float
    reward_weights: dict[str, float]
    memory_fraction: float
    image_tokens: int
    # memory and speed (issue 19); not in ``[train]`` yet, so only the defaults or code set them
    fused_loss: Literal["auto", "off"] = "auto"  # auto: Liger's kernels on CUDA where installed
    # auto: paged 8-bit AdamW on CUDA, the library's AdamW elsewhere
    optimizer: Literal["auto", "adamw_torch", "adamw_torch_fused", "paged_adamw_8bit"] = "auto"
    vllm: bool = False  # GRPO: generate with vLLM in colocate mode (needs CUDA and vllm)
    vllm_memory: float = Field(0.3, gt=0, lt=1)  # GPU share vLLM's colocated engine may take
    recipe: str = ""  # the preset the run follows (medkinstruct | pubmedvision | medsage)
    recipe_stage: str = ""
    generators: list[str] = Field(default_factory=list)  # export rows trained on; [] = all
    init_adapter: Path | None = None
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    def as_config(self) -> dict[str, Any]:
        """The settings as a run row's ``config`` (paths as text, no sources)."""
        data = self.model_dump()
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}


# What the run locates (the rest of TrainSettings comes from the layers).
LOCATED = frozenset(
    {"kind", "device", "smoke", "model", "data", "name", "output_dir", "limit", "init_adapter"}
)
LAYERED = tuple(k for k in TrainSettings.model_fields if k not in LOCATED | {"sources"})


@dataclass
class Layers:
    """Setting values merged layer by layer, and the layer each value came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def apply(self, layer: str, values: Mapping[str, Any]) -> None:
        """Lay ``values`` over the current ones (a mapping, like the reward weights, is
        updated key by key)."""
        for key, value in values.items():
            old = self.values.get(key)
            self.values[key] = {**old, **value} if isinstance(old, dict) else value
            self.sources[key] = layer


def config_keys(kind: str) -> dict[str, str]:
    """Setting -> ``[train]`` key, where they differ, for a ``kind`` run."""
    return CONFIG_KEYS["grpo" if kind == "grpo" else "sft"]


def config_layer(cfg: TrainConfig, kind: str, device: str) -> dict[str, Any]:
    """The ``[train]`` section as settings of a ``kind`` run on ``device`` (gradient
    checkpointing only on CUDA)."""
    data = cfg.model_dump()
    keys = config_keys(kind)
    values = {k: data[keys.get(k, k)] for k in LAYERED if keys.get(k, k) in data}
    values["gradient_checkpointing"] = values["gradient_checkpointing"] and device.startswith(
        "cuda"
    )
    return values


def layer(
    kind: str,
    cfg: TrainConfig,
    *,
    device: str,
    smoke: bool,
    overrides: Mapping[str, Any],
    recipe: str | None = None,
    stage: str | None = None,
) -> Layers:
    """defaults -> workspace ``[train]`` -> recipe -> smoke preset (in smoke mode) ->
    ``overrides``."""
    from medsynth.train.recipes import recipe_layer

    defaults = {
        "max_steps": None,
        "recipe": "",
        "recipe_stage": "",
        "generators": [],
        **config_layer(TrainConfig(), kind, device),
    }
    keys = config_keys(kind)
    workspace = {
        k: v
        for k, v in config_layer(cfg, kind, device).items()
        if v != defaults[k] or keys.get(k, k) in cfg.model_fields_set
    }
    merged = Layers()
    preset = recipe_layer(recipe, kind, stage)
    for name, values in zip(
        LAYERS, (defaults, workspace, preset, SMOKE if smoke else {}, overrides), strict=True
    ):
        merged.apply(f"recipe:{recipe}" if name == "recipe" else name, values)
    return merged


def resolve(
    options: TrainOptions,
    cfg: TrainConfig,
    *,
    device: str,
    smoke: bool,
    model: Path,
    data: Path,
    name: str,
    output_dir: Path,
    init_adapter: Path | None = None,
) -> TrainSettings:
    """The layered settings of ``options`` with what the run located; checks the reward names
    and that GRPO's batch holds whole groups of completions."""
    check_rewards(options.reward_weights, cfg)
    layers = layer(
        options.kind,
        cfg,
        device=device,
        smoke=smoke,
        overrides=options.overrides(),
        recipe=options.recipe,
        stage=options.stage,
    )
    try:
        settings = TrainSettings(
            kind=options.kind,
            device=device,
            smoke=smoke,
            model=model,
            data=data,
            name=name,
            output_dir=output_dir,
            limit=options.limit,
            init_adapter=init_adapter,
            sources=layers.sources,
            **layers.values,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid training settings: {problems}") from exc
    check_groups(settings)
    return settings


def check_rewards(weights: Mapping[str, float], cfg: TrainConfig) -> None:
    """Only rewards that exist may be weighted."""
    known = cfg.rewards.model_dump()
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown reward(s): {', '.join(unknown)}",
            hint=f"name one of {', '.join(known)} (e.g. --reward-weight path=0.5)",
        )


def check_groups(settings: TrainSettings) -> None:
    """GRPO samples ``num_generations`` completions per prompt: a batch holds whole groups."""
    if settings.kind != "grpo":
        return
    if (settings.batch_size * settings.grad_accum) % settings.num_generations:
        raise ConfigError(
            f"GRPO samples {settings.num_generations} completions per prompt, but a batch of "
            f"{settings.batch_size} x {settings.grad_accum} accumulation steps does not hold "
            "whole groups",
            hint="make --batch-size x --grad-accum a multiple of --num-generations",
        )
