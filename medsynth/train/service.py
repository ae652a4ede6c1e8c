"""One training run from start to finish: resolve the model, data and settings; preflight the
memory; record the run; train (or resume) with TRL; save the adapter with its provenance.

Every invocation is a ``runs`` row (command, config, versions) and a ``train_runs`` row (data and
base-model hashes, preflight estimate, measured peak, output folder); every logged step is a
``train_steps`` row. Output goes to ``adapters/<name>/`` in the workspace: TRL's
``checkpoint-N/`` folders (resume picks the newest) and, at the end, ``adapter/`` with the peft
weights, the processor and ``medsynth_train.json``. A run cancelled through ``on_step`` (the
TUI's cancel) saves a checkpoint at that step and is marked ``cancelled``; ``--resume`` goes on.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.errors import Cancelled, InputError, MedsynthError
from medsynth.store.runs import RunRecorder, record_reject
from medsynth.train import data as train_data
from medsynth.train import locate, preflight
from medsynth.train.modeling import (
    bitsandbytes_usable,
    fingerprint,
    library_versions,
    read_config,
)
from medsynth.train.runs import StepCallback, StepHook, StepRecorder, TrainRuns
from medsynth.train.settings import Settings, TrainOptions, resolve
from medsynth.workspace import Workspace

Echo = Callable[[str], None]


class TrainingRefused(MedsynthError):
    """The memory preflight says the run will not fit (``--force`` overrides)."""


@dataclass
class TrainResult:
    """What a finished run reports (``--json`` prints it)."""

    train_run_id: int
    run_id: int
    name: str
    kind: str
    status: str
    output_dir: str
    adapter: str
    steps: int
    losses: list[float]
    last: dict[str, Any]
    estimate: dict[str, Any]
    peak_bytes: int
    seconds: float
    metrics: dict[str, Any]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def measure_lengths(rows: list[dict[str, Any]], processor: Any, image_tokens: int) -> int:
    """Longest prompt (+ answer) in tokens, images included."""
    tokenizer = getattr(processor, "tokenizer", processor)
    images = max((len(r.get("images") or []) for r in rows), default=0)
    return train_data.longest_text_tokens(rows, tokenizer) + images * image_tokens


def plan_for(settings: Settings, shape: preflight.ModelShape, seq_tokens: int) -> Any:
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


@dataclass
class Prepared:
    """A run decided before any weights load: model, data, settings, rows and the memory
    estimate (what ``train`` would use; the TUI's preflight shows it)."""

    device: str
    smoke: bool
    notes: list[str]
    model_dir: Path
    export: Any
    quantization: str
    name: str
    output_dir: Path
    resume_from: Path | None
    settings: Settings
    model_hash: str
    vision: bool
    rows: list[dict[str, Any]]
    templates: dict[str, str]
    processor: Any
    estimate: Any  # preflight.Estimate


def prepare(ws: Workspace, options: TrainOptions, *, echo: Echo = print) -> Prepared:
    """Resolve everything ``train`` needs before loading weights, and estimate the memory."""
    quiet()
    import transformers  # noqa: F401  (imported before the CPU baseline is measured)
    import trl  # noqa: F401

    device = locate.pick_device(options.device)
    notes: list[str] = []
    smoke = options.smoke if options.smoke is not None else not device.startswith("cuda")
    if options.smoke is None and smoke:
        notes.append(
            "no CUDA GPU: smoke mode (tiny model, a few steps); --no-smoke trains the configured "
            "model on the CPU"
        )
    model_dir = locate.base_model(ws, options, smoke, echo)
    config = read_config(model_dir)
    data_dir = (
        Path(options.data)
        if options.data
        else train_data.find_export(ws.path("exports"), options.kind)
    )
    export = train_data.load_export(data_dir, options.kind, limit=options.limit)
    cfg = ws.config.train
    requested = options.quantization or ("none" if smoke else cfg.quantization)
    quant, why = locate.quantization(requested, device)
    notes += why
    name = locate.run_name(ws, options, model_dir)
    output_dir = ws.path("adapters", name)
    resume_from = locate.checkpoint_to_resume(output_dir, options.resume)
    settings = resolve(
        options,
        cfg,
        device=device,
        smoke=smoke,
        model=model_dir,
        data=export.root,
        name=name,
        output_dir=output_dir,
        quantization=quant,
    )
    settings.notes = notes
    model_hash = fingerprint(model_dir)
    if options.kind == "grpo":
        settings.init_adapter = locate.sft_adapter(ws, options, model_hash, smoke)
        if settings.init_adapter is None:
            notes.append("GRPO starts from a fresh LoRA adapter (no SFT adapter)")

    from medsynth.backends.hf import is_vision_config

    vision = is_vision_config(config)
    if options.kind == "sft":
        rows, skipped = train_data.sft_rows(export, vision=vision)
        templates: dict[str, str] = {}
    else:
        user_text, templates = train_data.think_instruction(settings.self_check)
        rows, skipped = train_data.grpo_rows(export, vision=vision, user_text=user_text)
    if skipped:
        notes.append(f"{skipped} row(s) with images skipped: the model reads text only")
    if not rows:
        raise InputError(
            "nothing left to train on",
            source=str(export.path),
            hint="a text-only model needs text-only rows; use a vision-language model folder",
        )

    shape = preflight.shape_from_config(config)
    processor = _processor(model_dir, vision)
    image_tokens = settings.image_tokens or shape.image_tokens
    seq = measure_lengths(rows, processor, image_tokens)
    if options.kind == "sft":
        seq = min(seq, settings.max_length)
    estimate = preflight.check(
        shape,
        plan_for(settings, shape, seq),
        budget=preflight.device_budget(device, settings.memory_fraction),
        can_quantize=device.startswith("cuda") and bitsandbytes_usable(),
    )
    return Prepared(
        device=device,
        smoke=smoke,
        notes=notes,
        model_dir=model_dir,
        export=export,
        quantization=quant,
        name=name,
        output_dir=output_dir,
        resume_from=resume_from,
        settings=settings,
        model_hash=model_hash,
        vision=vision,
        rows=rows,
        templates=templates,
        processor=processor,
        estimate=estimate,
    )


def train(
    ws: Workspace,
    options: TrainOptions,
    *,
    echo: Echo = print,
    extra_rewards: list[Any] | None = None,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Run (or resume) one SFT or GRPO training run; see the module doc.

    ``on_step(step, total, fields)`` is called after every recorded step (``fields`` as stored
    in ``train_steps``); when it raises :class:`~medsynth.errors.Cancelled`, the trainer saves a
    checkpoint at that step and stops, the run is marked ``cancelled`` and ``Cancelled`` is
    raised; ``TrainOptions(resume=True, name=...)`` goes on from that checkpoint.
    """
    started = time.perf_counter()
    prep = prepare(ws, options, echo=echo)
    device, notes, model_dir, export = prep.device, prep.notes, prep.model_dir, prep.export
    quant, name, output_dir, resume_from = (
        prep.quantization,
        prep.name,
        prep.output_dir,
        prep.resume_from,
    )
    settings, model_hash, vision, rows = prep.settings, prep.model_hash, prep.vision, prep.rows
    templates, processor, estimate = prep.templates, prep.processor, prep.estimate
    smoke = prep.smoke
    runs = TrainRuns(ws.db)
    echo(estimate.describe())

    versions = library_versions()
    config_record = {
        **settings.as_config(),
        "templates": templates,
        "vision": vision,
        "rows": len(rows),
        "export_counts": export.counts(),
    }
    with RunRecorder(ws.db, f"train {options.kind}", config_record) as recorder:
        for reject in export.rejects:
            record_reject(
                ws.db,
                stage="train",
                source=f"{export.path}:{reject.source.rsplit(':', 1)[-1]}",
                raw=reject.raw,
                reason=reject.reason,
                run_id=recorder.run_id,
            )
        row_fields = {
            "name": name,
            "kind": options.kind,
            "base_model": str(model_dir),
            "base_model_hash": model_hash,
            "init_adapter": str(settings.init_adapter or ""),
            "data_path": str(export.path),
            "data_hash": export.data_hash,
            "samples": len(rows),
            "config": config_record,
            "versions": versions,
            "device": _device_label(device),
            "quantization": quant,
            "smoke": int(smoke),
            "preflight": estimate.as_dict(),
            "estimate_bytes": estimate.total,
            "budget_bytes": estimate.budget,
            "output_dir": str(output_dir),
            "resumed_from": str(resume_from or ""),
            "run_id": recorder.run_id,
        }
        if not estimate.fits and not options.force:
            train_run_id = runs.start(**row_fields, status="refused")
            runs.finish(train_run_id, "refused", error="memory preflight")
            recorder.summary = {"train_run_id": train_run_id, "status": "refused"}
            raise TrainingRefused(
                f"{estimate.describe()}",
                hint=preflight.suggestion_text(estimate),
            )
        if not estimate.fits:
            notes.append("preflight says this will not fit; running anyway (--force)")
        if resume_from is not None:
            locate.check_resume(output_dir, model_hash, export.data_hash, options.force)
        locate.write_provenance(output_dir, row_fields)
        train_run_id = runs.start(**row_fields)
        recorder.summary = {"train_run_id": train_run_id, "name": name}
        for note in notes:
            echo(f"note: {note}")
        try:
            result = _fit(
                ws,
                settings,
                vision,
                rows,
                processor,
                runs,
                train_run_id,
                resume_from,
                echo,
                extra_rewards,
                on_step,
            )
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            if isinstance(exc, Cancelled):
                status = "cancelled"
            runs.finish(
                train_run_id,
                status,
                error=f"{type(exc).__name__}: {exc}",
                peak_bytes=preflight.peak_memory(device),
            )
            if _is_oom(exc):
                raise MedsynthError(
                    f"out of memory: {exc}".splitlines()[0],
                    hint=preflight.suggestion_text(estimate)
                    if estimate.suggestion
                    else "lower --batch-size (raise --grad-accum), --max-length or use --quant nf4",
                ) from exc
            raise
        recorder_step, metrics, losses, last, cancelled = result
        peak = preflight.peak_memory(device)
        if cancelled:
            checkpoint = output_dir / f"checkpoint-{recorder_step}"
            runs.finish(
                train_run_id,
                "cancelled",
                peak_bytes=peak,
                metrics=metrics,
                error=f"cancelled at step {recorder_step}; checkpoint: {checkpoint}",
            )
            recorder.summary.update(
                {"steps": recorder_step, "peak_bytes": peak, "status": "cancelled"}
            )
            raise Cancelled(
                f"training cancelled at step {recorder_step}: {checkpoint.name} is saved; "
                f"resume run {name} to go on from it"
            )
        runs.finish(train_run_id, "ok", peak_bytes=peak, metrics=metrics)
        recorder.summary.update({"steps": recorder_step, "peak_bytes": peak})
    return TrainResult(
        train_run_id=train_run_id,
        run_id=int(recorder.run_id or 0),
        name=name,
        kind=options.kind,
        status="ok",
        output_dir=str(output_dir),
        adapter=str(output_dir / "adapter"),
        steps=recorder_step,
        losses=losses,
        last=last,
        estimate=estimate.as_dict(),
        peak_bytes=peak,
        seconds=round(time.perf_counter() - started, 2),
        metrics=metrics,
        settings=settings.as_config(),
        notes=notes,
    )


def _fit(
    ws: Workspace,
    settings: Settings,
    vision: bool,
    rows: list[dict[str, Any]],
    processor: Any,
    runs: TrainRuns,
    train_run_id: int,
    resume_from: Path | None,
    echo: Echo,
    extra_rewards: list[Any] | None,
    on_step: StepCallback | None = None,
) -> tuple[int, dict[str, Any], list[float], dict[str, Any], bool]:
    """Load the model, build the trainer, train, save the adapter; returns (steps, TRL's
    summary, losses, last step's fields, whether ``on_step`` cancelled the run: then only the
    checkpoint at that step is written, no adapter)."""
    from medsynth.train import grpo, sft
    from medsynth.train.modeling import load_base

    loaded = load_base(
        settings.model, device=settings.device, quantize=settings.quantization == "nf4"
    )
    dataset = train_data.to_dataset(rows)
    recorder = StepRecorder(runs, train_run_id, settings.device, echo=_step_echo(echo))
    hook = StepHook(recorder, on_step)
    callbacks = [recorder, hook]
    if settings.kind == "sft":
        trainer = sft.build_trainer(loaded.model, processor, dataset, settings, callbacks)
    else:
        model = loaded.model
        if settings.init_adapter is not None:
            model = grpo.with_adapter(model, settings.init_adapter)
        trainer = grpo.build_trainer(
            model, processor, dataset, settings, callbacks, extra_rewards=extra_rewards
        )
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    steps = int(trainer.state.global_step)
    if hook.cancelled:
        return steps, recorder.summary, recorder.losses, recorder.last, True
    adapter = settings.output_dir / "adapter"
    trainer.save_model(str(adapter))
    processor.save_pretrained(str(adapter))
    provenance = json.loads((settings.output_dir / locate.PROVENANCE).read_text(encoding="utf-8"))
    provenance["train_run_id"] = train_run_id
    (adapter / locate.PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str))
    return steps, recorder.summary, recorder.losses, recorder.last, False


def _processor(folder: Path, vision: bool) -> Any:
    if vision:
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(folder, local_files_only=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _device_label(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return "cpu"


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def _step_echo(echo: Echo) -> Callable[[int, int, dict[str, Any]], None]:
    def show(step: int, total: int, fields: dict[str, Any]) -> None:
        parts = [f"step {step}/{total or '?'}"]
        if fields.get("loss") is not None:
            parts.append(f"loss {fields['loss']:.4f}")
        if fields.get("reward") is not None:
            parts.append(f"reward {fields['reward']:.3f}")
        if fields.get("rewards"):
            parts.append(
                "("
                + " ".join(f"{k} {v:.2f}" for k, v in fields["rewards"].items() if v is not None)
                + ")"
            )
        if fields.get("tokens_per_s"):
            parts.append(f"{fields['tokens_per_s']:.0f} tok/s")
        parts.append(f"peak {fields['peak_bytes'] / preflight.GIB:.2f} GiB")
        echo("  " + "  ".join(parts))

    return show
