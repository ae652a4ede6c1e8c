"""``medsynth train``: sft, grpo, merge, preflight, runs."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.cli.train_options import (
    TRAIN_OPTIONS,
    AccumOpt,
    BatchOpt,
    CheckpointingOpt,
    ModelOpt,
    RankOpt,
    TrainOpt,
)
from medsynth.errors import InputError, WorkspaceError

app = typer.Typer(
    help="Fine-tune the base model on an export: LoRA/QLoRA SFT, then GRPO with KG-path "
    "rewards; memory preflight; merge adapters.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def train_command(kind: str) -> Callable[[Callable[[], None]], Callable[..., None]]:
    """A ``train sft|grpo`` command with the :data:`TRAIN_OPTIONS` of ``kind``: the decorated
    function gives the name and the help; the options become its :class:`TrainOptions`."""
    declared = [opt for opt in TRAIN_OPTIONS if kind in opt.kinds]

    def decorate(doc: Callable[[], None]) -> Callable[..., None]:
        def command(**values: Any) -> None:
            from medsynth.train.settings import TrainOptions

            fields: dict[str, Any] = {}
            for opt in declared:
                if opt.field is not None:
                    value = values[opt.param]
                    fields[opt.field or opt.param] = opt.read(value) if opt.read else value
            if values["accelerate_config"] is not None:
                _launch(kind, declared, values)
                return
            options = TrainOptions(kind=kind, **fields)
            _run(options, values["workspace"], values["as_json"], values["wait"])

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [opt.parameter() for opt in declared], return_annotation=None
        )
        command.__annotations__ = {opt.param: opt.annotation for opt in declared}
        command.__annotations__["return"] = None
        command.__name__ = command.__qualname__ = doc.__name__
        command.__doc__ = doc.__doc__
        command.__module__ = doc.__module__
        return command

    return decorate


def command_line(kind: str, declared: list[TrainOpt], values: dict[str, Any]) -> list[str]:
    """The ``medsynth train KIND ...`` arguments that give ``values`` again, without
    ``--accelerate-config`` (what each launched process runs)."""
    argv = ["train", kind]
    for opt in declared:
        value = values[opt.param]
        if opt.param == "accelerate_config" or value is None or value == opt.default:
            continue
        info = opt.annotation.__metadata__[0]  # typer keeps the first name as its "default"
        flag = str(info.default) if str(info.default).startswith("-") else info.param_decls[0]
        if "/" in flag:  # --smoke/--no-smoke
            on, off = flag.split("/")
            argv.append(on if value else off)
        elif value is True:
            argv.append(flag)
        else:
            for item in value if isinstance(value, list) else [value]:
                argv += [flag, str(Path(item).resolve()) if isinstance(item, Path) else str(item)]
    return argv


def _launch(kind: str, declared: list[TrainOpt], values: dict[str, Any]) -> None:
    """``train KIND --accelerate-config FILE``: the same command on accelerate's processes."""
    from medsynth.train import distributed

    config = Path(values["accelerate_config"]).expanduser().resolve()
    argv = command_line(kind, declared, values)
    if values["device"] is None and distributed.wants_cpu(config):
        argv += ["--device", "cpu"]
    code = distributed.launch(config, argv)
    if code:
        raise typer.Exit(code)


def _run(options: Any, workspace: Path | None, as_json: bool, wait: bool = False) -> None:
    from medsynth.train import distributed
    from medsynth.train.service import train_recipe

    distributed.init(options.device)
    main = distributed.is_main()
    opened = None
    with distributed.together("opening the workspace"):  # rank 0 first: it alone writes
        if main:
            opened = open_workspace(workspace, writer=f"train {options.kind}", wait=wait)
    with distributed.together("opening the workspace"):
        ws = opened or distributed.reader_workspace(workspace)

    def echo(line: str) -> None:
        if not as_json and main:
            console.print(line)

    results = [r.as_dict() for r in train_recipe(ws, options, echo=echo)]
    if not main:
        return
    if as_json:
        emit_json(results[0] if len(results) == 1 else {"stages": results})
        return
    for data in results:
        _print_result(data)


