"""GRPO: TRL's ``GRPOTrainer`` continuing the SFT adapter, with the KG-path rewards.

The reward functions are those of :mod:`medsynth.train.rewards`, weighted by ``[train.rewards]``
(a weight of 0 drops the function). With ``self_check`` on, the trainer is
:class:`medsynth.train.selfcheck.SelfCheckGRPOTrainer` (MEDSAGE's two-pass rollout, the bonus
alpha * r_sc on the self-check tokens only); TRL logs each one's mean as
``rewards/<name>/mean`` at every step, and :class:`medsynth.train.runs.StepRecorder` stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsynth.errors import ConfigError
from medsynth.train import rewards
from medsynth.train.settings import TrainSettings
from medsynth.train.sft import bound_images, common_args, lora_config, without_printer

RewardFunc = Callable[..., list[float | None]]


def reward_functions(settings: TrainSettings) -> tuple[list[RewardFunc], list[float]]:
    """The reward functions in use and their weights."""
    funcs: list[RewardFunc] = []
    weights: list[float] = []
    for key, func in rewards.REWARD_FUNCS.items():
        weight = float(settings.reward_weights.get(key, 1.0))
        # the self-check bonus goes to the check tokens of the two-pass rollout
        # (medsynth.train.selfcheck), never to a whole completion
        if weight == 0 or key == "self_check":
            continue
        funcs.append(func)
        weights.append(weight)
    return funcs, weights


def with_adapter(model: Any, adapter: Path) -> Any:
    """``model`` with the (SFT) adapter loaded for further training."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter), is_trainable=True)


def vllm_args(settings: TrainSettings) -> dict[str, Any]:
    """GRPOConfig fields for TRL's vLLM colocate mode (generation in a vLLM engine sharing the
    training GPU) when ``settings.vllm``; {} otherwise. Needs CUDA and the optional vllm."""
    if not settings.vllm:
        return {}
    from medsynth.train.modeling import vllm_usable

    if not settings.device.startswith("cuda"):
        raise ConfigError("vLLM generation needs a CUDA GPU", hint="turn the vllm setting off")
    if not vllm_usable():
        raise ConfigError(
            "vLLM generation is on but vllm is not installed",
            hint="pip install vllm (a version TRL supports), or turn the vllm setting off",
        )
    return {
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": settings.vllm_memory,
    }


def build_trainer(
    model: Any,
    processor: Any,
    dataset: Any,
    settings: TrainSettings,
    callbacks: list[Any],
    extra_rewards: list[RewardFunc] | None = None,
) -> Any:
    """A ``GRPOTrainer``; ``model`` is a PeftModel (from the SFT adapter) or the plain base, which
    then gets a fresh LoRA. ``extra_rewards`` (weight 1) are added after the configured ones."""
    from peft import PeftModel
    from trl import GRPOConfig, GRPOTrainer

    from medsynth.train.modeling import lora_target_pattern

    funcs, weights = reward_functions(settings)
    for func in extra_rewards or []:
        funcs.append(func)
        weights.append(1.0)
    bound_images(processor, settings)
    args = GRPOConfig(
        **common_args(settings),
        **vllm_args(settings),
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        beta=settings.beta,
        reward_weights=weights,
        log_completions=False,
    )
    peft_config = None
    if not isinstance(model, PeftModel):
        peft_config = lora_config(settings, lora_target_pattern(model))
    extra: dict[str, Any] = {}
    trainer_class: Any = GRPOTrainer
    if settings.self_check:
        from medsynth.train.selfcheck import SelfCheckGRPOTrainer

        trainer_class = SelfCheckGRPOTrainer
        extra["self_check_alpha"] = settings.self_check_alpha
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        reward_funcs=list[Any](funcs),
        peft_config=peft_config,
        callbacks=callbacks,
        **extra,
    )
    return without_printer(trainer)
