"""The base model: loading a local folder for training, LoRA targets, quantisation, fingerprints.

Nothing is downloaded (``local_files_only=True`` everywhere). Vision-language folders load through
``AutoModelForImageTextToText`` and their processor, text-only ones through
``AutoModelForCausalLM`` and their tokenizer. LoRA goes on every linear layer of the language
model; the vision tower and the projector stay frozen (:func:`lora_target_pattern`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.backends.hf import FOLDER_HINT, is_vision_config
from medsynth.errors import ConfigError

# Module-path components that belong to the vision side of a VLM (tower, projector, merger).
VISION_PARTS = (
    "vision_tower",
    "vision_model",
    "vision_encoder",
    "visual",
    "image_encoder",
    "multi_modal_projector",
    "mm_projector",
    "connector",
    "vision_projection",
    "img_projection",
    "merger",
)
OUTPUT_HEADS = ("lm_head", "output", "embed_out")
WHOLE_FILE_LIMIT = 64 * 1024 * 1024  # weight files up to this size are hashed whole
SAMPLE_BYTES = 4 * 1024 * 1024  # larger ones: size + first and last 4 MiB


def is_vision_part(name: str) -> bool:
    """True when the dotted module name lies in the vision tower or projector.

    >>> is_vision_part("model.vision_tower.encoder.layers.0.self_attn.q_proj")
    True
    >>> is_vision_part("model.language_model.layers.0.self_attn.q_proj")
    False
    """
    return any(part in VISION_PARTS for part in name.split("."))


def language_linears(model: Any) -> list[tuple[str, Any]]:
    """(name, module) of every linear layer of the language model (output head excluded).

    bitsandbytes' ``Linear4bit`` subclasses ``torch.nn.Linear``, so quantised models work too.
    """
    import torch

    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not is_vision_part(name)
        and name.rsplit(".", 1)[-1] not in OUTPUT_HEADS
    ]


def lora_target_pattern(model: Any) -> str:
    """A peft ``target_modules`` regex (full match) selecting the language model's linear layers.

    >>> import torch
    >>> class Tiny(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.visual = torch.nn.ModuleDict({"q_proj": torch.nn.Linear(2, 2)})
    ...         self.layers = torch.nn.ModuleDict({"q_proj": torch.nn.Linear(2, 2)})
    ...         self.lm_head = torch.nn.Linear(2, 3)
    >>> pattern = lora_target_pattern(Tiny())
    >>> [bool(re.fullmatch(pattern, n)) for n in ("layers.q_proj", "visual.q_proj", "lm_head")]
    [True, False, False]
    """
    leaves = sorted({name.rsplit(".", 1)[-1] for name, _ in language_linears(model)})
    if not leaves:
        raise ConfigError(
            "found no linear layers in the language model to put LoRA on",
            hint="use a transformers causal LM or image-text-to-text model folder",
        )
    vision = "|".join(VISION_PARTS)
    return rf"^(?!(?:.*\.)?(?:{vision})\.)(?:.*\.)?(?:{'|'.join(map(re.escape, leaves))})$"


def read_config(folder: Path) -> Any:
    """The transformers config of a local model folder (no weights read)."""
    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise ConfigError(
            "no transformers model folder here (config.json is missing)",
            source=str(folder),
            hint=FOLDER_HINT,
        )
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(folder, local_files_only=True)


def bitsandbytes_usable() -> bool:
    """Whether bitsandbytes imports (its CPU and CUDA backends both load 4-bit weights)."""
    try:
        import bitsandbytes  # noqa: F401
    except Exception:  # ImportError, or a broken native library
        return False
    return True


def nf4_config(compute_dtype: Any) -> Any:
    """QLoRA's quantisation: 4-bit NormalFloat, double quantisation, ``compute_dtype`` compute."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


@dataclass
class LoadedModel:
    """A base model ready for peft, with its processor (or tokenizer) and how it was loaded."""

    model: Any
    processor: Any
    vision: bool
    quantized: bool
    dtype: str


def load_base(folder: Path, *, device: str, quantize: bool) -> LoadedModel:
    """Load the model folder for training: bf16 on CUDA, float32 on the CPU; NF4 when
    ``quantize`` (compute in that dtype); LoRA is added by the trainer."""
    import torch

    config = read_config(folder)
    vision = is_vision_config(config)
    on_cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if on_cuda else torch.float32
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if quantize:
        kwargs["quantization_config"] = nf4_config(dtype)
        kwargs["device_map"] = {"": device}
    if vision:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor: Any = AutoProcessor.from_pretrained(folder, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        processor = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    if not quantize:
        model = model.to(device)  # type: ignore[arg-type]
    tokenizer = getattr(processor, "tokenizer", processor)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    chat_template = getattr(processor, "chat_template", None) or getattr(
        tokenizer, "chat_template", None
    )
    if not chat_template:
        raise ConfigError(
            "the model folder has no chat template",
            source=str(folder),
            hint="use an instruction-tuned model folder (chat_template.jinja or a chat_template "
            "entry in tokenizer_config.json)",
        )
    return LoadedModel(model, processor, vision, quantize, str(dtype).removeprefix("torch."))


def fingerprint(folder: Path) -> str:
    """SHA-256 over the folder's config.json and weight files: small files whole, large ones by
    size plus their first and last 4 MiB (hashing 15 GB of weights would take minutes)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and (p.name == "config.json" or p.suffix in {".safetensors", ".bin", ".pt", ".gguf"})
    )
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= WHOLE_FILE_LIMIT:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            else:
                digest.update(handle.read(SAMPLE_BYTES))
                handle.seek(size - SAMPLE_BYTES)
                digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the training stack (added to the workspace's run versions)."""
    from importlib.metadata import PackageNotFoundError, version

    from medsynth.store.runs import versions

    found = versions()
    for package in ("transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    try:
        import torch

        found["cuda"] = str(torch.version.cuda or "")
    except ImportError:
        pass
    return found


def adapter_info(folder: Path) -> dict[str, Any]:
    """``adapter_config.json`` of a peft adapter folder, or a ConfigError naming the fix."""
    path = Path(folder) / "adapter_config.json"
    if not path.is_file():
        raise ConfigError(
            "no peft adapter here (adapter_config.json is missing)",
            source=str(folder),
            hint="name a run from `medsynth train runs`, or an adapter/ folder it wrote",
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def liger_usable() -> bool:
    """Whether Liger's kernels import (an optional extra; Triton kernels, CUDA only)."""
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None


def vllm_usable() -> bool:
    """Whether vLLM imports (an optional extra for GRPO's generation; CUDA only)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def trl_chunks_logits() -> bool:
    """Whether this TRL computes the loss through its fused, chunked LM head (``trl.trainer.
    utils.add_fused_lm_head``): then no step holds the whole (tokens x vocabulary) logits."""
    try:
        from trl.trainer.utils import add_fused_lm_head  # noqa: F401
    except ImportError:
        return False
    return True


def image_token_pixels(processor: Any) -> int | None:
    """Pixels one language-model token stands for in a dynamic-resolution image processor
    (Qwen2-VL / Qwen2.5-VL: (patch x merge)^2), or None for fixed-size processors."""
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is None or not hasattr(image_processor, "merge_size"):
        return None
    patch = int(getattr(image_processor, "patch_size", 14) or 14)
    merge = int(getattr(image_processor, "merge_size", 2) or 2)
    return (patch * merge) ** 2


def bound_images(processor: Any, image_tokens: int) -> int | None:
    """Cap a dynamic-resolution processor at ``image_tokens`` tokens per image (its
    ``max_pixels``, ``size["longest_edge"]`` in transformers 5); returns the pixel limit set,
    or None when the processor resizes to a fixed size or ``image_tokens`` is 0."""
    per_token = image_token_pixels(processor)
    if not image_tokens or per_token is None:
        return None
    limit = image_tokens * per_token
    image_processor = processor.image_processor
    size = getattr(image_processor, "size", None)
    if isinstance(size, dict):
        size["longest_edge"] = limit
        if size.get("shortest_edge", 0) > limit:
            size["shortest_edge"] = limit
    elif size is not None and hasattr(size, "longest_edge"):
        size.longest_edge = limit
        if (getattr(size, "shortest_edge", 0) or 0) > limit:
            size.shortest_edge = limit
    if hasattr(image_processor, "max_pixels"):
        image_processor.max_pixels = limit
    return limit
