"""One training run from start to finish: resolve the model, data and settings; preflight the
memory; record the run; train (or resume) with TRL; save the adapter with its provenance.

Every invocation is a ``runs`` row (command, config, versions) and a ``train_runs`` row (data and
base-model hashes, preflight estimate, measured peak, output folder); every logged step is a
``train_steps`` row. Output goes to ``adapters/<name>/`` in the workspace: TRL's
``checkpoint-N/`` folders (resume picks the newest) and, at the end, ``adapter/`` with the peft
weights, the processor and ``medsynth_train.json``. A run cancelled through ``on_step`` (the
TUI's cancel) saves a checkpoint at that step and is marked ``cancelled``; ``--resume`` goes on.

Under ``accelerate launch`` (:mod:`medsynth.train.distributed`) every rank prepares and trains;
rank 0 alone records the run and writes its files, and the ranks' step counts and adapter
checksums are stored with its metrics (``ranks``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medsynth.errors import Cancelled, MedsynthError
from medsynth.store.runs import RunRecorder, record_reject, run_status
from medsynth.train import data as train_data
from medsynth.train import distributed, locate, preflight
from medsynth.train.modeling import library_versions
from medsynth.train.plan import Prepared, measure_lengths, plan_for, prepare, quiet
from medsynth.train.runs import StepCallback, StepHook, StepRecorder, TrainRuns
from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace

__all__ = [
    "Fit",
    "Fitted",
    "Prepared",
    "TrainResult",
    "TrainingRefused",
    "measure_lengths",
    "plan_for",
    "prepare",
    "quiet",
    "train",
]

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


@dataclass
class Fit:
    """One recorded run to fit: what ``prepare`` decided, where its steps go, and the caller's
    hooks (an echo for each step, extra GRPO rewards, ``on_step``)."""

    prep: Prepared
    runs: TrainRuns | None  # None on the ranks other than 0: they write nothing
    train_run_id: int
    echo: Echo = print
    extra_rewards: list[Any] | None = None
    on_step: StepCallback | None = None


@dataclass
class Fitted:
    """What fitting did: the steps reached, TRL's summary, the losses, the last step's fields,
    and whether ``on_step`` cancelled the run (then only the checkpoint at that step is
    written, no adapter)."""

    steps: int
    metrics: dict[str, Any]
    losses: list[float]
    last: dict[str, Any]
    cancelled: bool = False


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
    distributed.init(options.device)
    main = distributed.is_main()
    if not main:
        echo = _silent
    options = distributed.agreed_name(ws, options, echo)
    with distributed.together("preparing the run"):
        prep = prepare(ws, options, echo=echo)
    if prep.settings.recipe:
        echo(recipe_text(prep.settings))
    echo(prep.estimate.describe())
    config_record = run_config(prep)
    runs = TrainRuns(ws.db)
    recorder: RunRecorder | None = None
    train_run_id = 0
    with contextlib.ExitStack() as stack:
        with distributed.together("starting the run"):
            if main:  # the other ranks write nothing to the workspace
                recorder = stack.enter_context(
                    RunRecorder(ws.db, f"train {options.kind}", config_record)
                )
                record_rejects(ws, prep.export, recorder.run_id)
                row = run_row(prep, config_record, recorder.run_id)
                train_run_id = start_run(runs, recorder, prep, row, force=options.force)
        for note in prep.notes:
            echo(f"note: {note}")
        fit = Fit(prep, runs if main else None, train_run_id, echo, extra_rewards, on_step)
        fitted = fit_recorded(fit)
        if recorder is not None:
            peak = finish_run(runs, recorder, prep, train_run_id, fitted)
        else:
            peak = preflight.peak_memory(prep.settings.device)
    settings = prep.settings
    return TrainResult(
        train_run_id=train_run_id,
        run_id=int(recorder.run_id or 0) if recorder is not None else 0,
        name=settings.name,
        kind=settings.kind,
        status="ok",
        output_dir=str(settings.output_dir),
        adapter=str(settings.output_dir / "adapter"),
        steps=fitted.steps,
        losses=fitted.losses,
        last=fitted.last,
        estimate=prep.estimate.as_dict(),
        peak_bytes=peak,
        seconds=round(time.perf_counter() - started, 2),
        metrics=fitted.metrics,
        settings=settings.as_config(),
        notes=prep.notes,
    )


def recipe_text(settings: Any) -> str:
    """The settings a recipe set, as the run uses them (a later layer may have changed one),
    then every other setting that is not a default, with the layer it came from."""
    from medsynth.train.recipes import stage_of

    stage = stage_of(settings.recipe, settings.kind, settings.recipe_stage or None)
    sources = settings.sources
    others = [
        key
        for key, source in sources.items()
        if key not in stage.settings and source in ("workspace", "smoke", "cli")
    ]
    shown = ", ".join(
        f"{key} {getattr(settings, key)}"
        + ("" if sources.get(key, "").startswith("recipe") else f" ({sources.get(key)})")
        for key in [*stage.settings, *others]
    )
    rows = ", ".join(settings.generators) or "all"
    return f"recipe {settings.recipe}, stage {stage.name} ({rows} samples): {shown}"


def recipe_of_run(ws: Workspace, options: TrainOptions) -> TrainOptions:
    """``--resume --name RUN`` without ``--recipe``: the recipe and stage the run was started
    with (so a resumed stage trains on the same rows with the same settings)."""
    from dataclasses import replace

    if not (options.resume and options.name) or options.recipe:
        return options
    for row in TrainRuns(ws.db).by_name(options.name):
        config = json.loads(row.get("config") or "{}")
        if config.get("recipe"):
            return replace(
                options, recipe=config["recipe"], stage=config.get("recipe_stage") or None
            )
    return options


def train_recipe(
    ws: Workspace,
    options: TrainOptions,
    *,
    echo: Echo = print,
    on_step: StepCallback | None = None,
) -> list[TrainResult]:
    """``train`` once, or, for a recipe with several stages (PubMedVision's alignment then
    instruction SFT) and no ``--stage``, each stage in order, every later one starting from the
    adapter the one before it wrote. Stage runs are named ``NAME-STAGE`` (``NAME`` is
    ``--name`` or ``KIND-RECIPE-TIME``). With ``--resume --name NAME`` finished stages are
    skipped, an unfinished one goes on from its checkpoint and the rest start fresh."""
    import datetime as dt
    from dataclasses import replace

    from medsynth.errors import InputError
    from medsynth.train.recipes import recipe

    options = recipe_of_run(ws, options)
    stages = recipe(options.recipe).stages(options.kind) if options.recipe else ()
    if options.stage is not None or len(stages) <= 1:
        return [train(ws, options, echo=echo, on_step=on_step)]
    if options.resume and not options.name:
        raise InputError(
            f"resuming recipe {options.recipe} needs the run's name",
            hint="pass --name NAME as given at the start (its stages are NAME-STAGE), "
            "or --stage with --name of one stage run",
        )
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = distributed.broadcast(options.name or f"{options.kind}-{options.recipe}-{stamp}")
    runs = TrainRuns(ws.db)
    results: list[TrainResult] = []
    previous = options.from_sft
    for stage in stages:
        name = f"{base}-{stage.name}"
        # rank 0's view: it may already have started this stage's row when another rank looks
        before = distributed.broadcast(runs.by_name(name) if options.resume else [])
        if before and before[0]["status"] == "ok":
            echo(f"recipe {options.recipe}: stage {stage.name} already done (run {name})")
            previous = name
            continue
        echo(f"recipe {options.recipe}: stage {stage.name} (run {name})")
        staged = replace(
            options, stage=stage.name, name=name, from_sft=previous, resume=bool(before)
        )
        results.append(train(ws, staged, echo=echo, on_step=on_step))
        previous = name
    return results


def run_config(prep: Prepared) -> dict[str, Any]:
    """The run's stored config: the settings, the prompt templates and what the data holds."""
    return {
        **prep.settings.as_config(),
        "templates": prep.templates,
        "vision": prep.vision,
        "rows": len(prep.rows),
        "export_counts": prep.export.counts(),
        "sources": dict(prep.settings.sources),
        "processes": distributed.world_size(),
    }


