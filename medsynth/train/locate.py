"""Where a training run's inputs and outputs are: the device, the base model (the tiny smoke
model included), quantisation, the run's name and folder, the checkpoint to resume from and the
SFT adapter GRPO starts from; the provenance file kept beside the checkpoints."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsynth.errors import ConfigError, InputError
from medsynth.train.modeling import adapter_info, bitsandbytes_usable
from medsynth.train.runs import TrainRuns
from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace

PROVENANCE = "medsynth_train.json"
REPO = Path(__file__).resolve().parents[2]
Echo = Callable[[str], None]


def pick_device(requested: str | None) -> str:
    import torch

    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(
                f"--device {requested}: no CUDA GPU is available here",
                hint="use --device cpu (or leave it out)",
            )
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def smoke_model(configured: str, echo: Echo) -> Path:
    """The smoke run's model: ``train.smoke_model``, else the repo's tiny LLaVA (built here,
    offline, in seconds, when missing)."""
    if configured:
        return Path(configured).expanduser()
    folder = REPO / "models" / "tiny" / "llava"
    builder = REPO / "models" / "build_tiny.py"
    if not (folder / "config.json").is_file():
        if not builder.is_file():
            raise ConfigError(
                "no tiny model for the smoke run",
                source=str(folder),
                hint="run `just tiny-models` in the MedSynth repository, or set "
                "train.smoke_model to a small local model folder",
            )
        echo(f"building the tiny test models into {folder.parent} (offline) ...")
        subprocess.run(
            [sys.executable, str(builder), str(folder.parent)],
            check=True,
            capture_output=True,
        )
    return folder


def base_model(ws: Workspace, options: TrainOptions, smoke: bool, echo: Echo) -> Path:
    if options.model:
        return Path(options.model).expanduser().resolve()
    if smoke:
        return smoke_model(ws.config.train.smoke_model, echo).resolve()
    configured = ws.config.models.base_model.model
    if not configured:
        raise ConfigError(
            "no base model to train",
            hint="set [models.base_model] model = 'FOLDER' in medsynth.toml, pass --model FOLDER, "
            "or try the pipeline with --smoke (a tiny model)",
        )
    return Path(configured).expanduser().resolve()


def quantization(requested: str, device: str) -> tuple[str, list[str]]:
    """nf4 or none, and why."""
    on_cuda = device.startswith("cuda")
    if requested == "auto":
        if on_cuda and bitsandbytes_usable():
            return "nf4", []
        reason = "no CUDA GPU" if not on_cuda else "bitsandbytes cannot run here"
        return "none", [f"plain LoRA (no 4-bit): {reason}"]
    if requested == "nf4" and not bitsandbytes_usable():
        raise ConfigError(
            "4-bit training needs bitsandbytes, which does not load here",
            hint="pip install bitsandbytes, or use --quant none",
        )
    return requested, []


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "model"


def run_name(ws: Workspace, options: TrainOptions, model: Path) -> str:
    """``--name``, the newest unfinished run of this kind (``--resume``), or a new name."""
    if options.name:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", options.name):
            raise InputError(
                "a run name may hold letters, digits, '.', '_' and '-' only",
                source=options.name,
                hint="choose another --name",
            )
        return options.name
    if options.resume:
        row = TrainRuns(ws.db).latest(options.kind)
        if row is None or row["status"] == "ok":
            raise InputError(
                f"no unfinished {options.kind} run to resume",
                hint="pass --name NAME of the run to resume (`medsynth train runs` lists them)",
            )
        return str(row["name"])
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{options.kind}-{slug(model.name)}-{stamp}"


def checkpoint_to_resume(output_dir: Path, resume: bool) -> Path | None:
    """The newest checkpoint when resuming; refuses to overwrite a run's checkpoints otherwise."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
    if resume:
        if last is None:
            raise InputError(
                "no checkpoint to resume from",
                source=str(output_dir),
                hint="start the run again without --resume",
            )
        return Path(last)
    if last is not None or (output_dir / "adapter").exists():
        raise InputError(
            "this run already has checkpoints or an adapter",
            source=str(output_dir),
            hint="add --resume to go on from its last checkpoint, or choose another --name",
        )
    return None


def sft_adapter(ws: Workspace, options: TrainOptions, model_hash: str, smoke: bool) -> Path | None:
    """GRPO's starting adapter: --from-sft (run name or folder), else the newest finished SFT
    run on the same base model; smoke runs without one start from a fresh LoRA."""
    if options.fresh_lora:
        return None
    runs = TrainRuns(ws.db)
    if options.from_sft:
        candidate = Path(options.from_sft).expanduser()
        if not candidate.exists():
            rows = [r for r in runs.by_name(options.from_sft) if r["status"] == "ok"]
            if not rows:
                raise InputError(
                    "no finished SFT run or adapter folder by this name",
                    source=options.from_sft,
                    hint="`medsynth train runs` lists the runs",
                )
            candidate = Path(rows[0]["output_dir"]) / "adapter"
        adapter_info(candidate)
        return candidate.resolve()
    row = runs.latest("sft", status="ok", base_model_hash=model_hash)
    if row is not None:
        return Path(row["output_dir"]) / "adapter"
    if smoke:
        return None
    raise InputError(
        "no finished SFT run on this base model to start GRPO from",
        hint="run `medsynth train sft` first, pass --from-sft NAME|FOLDER, or --fresh-lora",
    )


def write_provenance(output_dir: Path, fields: dict[str, Any]) -> None:
    """The run's config and hashes beside its checkpoints (resume and audit read it)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    keep = (
        "name",
        "kind",
        "base_model",
        "base_model_hash",
        "init_adapter",
        "data_path",
        "data_hash",
        "config",
        "versions",
        "device",
        "quantization",
        "smoke",
    )
    data = {k: fields[k] for k in keep}
    (output_dir / PROVENANCE).write_text(json.dumps(data, indent=2, default=str))


def check_resume(output_dir: Path, model_hash: str, data_hash: str, force: bool) -> None:
    """A resumed run must train the same base model on the same data."""
    path = output_dir / PROVENANCE
    if not path.is_file() or force:
        return
    before = json.loads(path.read_text(encoding="utf-8"))
    for key, now in (("base_model_hash", model_hash), ("data_hash", data_hash)):
        if before.get(key) != now:
            raise InputError(
                f"cannot resume: the {key.split('_hash')[0].replace('_', ' ')} changed since the "
                "checkpoints were written",
                source=str(output_dir),
                hint="resume with the same --model and --data, start a new --name, or --force",
            )
