"""After training: merge a LoRA adapter into its base model, or keep the adapter for the ``hf``
backend (``[models.*] backend = "hf"``, ``model = BASE``, ``adapter = ADAPTER``).

Merging loads the base in full precision (bf16 when the base was saved in 16 bits and a GPU is
here, else float32) and never onto 4-bit weights, which would round the merged result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.train.modeling import adapter_info, read_config
from medsynth.train.runs import TrainRuns
from medsynth.workspace import Workspace


@dataclass
class AdapterRef:
    """An adapter folder and the base model it was trained on."""

    adapter: Path
    base_model: Path
    name: str


def find_adapter(ws: Workspace, target: str | None) -> AdapterRef:
    """A run name (newest finished invocation), an adapter folder, or (None) the newest
    finished run of any kind."""
    runs = TrainRuns(ws.db)
    if target is None:
        rows = [r for r in runs.recent(limit=1000) if r["status"] == "ok"]
        if not rows:
            raise InputError(
                "no finished training run in this workspace",
                hint="run `medsynth train sft` first, or name an adapter folder",
            )
        row = rows[0]
        return AdapterRef(Path(row["output_dir"]) / "adapter", Path(row["base_model"]), row["name"])
    folder = Path(target).expanduser()
    if folder.is_dir():
        info = adapter_info(folder)
        provenance = folder / "medsynth_train.json"
        base = ""
        if provenance.is_file():
            base = json.loads(provenance.read_text(encoding="utf-8")).get("base_model", "")
        base = base or str(info.get("base_model_name_or_path") or "")
        if not base:
            raise InputError(
                "the adapter does not say which base model it belongs to",
                source=str(folder),
                hint="pass --base FOLDER",
            )
        return AdapterRef(folder.resolve(), Path(base), folder.name)
    rows = [r for r in runs.by_name(target) if r["status"] == "ok"]
    if not rows:
        raise InputError(
            "no finished run or adapter folder by this name",
            source=target,
            hint="`medsynth train runs` lists the runs",
        )
    row = rows[0]
    return AdapterRef(Path(row["output_dir"]) / "adapter", Path(row["base_model"]), row["name"])


def merge(ref: AdapterRef, out: Path, *, base: Path | None = None) -> dict[str, Any]:
    """Write base + adapter as one transformers folder at ``out`` (weights and processor)."""
    import torch

    from medsynth.backends.hf import is_vision_config

    base = (base or ref.base_model).expanduser()
    adapter_info(ref.adapter)
    config = read_config(base)
    if out.exists() and any(out.iterdir()):
        raise InputError(
            "the output folder is not empty", source=str(out), hint="choose another --out"
        )
    saved = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", "") or "")
    dtype = (
        torch.bfloat16
        if torch.cuda.is_available() and ("bfloat16" in saved or "float16" in saved)
        else torch.float32
    )
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if is_vision_config(config):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model: Any = AutoModelForImageTextToText.from_pretrained(base, **kwargs)
        processor: Any = AutoProcessor.from_pretrained(base, local_files_only=True)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
        processor = AutoTokenizer.from_pretrained(base, local_files_only=True)
    from peft import PeftModel

    merged = PeftModel.from_pretrained(model, str(ref.adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    provenance = {
        "base_model": str(base),
        "adapter": str(ref.adapter),
        "dtype": str(dtype).removeprefix("torch."),
    }
    (out / "medsynth_merge.json").write_text(json.dumps(provenance, indent=2))
    return {"merged": str(out), **provenance}


def adapter_snippet(ref: AdapterRef, role: str = "base_model") -> str:
    """The medsynth.toml lines that load the adapter through the ``hf`` backend."""
    return (
        f"[models.{role}]\n"
        'backend = "hf"\n'
        f"model = {json.dumps(str(ref.base_model))}\n"
        f"adapter = {json.dumps(str(ref.adapter))}\n"
    )
