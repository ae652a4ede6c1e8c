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


# Special tokens of each family at the ids its config names (the rest of the vocabulary: "w<id>").
SPECIAL_TOKENS: dict[str, dict[str, int]] = {
    "qwen2_5_vl": {
        "<|endoftext|>": 151643,
        "<|im_start|>": 151644,
        "<|im_end|>": 151645,
        "<|vision_start|>": 151652,
        "<|vision_end|>": 151653,
        "<|image_pad|>": 151655,
        "<|video_pad|>": 151656,
    },
    "llava": {"<unk>": 0, "<s>": 1, "</s>": 2, "<image>": 32000, "<pad>": 32001},
}
# The chat templates' role words, words of the vocabulary too (ids 10-15), not unknown tokens.
ROLE_WORDS = ("user", "assistant", "system", "USER:", "ASSISTANT:", "SYSTEM:")
CHAT_TEMPLATES = {
    "qwen2_5_vl": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}"
        "{{ m['content'] }}{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}"
        "<|vision_start|><|image_pad|><|vision_end|>{% elif p['type'] == 'text' %}{{ p['text'] }}"
        "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "llava": (
        "{% for m in messages %}{{ m['role'].upper() }}: {% if m['content'] is string %}"
        "{{ m['content'] }}{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %}"
        "<image>\n{% elif p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}"
        "{% if m['role'] == 'assistant' %}</s>{% endif %}{{ '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT: {% endif %}"
    ),
}


def tokenizer(model_type: str, vocab_size: int) -> Any:
    """A word-level tokenizer over the whole vocabulary (the real one cannot be downloaded):
    each space-separated word ``w<id>`` (or a role word) is one token, the family's special
    tokens sit at their real ids, so that sequence lengths, image tokens and logits have the real
    shapes."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = SPECIAL_TOKENS[model_type]
    by_id = {i: t for t, i in special.items()}
    by_id.update({10 + i: word for i, word in enumerate(ROLE_WORDS)})
    vocab = {by_id.get(i, f"w{i}"): i for i in range(vocab_size)}
    unk = "<unk>" if "<unk>" in special else "<|endoftext|>"
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=unk))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if model_type == "llava":
        names = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": unk}
    else:
        names = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": unk}
    fast = PreTrainedTokenizerFast(tokenizer_object=backend, **names)
    fast.add_special_tokens({"additional_special_tokens": list(special)})
    fast.chat_template = CHAT_TEMPLATES[model_type]
    return fast


def processor(name_or_config: Any) -> Any:
    """The processor of a shape (or of a config of the same family): the published image
    processor settings with :func:`tokenizer` and a chat template of the family's layout."""
    from transformers import AutoImageProcessor

    cfg = config(name_or_config) if isinstance(name_or_config, str) else name_or_config
    family = "llava" if cfg.model_type == "llava" else "qwen2_5_vl"
    source = folder("llava-1.5-7b" if family == "llava" else "qwen2.5-vl-3b")
    images = AutoImageProcessor.from_pretrained(source)
    text = tokenizer(family, int(cfg.get_text_config().vocab_size))
    if family == "llava":
        from transformers import LlavaProcessor

        return LlavaProcessor(
            image_processor=images,
            tokenizer=text,
            patch_size=cfg.vision_config.patch_size,
            vision_feature_select_strategy=cfg.vision_feature_select_strategy,
            chat_template=CHAT_TEMPLATES["llava"],
            num_additional_image_tokens=1,
        )
    from transformers import Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    return Qwen2_5_VLProcessor(
        image_processor=images,
        tokenizer=text,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATES["qwen2_5_vl"],
    )


def small_config(
    name: str = "qwen2.5-vl-3b",
    *,
    hidden: int = 512,
    layers: int = 4,
    intermediate: int = 1536,
    vision_hidden: int = 256,
    vision_layers: int = 2,
) -> Any:
    """The family of ``name`` at a reduced width and depth (its vocabulary and image processing
    kept): a ~100 M-parameter VLM for the CPU measurements."""
    cfg = config(name, layers, vision_layers)
    text = cfg.get_text_config()
    heads = max(1, hidden // 64)
    text.hidden_size, text.intermediate_size = hidden, intermediate
    text.num_attention_heads, text.num_key_value_heads = heads, max(1, heads // 4)
    if hasattr(text, "head_dim"):
        text.head_dim = 64
    vision = cfg.vision_config
    if hasattr(vision, "depth"):  # Qwen2.5-VL's vision tower and merger
        vision.hidden_size, vision.intermediate_size = vision_hidden, 2 * vision_hidden
        vision.num_heads, vision.out_hidden_size = max(1, vision_hidden // 64), hidden
        # mrope sections (temporal, height, width) add up to half the head dimension
        for key in ("rope_parameters", "rope_scaling"):
            value = getattr(text, key, None)
            if isinstance(value, dict) and "mrope_section" in value:
                setattr(text, key, {**value, "mrope_section": [8, 12, 12]})
    else:
        vision.hidden_size, vision.intermediate_size = vision_hidden, 2 * vision_hidden
        vision.num_attention_heads = max(1, vision_hidden // 64)
    return cfg


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