def record_rejects(ws: Workspace, export: train_data.ExportData, run_id: int | None) -> None:
    """The export's unusable rows, as rejects of this run."""
    for reject in export.rejects:
        record_reject(
            ws.db,
            stage="train",
            source=f"{export.path}:{reject.source.rsplit(':', 1)[-1]}",
            raw=reject.raw,
            reason=reject.reason,
            run_id=run_id,
        )


def run_row(prep: Prepared, config_record: dict[str, Any], run_id: int | None) -> dict[str, Any]:
    """The ``train_runs`` row of the run (and its provenance file)."""
    settings, export, estimate = prep.settings, prep.export, prep.estimate
    return {
        "name": settings.name,
        "kind": settings.kind,
        "base_model": str(settings.model),
        "base_model_hash": prep.model_hash,
        "init_adapter": str(settings.init_adapter or ""),
        "data_path": str(export.path),
        "data_hash": export.data_hash,
        "samples": len(prep.rows),
        "config": config_record,
        "versions": library_versions(),
        "device": _device_label(settings.device)
        + (f" x {distributed.world_size()} processes" if distributed.is_distributed() else ""),
        "quantization": settings.quantization,
        "smoke": int(settings.smoke),
        "preflight": estimate.as_dict(),
        "estimate_bytes": estimate.total,
        "budget_bytes": estimate.budget,
        "output_dir": str(settings.output_dir),
        "resumed_from": str(prep.resume_from or ""),
        "run_id": run_id,
    }


