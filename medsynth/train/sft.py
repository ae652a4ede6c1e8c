"""Supervised fine-tuning: TRL's ``SFTTrainer`` with a LoRA adapter on the language model.

Rows are prompt/completion pairs, so TRL's completion-only loss trains on the answer tokens
alone; images reach the model through the processor in TRL's vision collator.
"""

from __future__ import annotations

from typing import Any

from medsynth.errors import ConfigError
from medsynth.train.settings import TrainSettings


def lora_config(settings: TrainSettings, target_modules: str) -> Any:
    """LoRA on ``target_modules`` (a full-match regex over module names)."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_rank,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=target_modules,
        task_type="CAUSAL_LM",
    )


def checkpointing_arg() -> str:
    """transformers 5.x renamed ``gradient_checkpointing`` to ``activation_checkpointing``."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else ("gradient_checkpointing")
    )


def common_args(settings: TrainSettings) -> dict[str, Any]:
    """TrainingArguments shared by SFT and GRPO."""
    on_cuda = settings.device.startswith("cuda")
    bf16 = False
    if on_cuda:
        import torch

        bf16 = bool(torch.cuda.is_bf16_supported())
    return {
        "output_dir": str(settings.output_dir),
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "max_steps": settings.max_steps if settings.max_steps is not None else -1,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "bf16": bf16,  # TRL's default bf16=True is ~15x slower on a CPU without bf16 units
        "fp16": False,
        "use_cpu": not on_cuda,
        checkpointing_arg(): settings.gradient_checkpointing,
        "report_to": "none",
        "disable_tqdm": True,
        "seed": settings.seed,
        "dataloader_num_workers": 0,
        "optim": optimizer_name(settings),
        "use_liger_kernel": uses_liger(settings),
    }


def uses_liger(settings: TrainSettings) -> bool:
    """Liger's kernels (fused RMSNorm, SwiGLU, RoPE; fused linear cross-entropy where TRL has no
    chunked LM head of its own): with ``fused_loss = "auto"``, on CUDA, when installed."""
    from medsynth.train.modeling import liger_usable

    return settings.fused_loss == "auto" and settings.device.startswith("cuda") and liger_usable()


def optimizer_name(settings: TrainSettings) -> str:
    """The ``optim`` of TrainingArguments: ``auto`` is bitsandbytes' paged 8-bit AdamW on CUDA
    (moments in 8 bits, paged to host memory under pressure), the library's default AdamW
    elsewhere."""
    from medsynth.train.modeling import bitsandbytes_usable

    on_cuda = settings.device.startswith("cuda")
    if settings.optimizer == "auto":
        return "paged_adamw_8bit" if on_cuda and bitsandbytes_usable() else "adamw_torch_fused"
    if settings.optimizer == "paged_adamw_8bit" and not on_cuda:
        raise ConfigError(
            "the paged 8-bit optimizer needs a CUDA GPU",
            hint='use optimizer = "auto" or "adamw_torch" on the CPU',
        )
    return settings.optimizer


def bound_images(processor: Any, settings: TrainSettings) -> None:
    """Hold a dynamic-resolution processor to ``settings.image_tokens`` tokens per image, the
    figure the preflight counted (0: the processor's own limit)."""
    from medsynth.train.modeling import bound_images as bound

    bound(processor, settings.image_tokens)


def build_trainer(
    model: Any, processor: Any, dataset: Any, settings: TrainSettings, callbacks: list[Any]
) -> Any:
    """An ``SFTTrainer`` ready to ``train()``; LoRA is added here unless ``model`` already
    carries an adapter (a later recipe stage)."""
    from peft import PeftModel
    from trl import SFTConfig, SFTTrainer

    from medsynth.train.modeling import lora_target_pattern

    bound_images(processor, settings)
    args = SFTConfig(
        **common_args(settings),
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        max_length=settings.max_length,
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=None
        if isinstance(model, PeftModel)
        else lora_config(settings, lora_target_pattern(model)),
        callbacks=callbacks,
    )
    return without_printer(trainer)


def without_printer(trainer: Any) -> Any:
    """Drop transformers' PrinterCallback (it prints every log dict when tqdm is off): the
    step recorder reports progress instead."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer
