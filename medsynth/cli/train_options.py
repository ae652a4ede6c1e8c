"""The options of ``medsynth train sft`` and ``train grpo``, declared once (:data:`TRAIN_OPTIONS`);
:mod:`medsynth.cli.train` builds both commands' signatures from them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt
from medsynth.errors import InputError

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Base model folder (default: [models.base_model] model)."),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        "-d",
        help="Export folder (default: the newest one under the workspace's exports/).",
    ),
]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="Run name: the folder under adapters/ (default: kind-model-time)."),
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Go on from the run's last checkpoint (--name, else the newest unfinished).",
    ),
]
SmokeOpt = Annotated[
    bool | None,
    typer.Option(
        "--smoke/--no-smoke",
        help="Smoke run: tiny random VLM (models/tiny/llava), a few steps, float32 on the CPU. "
        "Default: on when there is no CUDA GPU.",
        show_default=False,
    ),
]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="cuda, cuda:N or cpu (default: cuda if present).")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Use at most N rows.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Train even when the memory preflight says it will not fit.")
]
EpochsOpt = Annotated[float | None, typer.Option("--epochs", min=0.01, help="Epochs.")]
StepsOpt = Annotated[
    int | None, typer.Option("--max-steps", min=1, help="Stop after N optimizer steps.")
]
BatchOpt = Annotated[
    int | None, typer.Option("--batch-size", min=1, help="Per-step batch (GRPO: completions).")
]
AccumOpt = Annotated[int | None, typer.Option("--grad-accum", min=1, help="Accumulation steps.")]
LrOpt = Annotated[float | None, typer.Option("--lr", min=0.0, help="Learning rate.")]
RankOpt = Annotated[int | None, typer.Option("--lora-rank", min=1, help="LoRA rank.")]
LengthOpt = Annotated[
    int | None, typer.Option("--max-length", min=32, help="SFT: token limit per sample.")
]
QuantOpt = Annotated[
    str | None,
    typer.Option("--quant", help="auto (NF4 on CUDA when bitsandbytes works), nf4 or none."),
]
FusedLossOpt = Annotated[
    str | None,
    typer.Option("--fused-loss", help="auto (Liger's kernels on CUDA where installed) or off."),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        "--optimizer",
        help="auto (paged 8-bit AdamW on CUDA), adamw_torch, adamw_torch_fused, paged_adamw_8bit.",
    ),
]
VllmOpt = Annotated[
    bool | None,
    typer.Option(
        "--vllm/--no-vllm",
        help="Generate with vLLM in colocate mode (CUDA and vllm needed; default off).",
        show_default=False,
    ),
]
VllmMemoryOpt = Annotated[
    float | None,
    typer.Option("--vllm-memory", help="Share of GPU memory vLLM may take (default 0.3)."),
]
CheckpointingOpt = Annotated[
    bool | None,
    typer.Option(
        "--gradient-checkpointing/--no-gradient-checkpointing",
        help="Recompute activations in the backward pass (default: on with CUDA).",
        show_default=False,
    ),
]
SaveOpt = Annotated[
    int | None, typer.Option("--save-steps", min=1, help="Checkpoint every N steps.")
]
AccelerateOpt = Annotated[
    Path | None,
    typer.Option(
        "--accelerate-config",
        help="Train on several processes (GPUs, or the CPU with gloo): run this command under "
        "`accelerate launch` with this accelerate config file (DDP, or DeepSpeed ZeRO where "
        "installed). Rank 0 writes the run record, checkpoints and adapter.",
        show_default=False,
    ),
]


FromSftOpt = Annotated[
    str | None,
    typer.Option(
        "--from-sft",
        help="SFT run name or adapter folder to start from (default: the newest finished "
        "SFT run on this base model).",
    ),
]
FreshLoraOpt = Annotated[
    bool, typer.Option("--fresh-lora", help="Start from a new LoRA instead of an SFT adapter.")
]
GenerationsOpt = Annotated[
    int | None, typer.Option("--num-generations", min=2, help="Completions per prompt.")
]
CompletionOpt = Annotated[
    int | None,
    typer.Option("--max-completion-length", min=4, help="Completion token limit."),
]
TemperatureOpt = Annotated[
    float | None, typer.Option("--temperature", min=0.01, help="Sampling temperature.")
]
BetaOpt = Annotated[float | None, typer.Option("--beta", min=0.0, help="KL coefficient.")]
SelfCheckOpt = Annotated[
    bool | None,
    typer.Option(
        "--self-check/--no-self-check",
        help="Ask for a <CHECK> review and add MEDSAGE's self-check bonus.",
        show_default=False,
    ),
]
RecipeOpt = Annotated[
    str | None,
    typer.Option(
        "--recipe",
        help="A paper's settings: medkinstruct, pubmedvision (two SFT stages) or medsage; "
        "flags given here still win.",
        show_default=False,
    ),
]
StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="Run one stage of the recipe only.", show_default=False),
]
RewardWeightOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--reward-weight",
        help="NAME=W, repeatable (answer, path, full, format, structured, self_check).",
    ),
]


def check_quant(value: str | None) -> str | None:
    if value is not None and value not in {"auto", "nf4", "none"}:
        raise InputError(f"--quant {value}: unknown", hint="use auto, nf4 or none")
    return value


def reward_weights(values: list[str] | None) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in values or []:
        key, sep, number = item.partition("=")
        try:
            weights[key.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(
                f"--reward-weight {item}: expected NAME=NUMBER",
                hint="e.g. --reward-weight path=0.5 (names: answer path full format "
                "structured self_check)",
            )
    return weights


@dataclass(frozen=True)
class TrainOpt:
    """One option of ``train sft`` and ``train grpo``, declared once: the parameter, its typer
    annotation and default, the :class:`TrainOptions` field it fills (``None``: none), how the
    value is read, and the commands that have it."""

    param: str
    annotation: Any
    default: Any = None
    field: str | None = ""  # "": the TrainOptions field of the same name; None: not one
    read: Callable[[Any], Any] | None = None
    kinds: tuple[str, ...] = ("sft", "grpo")

    def parameter(self) -> inspect.Parameter:
        return inspect.Parameter(
            self.param,
            inspect.Parameter.KEYWORD_ONLY,
            default=self.default,
            annotation=self.annotation,
        )


SFT, GRPO = ("sft",), ("grpo",)
# In the order --help lists them.
TRAIN_OPTIONS: tuple[TrainOpt, ...] = (
    TrainOpt("model", ModelOpt),
    TrainOpt("data", DataOpt),
    TrainOpt("name", NameOpt),
    TrainOpt("resume", ResumeOpt, False),
    TrainOpt("smoke", SmokeOpt),
    TrainOpt("device", DeviceOpt),
    TrainOpt("limit", LimitOpt),
    TrainOpt("force", ForceOpt, False),
    TrainOpt("recipe", RecipeOpt),
    TrainOpt("stage", StageOpt),
    TrainOpt("from_sft", FromSftOpt, kinds=GRPO),
    TrainOpt("fresh_lora", FreshLoraOpt, False, kinds=GRPO),
    TrainOpt("epochs", EpochsOpt),
    TrainOpt("max_steps", StepsOpt),
    TrainOpt("batch_size", BatchOpt),
    TrainOpt("grad_accum", AccumOpt),
    TrainOpt("lr", LrOpt, field="learning_rate"),
    TrainOpt("lora_rank", RankOpt),
    TrainOpt("max_length", LengthOpt, kinds=SFT),
    TrainOpt("quant", QuantOpt, field="quantization", read=check_quant),
    TrainOpt("gradient_checkpointing", CheckpointingOpt),
    TrainOpt("fused_loss", FusedLossOpt),
    TrainOpt("optimizer", OptimizerOpt),
    TrainOpt("vllm", VllmOpt, kinds=GRPO),
    TrainOpt("vllm_memory", VllmMemoryOpt, kinds=GRPO),
    TrainOpt("save_steps", SaveOpt),
    TrainOpt("num_generations", GenerationsOpt, kinds=GRPO),
    TrainOpt("max_completion_length", CompletionOpt, kinds=GRPO),
    TrainOpt("temperature", TemperatureOpt, kinds=GRPO),
    TrainOpt("beta", BetaOpt, kinds=GRPO),
    TrainOpt("self_check", SelfCheckOpt, kinds=GRPO),
    TrainOpt(
        "reward_weight", RewardWeightOpt, field="reward_weights", read=reward_weights, kinds=GRPO
    ),
    TrainOpt("accelerate_config", AccelerateOpt, field=None),
    TrainOpt("wait", WaitOpt, False, field=None),
    TrainOpt("workspace", WorkspaceOpt, field=None),
    TrainOpt("as_json", JsonOpt, False, field=None),
)