def start_run(
    runs: TrainRuns,
    recorder: RunRecorder,
    prep: Prepared,
    row: dict[str, Any],
    *,
    force: bool,
) -> int:
    """Refuse a run the preflight says will not fit (unless ``force``: then a note), check a
    resumed run's checkpoint, write the provenance and start the ``train_runs`` row."""
    estimate, output_dir = prep.estimate, prep.settings.output_dir
    if not estimate.fits and not force:
        train_run_id = runs.start(**row, status="refused")
        runs.finish(train_run_id, "refused", error="memory preflight")
        recorder.summary = {"train_run_id": train_run_id, "status": "refused"}
        raise TrainingRefused(
            f"{estimate.describe()}",
            hint=preflight.suggestion_text(estimate),
        )
    if not estimate.fits:
        prep.notes.append("preflight says this will not fit; running anyway (--force)")
    if prep.resume_from is not None:
        locate.check_resume(output_dir, prep.model_hash, prep.export.data_hash, force)
    locate.write_provenance(output_dir, row)
    train_run_id = runs.start(**row)
    recorder.summary = {"train_run_id": train_run_id, "name": prep.settings.name}
    return train_run_id


def fit_recorded(fit: Fit) -> Fitted:
    """:func:`_fit`; a run that raises is finished with the status the exception means (an
    out-of-memory error becomes a :class:`MedsynthError` with a hint)."""
    estimate = fit.prep.estimate
    try:
        return _fit(fit)
    except BaseException as exc:
        if fit.runs is not None:
            fit.runs.finish(
                fit.train_run_id,
                run_status(exc),
                error=f"{type(exc).__name__}: {exc}",
                peak_bytes=preflight.peak_memory(fit.prep.settings.device),
            )
        if _is_oom(exc):
            raise MedsynthError(
                f"out of memory: {exc}".splitlines()[0],
                hint=preflight.suggestion_text(estimate)
                if estimate.suggestion
                else "lower --batch-size (raise --grad-accum), --max-length or use --quant nf4",
            ) from exc
        raise


