"""Real model shapes without their weights: build Qwen2.5-VL-7B, Qwen2.5-VL-3B or LLaVA-1.5-7B
from the configs in ``models/shapes/`` with random weights, for memory and speed measurements.

Memory and speed depend on shapes, not on the values of the weights, so a randomly initialised
model of the published shape trains exactly like the real one would, as far as the GPU is
concerned. The configs were written by the project from the published hyper-parameters (layer
counts and widths, heads, vocabulary, vision tower, image processor limits).

- ``build(name, depth=2)`` on the CPU: the shape with fewer layers (the tests do this);
- ``build(name, device="cuda")``: the full model in bf16, created directly on the GPU;
- ``build_4bit(name, folder)``: the full model written once as safetensors into ``folder`` and
  loaded back in 4-bit NF4 (bitsandbytes quantises while loading), as QLoRA would load the real
  weights.

Run ``python models/build_shapes.py`` to print each shape's parameter counts (meta device: no
memory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SHAPES_DIR = Path(__file__).resolve().parent / "shapes"
SHAPES = ("qwen2.5-vl-7b", "qwen2.5-vl-3b", "llava-1.5-7b")


def folder(name: str) -> Path:
    """The config folder of a shape."""
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r}: one of {', '.join(SHAPES)}")
    return SHAPES_DIR / name


def config(name: str, depth: int | None = None, vision_depth: int | None = None) -> Any:
    """The shape's transformers config, with ``depth`` language layers (and ``vision_depth``
    vision layers, default: as many as ``depth``) when given."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(folder(name))
    if depth is not None:
        text = cfg.get_text_config()
        text.num_hidden_layers = depth
        if hasattr(text, "max_window_layers"):
            text.max_window_layers = depth
        if hasattr(text, "layer_types") and text.layer_types is not None:
            text.layer_types = text.layer_types[:depth]
        if hasattr(cfg, "num_hidden_layers") and cfg is not text:
            cfg.num_hidden_layers = depth
        vision = cfg.vision_config
        layers = vision_depth or depth
        if hasattr(vision, "depth"):  # Qwen2.5-VL
            vision.depth = layers
            vision.fullatt_block_indexes = [layers - 1]
        else:
            vision.num_hidden_layers = layers
    return cfg


def build(
    name: str,
    *,
    depth: int | None = None,
    device: str = "cpu",
    dtype: Any = None,
    seed: int = 0,
) -> Any:
    """The shape with random weights, created on ``device`` (bf16 by default)."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(
            config(name, depth), dtype=dtype or torch.bfloat16
        )
    return model.eval()


def build_4bit(name: str, out: Path, *, depth: int | None = None) -> Any:
    """The shape in 4-bit NF4 on the GPU: random bf16 weights are written once to ``out`` and
    loaded back quantised (needs CUDA and bitsandbytes)."""
    import torch
    from transformers import AutoModelForImageTextToText, BitsAndBytesConfig

    out = Path(out)
    if (
        not (out / "model.safetensors.index.json").exists()
        and not (out / "model.safetensors").exists()
    ):
        model = build(name, depth=depth, device="cuda")
        model.save_pretrained(out, max_shard_size="4GB")
        del model
        torch.cuda.empty_cache()
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    return AutoModelForImageTextToText.from_pretrained(
        out, quantization_config=quant, dtype=torch.bfloat16, device_map={"": 0}
    )


def max_pixels(name: str) -> int | None:
    """The image processor's pixel limit of a shape (None where it resizes to a fixed size)."""
    path = folder(name) / "preprocessor_config.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    value = data.get("max_pixels") or (data.get("size") or {}).get("max_pixels")
    return int(value) if value else None


def main() -> int:
    """Print every shape's parameter counts (built on the meta device)."""
    sys.path.insert(0, str(SHAPES_DIR.parents[1]))
    from medsynth.train.preflight import model_shape

    for name in SHAPES:
        shape = model_shape(folder(name))
        print(
            f"{name}: {shape.total_params / 1e9:.2f} B parameters "
            f"({shape.vision_params / 1e6:.0f} M vision), {shape.num_layers} layers x "
            f"{shape.hidden_size}, vocabulary {shape.vocab_size}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
