"""A training run decided before any weights load (:func:`prepare`): the device, the base model,
the export and its rows, the layered settings (:mod:`medsynth.train.settings`) and the memory
estimate. ``train`` runs what this decides; the TUI's preflight shows it."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.train import data as train_data
from medsynth.train import locate, preflight
from medsynth.train.modeling import bitsandbytes_usable, fingerprint, read_config
from medsynth.train.settings import TrainOptions, TrainSettings, resolve
from medsynth.workspace import Workspace

Echo = Callable[[str], None]


def quiet() -> None:
    """Silence library chatter (progress bars, info logs, bitsandbytes' CPU kernel notice)."""
    from medsynth.backends.encoders import quiet_model_loading

    quiet_model_loading()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
    for name in ("bitsandbytes", "datasets", "peft", "trl", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


@dataclass
class Prepared:
    """A run decided before any weights load: settings, data, rows and the memory estimate
    (what ``train`` would use; the TUI's preflight shows it)."""

    settings: TrainSettings
    export: train_data.ExportData
    resume_from: Path | None
    model_hash: str
    vision: bool
    rows: list[dict[str, Any]]
    templates: dict[str, str]
    processor: Any
    estimate: preflight.Estimate
    notes: list[str]

    @property
    def device(self) -> str:
        return self.settings.device

    @property
    def smoke(self) -> bool:
        return self.settings.smoke

    @property
    def model_dir(self) -> Path:
        return self.settings.model

    @property
    def quantization(self) -> str:
        return self.settings.quantization

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def output_dir(self) -> Path:
        return self.settings.output_dir

    @property
    def kind(self) -> str:
        return self.settings.kind


def prepare(ws: Workspace, options: TrainOptions, *, echo: Echo = print) -> Prepared:
    """Resolve everything ``train`` needs before loading weights, and estimate the memory."""
    quiet()
    import transformers  # noqa: F401  (imported before the CPU baseline is measured)
    import trl  # noqa: F401

    notes: list[str] = []
    device, smoke = device_and_smoke(options, notes)
    model_dir = locate.base_model(ws, options, smoke, echo)
    config = read_config(model_dir)
    data_dir = (
        Path(options.data)
        if options.data
        else train_data.find_export(ws.path("exports"), options.kind)
    )
    export = train_data.load_export(data_dir, options.kind, limit=options.limit)
    settings, resume_from = settle(ws, options, notes, device, smoke, model_dir, export.root)
    model_hash = fingerprint(model_dir)
    if options.kind == "grpo":
        settings.init_adapter = locate.sft_adapter(ws, options, model_hash, smoke)
        if settings.init_adapter is None:
            notes.append("GRPO starts from a fresh LoRA adapter (no SFT adapter)")
    elif options.from_sft:  # a later SFT stage goes on from an earlier stage's adapter
        settings.init_adapter = locate.sft_adapter(ws, options, model_hash, smoke)
    if settings.generators:
        keep_generators(export, settings, notes)

    from medsynth.backends.hf import is_vision_config

    vision = is_vision_config(config)
    rows, templates = training_rows(export, settings, vision, notes)
    processor = processor_for(model_dir, vision)
    return Prepared(
        settings=settings,
        export=export,
        resume_from=resume_from,
        model_hash=model_hash,
        vision=vision,
        rows=rows,
        templates=templates,
        processor=processor,
        estimate=estimate_memory(settings, config, rows, processor),
        notes=notes,
    )


def keep_generators(
    export: train_data.ExportData, settings: TrainSettings, notes: list[str]
) -> None:
    """Only the export rows of the recipe stage's generators; refuses when none is left."""
    wanted = set(settings.generators)
    kept = [row for row in export.rows if row.get("generator") in wanted]
    if not kept:
        raise InputError(
            f"recipe {settings.recipe} ({settings.recipe_stage}) trains on "
            f"{', '.join(settings.generators)} samples and this export has none",
            source=str(export.path),
            hint="export those generators (`medsynth export --generators ...`) or drop --recipe",
        )
    notes.append(
        f"recipe {settings.recipe} ({settings.recipe_stage}): {len(kept)} of {len(export.rows)} "
        f"row(s), the {', '.join(settings.generators)} samples"
    )
    export.rows[:] = kept


def device_and_smoke(options: TrainOptions, notes: list[str]) -> tuple[str, bool]:
    """The device, and smoke mode (asked for, else on without CUDA)."""
    device = locate.pick_device(options.device)
    smoke = options.smoke if options.smoke is not None else not device.startswith("cuda")
    if options.smoke is None and smoke:
        notes.append(
            "no CUDA GPU: smoke mode (tiny model, a few steps); --no-smoke trains the configured "
            "model on the CPU"
        )
    return device, smoke


def settle(
    ws: Workspace,
    options: TrainOptions,
    notes: list[str],
    device: str,
    smoke: bool,
    model_dir: Path,
    data: Path,
) -> tuple[TrainSettings, Path | None]:
    """The run's name and folder, the checkpoint to resume from, the layered settings and the
    quantization the machine allows."""
    name = locate.run_name(ws, options, model_dir)
    output_dir = ws.path("adapters", name)
    resume_from = locate.checkpoint_to_resume(output_dir, options.resume)
    settings = resolve(
        options,
        ws.config.train,
        device=device,
        smoke=smoke,
        model=model_dir,
        data=data,
        name=name,
        output_dir=output_dir,
    )
    settings.quantization, why = locate.quantization(settings.quantization, device)
    notes += why
    return settings, resume_from


def training_rows(
    export: train_data.ExportData, settings: TrainSettings, vision: bool, notes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows to train on (SFT chats, or GRPO prompts with the think instruction) and the
    prompt templates used; refuses when none is left."""
    if settings.kind == "sft":
        rows, skipped = train_data.sft_rows(export, vision=vision)
        templates: dict[str, str] = {}
    else:
        # tau1 is the plain trajectory: with self_check on, SelfCheckGRPOTrainer asks for the
        # check in a second turn, only after a wrong first answer (MEDSAGE Eq. 8-9)
        user_text, templates = train_data.think_instruction()
        rows, skipped = train_data.grpo_rows(export, vision=vision, user_text=user_text)
    if skipped:
        notes.append(f"{skipped} row(s) with images skipped: the model reads text only")
    if not rows:
        raise InputError(
            "nothing left to train on",
            source=str(export.path),
            hint="a text-only model needs text-only rows; use a vision-language model folder",
        )
    return rows, templates


def estimate_memory(
    settings: TrainSettings, config: Any, rows: list[dict[str, Any]], processor: Any
) -> preflight.Estimate:
    """The preflight: the peak memory of these settings on the longest sample, held against
    the device's budget."""
    shape = preflight.shape_from_config(config)
    image_tokens = settings.image_tokens or shape.image_tokens
    seq = measure_lengths(rows, processor, image_tokens)
    if settings.kind == "sft":
        seq = min(seq, settings.max_length)
    return preflight.check(
        shape,
        plan_for(settings, shape, seq),
        budget=preflight.device_budget(settings.device, settings.memory_fraction),
        can_quantize=settings.device.startswith("cuda") and bitsandbytes_usable(),
    )


def measure_lengths(rows: list[dict[str, Any]], processor: Any, image_tokens: int) -> int:
    """Longest prompt (+ answer) in tokens, images included."""
    tokenizer = getattr(processor, "tokenizer", processor)
    images = max((len(r.get("images") or []) for r in rows), default=0)
    return train_data.longest_text_tokens(rows, tokenizer) + images * image_tokens


def plan_for(settings: TrainSettings, shape: preflight.ModelShape, seq_tokens: int) -> Any:
    runtime = None if settings.device.startswith("cuda") else preflight.current_rss()
    return preflight.MemoryPlan(
        kind=settings.kind,
        device=settings.device,
        quantized=settings.quantization == "nf4",
        lora_rank=settings.lora_rank,
        batch_size=settings.batch_size,
        grad_accum=settings.grad_accum,
        seq_tokens=seq_tokens,
        images_per_sample=1 if shape.vision else 0,
        image_tokens=settings.image_tokens,
        gradient_checkpointing=settings.gradient_checkpointing,
        lora_dropout=settings.lora_dropout > 0,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        runtime_bytes=runtime,
    )


def processor_for(folder: Path, vision: bool) -> Any:
    """The model's processor (vision) or tokenizer (text; padding with EOS when it has none)."""
    if vision:
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(folder, local_files_only=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