def _print_result(data: dict[str, Any]) -> None:
    console.print(
        f"{data['kind']} run {data['name']}: {data['steps']} step(s) in {data['seconds']} s; "
        f"peak {data['peak_bytes'] / 2**30:.2f} GiB (estimated "
        f"{data['estimate']['total_gib']:.2f} GiB)"
    )
    console.print(f"  adapter: {data['adapter']}")
    console.print(f"  next: `medsynth train merge {data['name']}` (or --adapter-only)")


@app.command("sft")
@train_command("sft")
def sft() -> None:
    """Supervised fine-tuning (LoRA; QLoRA on CUDA) on the export's sft.jsonl, loss on the
    answers only. Prints the memory preflight first and refuses runs that will not fit."""


@app.command("grpo")
@train_command("grpo")
def grpo() -> None:
    """GRPO on the export's grpo.jsonl with the think prompt and the KG-path rewards (answer,
    path, full, format; structured format for reasoning rows), starting from the SFT adapter."""


@app.command("merge")
def merge(
    target: Annotated[
        str | None,
        typer.Argument(help="Run name or adapter folder (default: the newest finished run)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Merged model folder (default: adapters/NAME/merged)."),
    ] = None,
    base: Annotated[
        Path | None, typer.Option("--base", help="Base model folder (default: the run's).")
    ] = None,
    adapter_only: Annotated[
        bool,
        typer.Option(
            "--adapter-only", help="Do not merge: print the settings that load the adapter."
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge a trained LoRA adapter into its base model (a full transformers folder), or keep
    the adapter and print the medsynth.toml lines for the hf backend."""
    from medsynth.train.merge import adapter_snippet, find_adapter
    from medsynth.train.merge import merge as merge_adapter

    ws = open_workspace(workspace, writer="train merge", wait=wait)
    ref = find_adapter(ws, target)
    if base is not None:
        ref.base_model = base
    snippet = adapter_snippet(ref)
    if adapter_only:
        data: dict[str, Any] = {"adapter": str(ref.adapter), "base_model": str(ref.base_model)}
    else:
        from medsynth.train.service import quiet

        quiet()
        target_dir = out or (ref.adapter.parent / "merged")
        data = merge_adapter(ref, target_dir.expanduser().resolve())
        snippet = f'[models.base_model]\nbackend = "hf"\nmodel = {json.dumps(data["merged"])}\n'
    data["config"] = snippet
    if as_json:
        emit_json(data)
        return
    if "merged" in data:
        console.print(f"merged model written to {data['merged']}")
    console.print("use it with the hf backend (medsynth.toml):")
    console.print(snippet.rstrip())


@app.command("preflight")
def preflight_command(
    model: ModelOpt = None,
    kind: Annotated[str, typer.Option("--kind", help="sft or grpo.")] = "sft",
    device: Annotated[
        str, typer.Option("--device", help="Device the run is planned for: cuda or cpu.")
    ] = "cuda",
    quant: Annotated[str, typer.Option("--quant", help="nf4 or none.")] = "nf4",
    batch_size: BatchOpt = None,
    grad_accum: AccumOpt = None,
    lora_rank: RankOpt = None,
    max_length: Annotated[
        int | None,
        typer.Option("--max-length", min=32, help="Tokens per sample (GRPO: prompt tokens)."),
    ] = None,
    gradient_checkpointing: CheckpointingOpt = None,
    num_generations: Annotated[
        int | None, typer.Option("--num-generations", min=2, help="GRPO completions per prompt.")
    ] = None,
    max_completion_length: Annotated[
        int | None, typer.Option("--max-completion-length", min=4, help="GRPO completion limit.")
    ] = None,
    image_tokens: Annotated[
        int | None,
        typer.Option("--image-tokens", min=0, help="Tokens per image (default: config)."),
    ] = None,
    budget_gib: Annotated[
        float | None,
        typer.Option("--budget-gib", min=0.1, help="Memory to hold the estimate against."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate peak training memory from the model's config.json alone (no weights needed),
    e.g. for a 7B model on a GPU you do not have yet."""
    from medsynth.config import TrainConfig
    from medsynth.train import preflight

    try:
        ws = open_workspace(workspace)
        cfg = ws.config.train
        folder = model or ws.config.models.base_model.model
    except WorkspaceError:
        cfg, folder = TrainConfig(), model or ""
    if not folder:
        raise InputError("no model to estimate", hint="pass --model FOLDER (config.json is enough)")
    shape = preflight.model_shape(Path(folder).expanduser())
    plan = preflight.MemoryPlan(
        kind=kind,
        device=device,
        quantized=quant == "nf4",
        lora_rank=lora_rank or cfg.lora_rank,
        batch_size=batch_size or cfg.batch_size,
        grad_accum=grad_accum or cfg.grad_accum,
        seq_tokens=max_length or cfg.max_length,
        images_per_sample=1 if shape.vision else 0,
        image_tokens=image_tokens if image_tokens is not None else cfg.image_tokens,
        gradient_checkpointing=cfg.gradient_checkpointing
        if gradient_checkpointing is None
        else gradient_checkpointing,
        lora_dropout=cfg.lora_dropout > 0,
        num_generations=num_generations or cfg.num_generations,
        max_completion_length=max_completion_length or cfg.max_completion_length,
    )
    budget = None
    if budget_gib is not None:
        budget = (int(budget_gib * preflight.GIB), "given")
    result = preflight.check(shape, plan, budget=budget, can_quantize=True)
    data = {"model": str(folder), "shape": preflight.shape_dict(shape), **result.as_dict()}
    if as_json:
        emit_json(data)
        return
    console.print(
        f"{folder}: {shape.model_type}, {shape.total_params / 1e9:.2f} B parameters "
        f"({shape.vision_params / 1e9:.2f} B vision), {shape.image_tokens} tokens per image"
    )
    console.print(result.describe())
    if not result.fits:
        console.print(f"  {preflight.suggestion_text(result)}")


@app.command("runs")
def runs_command(
    name: Annotated[
        str | None, typer.Argument(help="A run's name: show its steps (default: list runs).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Runs to list.")] = 20,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List training runs (status, data and model hashes, estimate vs measured peak), or one
    run's per-step metrics."""
    from medsynth.train.runs import TrainRuns

    ws = open_workspace(workspace)
    runs = TrainRuns(ws.db)
    if name is None:
        rows = runs.recent(limit)
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            est = (row["estimate_bytes"] or 0) / 2**30
            peak = (row["peak_bytes"] or 0) / 2**30
            console.print(
                f"{row['id']:>4} {row['name']}  {row['kind']} {row['status']}  "
                f"{row['samples']} rows  data {str(row['data_hash'])[:10]}  "
                f"model {str(row['base_model_hash'])[:10]}  est {est:.2f} GiB  peak {peak:.2f} GiB"
            )
        return
    invocations = runs.by_name(name)
    if not invocations:
        raise InputError(
            "no training run by this name", source=name, hint="see `medsynth train runs`"
        )
    data = [{**row, "steps": runs.steps(row["id"])} for row in reversed(invocations)]
    if as_json:
        emit_json(data)
        return
    for row in data:
        console.print(
            f"invocation {row['id']} ({row['status']}, resumed from {row['resumed_from'] or '-'})"
        )
        for step in row["steps"]:
            rewards = json.loads(step["rewards"] or "{}")
            extra = " ".join(f"{k} {v:.2f}" for k, v in rewards.items() if v is not None)
            console.print(
                f"  step {step['step']}: loss {step['loss']}, lr {step['lr']}, "
                f"{step['tokens_per_s']} tok/s, peak {(step['peak_bytes'] or 0) / 2**30:.2f} GiB"
                + (f", rewards: {extra}" if extra else "")
            )
