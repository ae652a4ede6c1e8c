"""Training settings: what the command line asked for (:class:`TrainOptions`), resolved against
the workspace's ``[train]`` section and the machine into concrete values (:class:`Settings`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medsynth.config import TrainConfig
from medsynth.errors import ConfigError

# Smoke mode: a tiny model for a few steps with short sequences, float32, no quantisation.
SMOKE = {
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


@dataclass
class TrainOptions:
    """What one ``medsynth train sft|grpo`` invocation asked for; ``None`` takes the workspace
    setting (or the smoke value in smoke mode)."""

    kind: str  # sft | grpo
    model: str | None = field(default=None, metadata={"help": "Base model folder."})
    data: Path | None = field(default=None, metadata={"help": "Export folder."})
    name: str | None = field(default=None, metadata={"help": "Run (adapter folder) name."})
    resume: bool = field(default=False, metadata={"help": "Go on from the last checkpoint."})
    smoke: bool | None = field(default=None, metadata={"help": "Tiny model, few steps, CPU."})
    device: str | None = field(default=None, metadata={"help": "cuda, cuda:N or cpu."})
    limit: int | None = field(default=None, metadata={"help": "Use at most N rows."})
    force: bool = field(default=False, metadata={"help": "Run even if preflight says no."})
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


@dataclass
class Settings:
    """Every value a run uses, resolved (stored as the run's config)."""

    kind: str
    device: str
    smoke: bool
    model: Path
    data: Path
    name: str
    output_dir: Path
    quantization: str  # nf4 | none
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
    init_adapter: Path | None = None
    notes: list[str] = field(default_factory=list)

    def as_config(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("notes")
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}


def pick(option: Any, smoke: bool, key: str, default: Any) -> Any:
    """The command-line value, else the smoke value (in smoke mode), else the workspace's."""
    if option is not None:
        return option
    if smoke and key in SMOKE:
        return SMOKE[key]
    return default


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
    quantization: str,
) -> Settings:
    """Concrete settings; checks that GRPO's batch holds whole groups of completions."""
    grpo = options.kind == "grpo"
    weights = cfg.rewards.model_dump()
    unknown = sorted(set(options.reward_weights) - set(weights))
    if unknown:
        raise ConfigError(
            f"unknown reward(s): {', '.join(unknown)}",
            hint=f"name one of {', '.join(weights)} (e.g. --reward-weight path=0.5)",
        )
    weights.update(options.reward_weights)
    settings = Settings(
        kind=options.kind,
        device=device,
        smoke=smoke,
        model=model,
        data=data,
        name=name,
        output_dir=output_dir,
        quantization=quantization,
        epochs=pick(options.epochs, smoke, "epochs", cfg.grpo_epochs if grpo else cfg.epochs),
        max_steps=pick(options.max_steps, smoke, "max_steps", None),
        batch_size=pick(options.batch_size, smoke, "batch_size", cfg.batch_size),
        grad_accum=pick(options.grad_accum, smoke, "grad_accum", cfg.grad_accum),
        learning_rate=pick(
            options.learning_rate,
            smoke,
            "learning_rate",
            cfg.grpo_learning_rate if grpo else cfg.learning_rate,
        ),
        lora_rank=pick(options.lora_rank, smoke, "lora_rank", cfg.lora_rank),
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        max_length=pick(options.max_length, smoke, "max_length", cfg.max_length),
        gradient_checkpointing=pick(
            options.gradient_checkpointing,
            smoke,
            "gradient_checkpointing",
            cfg.gradient_checkpointing and device.startswith("cuda"),
        ),
        save_steps=pick(options.save_steps, smoke, "save_steps", cfg.save_steps),
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        limit=options.limit,
        num_generations=pick(
            options.num_generations, smoke, "num_generations", cfg.num_generations
        ),
        max_completion_length=pick(
            options.max_completion_length,
            smoke,
            "max_completion_length",
            cfg.max_completion_length,
        ),
        temperature=options.temperature if options.temperature is not None else cfg.temperature,
        beta=options.beta if options.beta is not None else cfg.beta,
        self_check=options.self_check if options.self_check is not None else cfg.self_check,
        self_check_alpha=cfg.self_check_alpha,
        reward_weights=weights,
        memory_fraction=cfg.memory_fraction,
        image_tokens=cfg.image_tokens,
    )
    if grpo and (settings.batch_size * settings.grad_accum) % settings.num_generations:
        raise ConfigError(
            f"GRPO samples {settings.num_generations} completions per prompt, but a batch of "
            f"{settings.batch_size} x {settings.grad_accum} accumulation steps does not hold "
            "whole groups",
            hint="make --batch-size x --grad-accum a multiple of --num-generations",
        )
    return settings