def finish_run(
    runs: TrainRuns, recorder: RunRecorder, prep: Prepared, train_run_id: int, fitted: Fitted
) -> int:
    """Finish the ``train_runs`` row (``ok``, or ``cancelled``: then raise
    :class:`~medsynth.errors.Cancelled` naming the checkpoint); returns the peak memory."""
    peak = preflight.peak_memory(prep.settings.device)
    steps = fitted.steps
    if fitted.cancelled:
        checkpoint = prep.settings.output_dir / f"checkpoint-{steps}"
        runs.finish(
            train_run_id,
            "cancelled",
            peak_bytes=peak,
            metrics=fitted.metrics,
            error=f"cancelled at step {steps}; checkpoint: {checkpoint}",
        )
        recorder.summary.update({"steps": steps, "peak_bytes": peak, "status": "cancelled"})
        raise Cancelled(
            f"training cancelled at step {steps}: {checkpoint.name} is saved; "
            f"resume run {prep.settings.name} to go on from it"
        )
    runs.finish(train_run_id, "ok", peak_bytes=peak, metrics=fitted.metrics)
    recorder.summary.update({"steps": steps, "peak_bytes": peak})
    return peak


def _fit(fit: Fit) -> Fitted:
    """Load the model, build the trainer, train, save the adapter (not when ``on_step``
    cancelled the run: then only the checkpoint at that step is written)."""
    from medsynth.train import grpo, sft
    from medsynth.train.modeling import load_base

    prep, settings = fit.prep, fit.prep.settings
    loaded = load_base(
        settings.model,
        device=distributed.local_device(settings.device),
        quantize=settings.quantization == "nf4",
    )
    dataset = train_data.to_dataset(prep.rows)
    recorder = StepRecorder(fit.runs, fit.train_run_id, settings.device, echo=_step_echo(fit.echo))
    hook = StepHook(recorder, fit.on_step)
    counter = distributed.RankSteps()
    callbacks = [recorder, hook, counter]
    if settings.kind == "sft":
        model = loaded.model
        if settings.init_adapter is not None:  # a later recipe stage
            model = grpo.with_adapter(model, settings.init_adapter)
        trainer = sft.build_trainer(model, prep.processor, dataset, settings, callbacks)
    else:
        model = loaded.model
        if settings.init_adapter is not None:
            model = grpo.with_adapter(model, settings.init_adapter)
        trainer = grpo.build_trainer(
            model, prep.processor, dataset, settings, callbacks, extra_rewards=fit.extra_rewards
        )
    trainer.train(resume_from_checkpoint=str(prep.resume_from) if prep.resume_from else None)
    ranks = distributed.gather(counter.report())  # every rank's steps and adapter checksum
    fitted = Fitted(
        steps=int(trainer.state.global_step),
        metrics={**recorder.summary, "ranks": ranks} if len(ranks) > 1 else recorder.summary,
        losses=recorder.losses,
        last=recorder.last,
        cancelled=hook.cancelled,
    )
    if not fitted.cancelled:
        _save_adapter(trainer, prep, fit.train_run_id)
    return fitted


def _save_adapter(trainer: Any, prep: Prepared, train_run_id: int) -> None:
    """``adapter/``: the peft weights, the processor and the provenance with the run's id."""
    output_dir = prep.settings.output_dir
    adapter = output_dir / "adapter"
    trainer.save_model(str(adapter))  # every rank (DeepSpeed gathers); transformers writes on 0
    if not distributed.is_main():
        return
    prep.processor.save_pretrained(str(adapter))
    provenance = json.loads((output_dir / locate.PROVENANCE).read_text(encoding="utf-8"))
    provenance["train_run_id"] = train_run_id
    (adapter / locate.PROVENANCE).write_text(json.dumps(provenance, indent=2, default=str))


def _silent(line: str) -> None:
    """The echo of the ranks other than 0."""


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
