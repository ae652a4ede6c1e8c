"""Memory preflight: estimate a training run's peak memory before any weights are loaded.

The model's shape comes from its ``config.json`` alone: the model is built on PyTorch's ``meta``
device (no memory, no weights) and its parameters are counted, so a 7B folder can be estimated
from its config. The estimate adds up, in bytes:

- **weights**: NF4 stores each quantisable linear weight in 4 bits plus its double-quantised
  block scales (~4.127 bits); everything else (embeddings, norms, output head) stays in the
  compute dtype (bf16 on a GPU, float32 on the CPU);
- **adapter**: LoRA's r x (in + out) parameters per targeted layer, with their gradients (bf16
  under QLoRA as TRL casts them, float32 otherwise) and two AdamW moments (8-bit with the paged
  8-bit optimizer that ``optimizer = "auto"`` picks on CUDA, else as the weights);
- **activations** kept for the backward pass: per token and layer (8 hidden + 2 kv +
  6 intermediate) values, and (8 hidden + kv + intermediate) more when LoRA dropout is on (each
  adapted layer keeps its own dropped-out input). These counts were measured on a Llama decoder
  with LoRA on every linear layer by summing the tensors autograd saves (SDPA attention keeps
  no S x S matrix). With gradient checkpointing only each layer's input is kept, plus one
  layer's worth during its recomputation;
- **logits**: with a TRL whose trainers compute the loss through their fused, chunked LM head
  (``add_fused_lm_head``, TRL 1.x; or Liger's fused linear cross-entropy on older ones) only one
  tile of at most 4,096 tokens x 32,768 vocabulary entries exists at a time: in the compute dtype
  on a GPU (Triton folds it in place), plus about :data:`CPU_TILE_COPIES` float32 temporaries of
  it on the CPU (the torch fallback), and the float32 gradient of the hidden states. Without it:
  tokens x vocabulary in the compute dtype, the float32 copy the loss upcasts to and its
  gradient, plus the entropy metric (about 12 bytes more per logit). On a GPU, GRPO scores only
  the completion tokens; the CPU fallback scores every position;
- **generation** (GRPO): the KV cache of every completion sampled at once;
- a 20 % margin for allocator fragmentation on everything that changes size, and the
  **runtime**: the CUDA context (about 1 GiB) on a GPU, or on the CPU the process's resident
  memory at the time of the estimate (Python, torch, transformers, TRL already imported) plus
  64 MiB for what is built after it (dataset, trainer, optimizer objects).

On the CPU the estimate was checked against the measured peak RSS (``tests/bench/
bench_train.py``, ``tests/bench/gpu_bench.py --cpu-tiny / --cpu-mid``); ``just gpu-bench``
measures it on a GPU (not run yet: no GPU was available when this was written).

When the total exceeds the budget (free GPU memory, or available RAM), :func:`suggest` walks
through cheaper settings (gradient checkpointing, 4-bit, smaller batch with more accumulation,
fewer generations, shorter sequences, lower rank) until one fits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from medsynth.train.modeling import is_vision_part, language_linears

GIB = 1024**3
NF4_BYTES = 4.127 / 8  # 4-bit weights + double-quantised absmax (8 bit / 64, fp32 / 16384)
CUDA_RUNTIME = 1 * GIB
MARGIN = 0.20
CPU_GROWTH = 64 * 1024**2  # dataset, trainer and optimizer objects made after the preflight
TOKEN_TILE = 4096  # TRL's chunked LM head: tokens per projection tile
VOCAB_TILE = 32768  # ... and vocabulary entries per tile
CPU_TILE_COPIES = 6  # float32 temporaries of one tile in TRL's torch (non-Triton) fallback


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on, counted from a config: parameters and layer sizes."""

    model_type: str
    vision: bool
    total_params: int
    vision_params: int  # vision tower + projector
    quantizable_params: int  # linear weights outside the output head (what NF4 converts)
    lora_params_per_rank: int  # sum of (in + out) over the LoRA-targeted linear layers
    hidden_size: int
    num_layers: int
    intermediate_size: int
    kv_size: int  # key/value heads x head dim
    vocab_size: int
    image_tokens: int  # language-model tokens per image (an estimate for dynamic resolutions)

    @property
    def language_params(self) -> int:
        return self.total_params - self.vision_params


def _image_tokens(config: Any) -> int:
    """Tokens one image becomes, from the config (dynamic-resolution models: a 512 px image)."""
    vision = getattr(config, "vision_config", None)
    if vision is None:
        return 0
    model_type = getattr(config, "model_type", "")
    patch = int(getattr(vision, "patch_size", 14) or 14)
    if model_type in {"qwen2_vl", "qwen2_5_vl", "qwen3_vl"}:
        merge = int(getattr(vision, "spatial_merge_size", 2) or 2)
        side = 512 // (patch * merge)
        return side * side
    size = getattr(vision, "image_size", 336)
    size = int(size[0] if isinstance(size, list | tuple) else size)
    per_tile = (size // patch) ** 2
    if model_type in {"idefics3", "smolvlm"}:
        scale = int(getattr(config, "scale_factor", 1) or 1)
        return 5 * per_tile // (scale * scale)  # 2 x 2 tiles + the global image
    if model_type == "llava_next":
        return 5 * per_tile
    return per_tile


def shape_from_config(config: Any) -> ModelShape:
    """Count parameters by building the model on the ``meta`` device: no weights, no memory."""
    import torch

    from medsynth.backends.hf import is_vision_config

    vision = is_vision_config(config)
    with torch.device("meta"):
        if vision:
            from transformers import AutoModelForImageTextToText

            model = AutoModelForImageTextToText.from_config(config)
        else:
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_config(config)
    total = vision_params = 0
    for name, param in model.named_parameters():
        total += param.numel()
        if is_vision_part(name):
            vision_params += param.numel()
    linears = language_linears(model)
    quantizable = sum(
        module.weight.numel()
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] != "lm_head"
    )
    text = config.get_text_config()
    heads = int(getattr(text, "num_attention_heads", 1))
    hidden = int(text.hidden_size)
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    return ModelShape(
        model_type=str(getattr(config, "model_type", "")),
        vision=vision,
        total_params=total,
        vision_params=vision_params,
        quantizable_params=quantizable,
        lora_params_per_rank=sum(m.in_features + m.out_features for _, m in linears),
        hidden_size=hidden,
        num_layers=int(text.num_hidden_layers),
        intermediate_size=int(getattr(text, "intermediate_size", 4 * hidden)),
        kv_size=kv_heads * head_dim,
        vocab_size=int(text.vocab_size),
        image_tokens=_image_tokens(config) if vision else 0,
    )


def model_shape(folder: Path, max_pixels: int | None = None) -> ModelShape:
    """:func:`shape_from_config` of a model folder's ``config.json``, with the tokens per image
    its image processor allows (:func:`image_tokens_for`)."""
    from medsynth.train.modeling import read_config

    shape = shape_from_config(read_config(folder))
    tokens = image_tokens_for(folder, max_pixels) if shape.vision else 0
    return replace(shape, image_tokens=tokens) if tokens else shape


def image_tokens_for(folder: Path, max_pixels: int | None = None) -> int:
    """The most language-model tokens one image can become: for dynamic-resolution processors
    (Qwen2-VL / Qwen2.5-VL) ``max_pixels`` (given, else the processor's own limit) divided by
    the pixels of one merged patch; for fixed-size processors, from the config. 0 when the
    folder says nothing about it.
    """
    import json

    from medsynth.train.modeling import read_config

    path = Path(folder) / "preprocessor_config.json"
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
    limit = max_pixels or data.get("max_pixels") or (data.get("size") or {}).get("longest_edge")
    config = read_config(folder)
    if getattr(config, "model_type", "") in {"qwen2_vl", "qwen2_5_vl", "qwen3_vl"} and limit:
        vision = config.vision_config
        patch = int(data.get("patch_size") or getattr(vision, "patch_size", None) or 14)
        merge = int(data.get("merge_size") or getattr(vision, "spatial_merge_size", None) or 2)
        return int(limit) // (patch * merge) ** 2
    return _image_tokens(config)


@dataclass(frozen=True)
class MemoryPlan:
    """The settings that drive peak memory."""

    kind: str = "sft"  # sft | grpo
    device: str = "cuda"  # cuda | cpu
    quantized: bool = True
    lora_rank: int = 16
    batch_size: int = 4  # per device (GRPO: completions per step)
    grad_accum: int = 1
    seq_tokens: int = 1024  # SFT: longest prompt + answer; GRPO: longest prompt (image included)
    images_per_sample: int = 1
    image_tokens: int = 0  # per image; 0: the shape's default
    gradient_checkpointing: bool = True
    lora_dropout: bool = True
    num_generations: int = 4  # GRPO
    max_completion_length: int = 256  # GRPO
    runtime_bytes: int | None = None  # None: CUDA context on a GPU, 0 on the CPU
    chunked_logits: bool | None = None  # None: whether this TRL has its chunked LM head
    optimizer_8bit: bool | None = None  # None: on CUDA (the "auto" optimizer is paged 8-bit)

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")


@dataclass
class Estimate:
    """An estimate's parts (bytes), its total and, once checked, the budget it was held against."""

    plan: MemoryPlan
    parts: dict[str, int]
    total: int
    budget: int | None = None
    budget_source: str = ""
    suggestion: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.budget is None or self.total <= self.budget

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total,
            "total_gib": round(self.total / GIB, 3),
            "parts_bytes": self.parts,
            "budget_bytes": self.budget,
            "budget_gib": None if self.budget is None else round(self.budget / GIB, 3),
            "budget_source": self.budget_source,
            "fits": self.fits,
            "plan": asdict(self.plan),
            "suggestion": self.suggestion,
            "notes": self.notes,
        }

    def describe(self) -> str:
        """One line: total, the main parts and the budget."""
        parts = ", ".join(f"{k} {v / GIB:.2f}" for k, v in self.parts.items() if v)
        text = f"preflight: estimated peak {self.total / GIB:.2f} GiB ({parts} GiB)"
        if self.budget is not None:
            verdict = "fits" if self.fits else "does NOT fit"
            text += f"; {verdict} in {self.budget / GIB:.2f} GiB {self.budget_source}"
        return text


def estimate(shape: ModelShape, plan: MemoryPlan) -> Estimate:
    """Peak memory of training ``shape`` under ``plan`` (see the module doc for the model)."""
    act = 2 if plan.on_cuda else 4  # bf16 on a GPU, float32 on the CPU
    image_tokens = plan.image_tokens or shape.image_tokens
    if plan.quantized:
        weights = shape.quantizable_params * NF4_BYTES
        weights += (shape.total_params - shape.quantizable_params) * act
    else:
        weights = shape.total_params * act
    lora = plan.lora_rank * shape.lora_params_per_rank
    eight_bit = plan.on_cuda if plan.optimizer_8bit is None else plan.optimizer_8bit
    per_param = 4 if plan.quantized and plan.on_cuda else 8  # the weight and its gradient
    adapter = lora * (per_param + (2 if eight_bit else per_param))  # + two AdamW moments

    hidden, kv, inner = shape.hidden_size, shape.kv_size, shape.intermediate_size
    per_token_layer = 8 * hidden + 2 * kv + 6 * inner
    if plan.lora_dropout:  # each adapted layer keeps its own dropped-out copy of its input
        per_token_layer += 8 * hidden + kv + inner
    images = image_tokens * plan.images_per_sample if shape.vision else 0
    chunked = plan.chunked_logits
    if chunked is None:
        from medsynth.train.modeling import trl_chunks_logits

        chunked = trl_chunks_logits()
    if plan.kind == "grpo":
        seq = plan.seq_tokens + plan.max_completion_length
        scored = plan.max_completion_length if plan.on_cuda or not chunked else seq
        logit_tokens = plan.batch_size * scored
    else:
        seq = plan.seq_tokens
        logit_tokens = plan.batch_size * plan.seq_tokens
    tokens = plan.batch_size * seq
    if plan.gradient_checkpointing:
        activations = tokens * act * (shape.num_layers * shape.hidden_size + per_token_layer)
    else:
        activations = tokens * act * shape.num_layers * per_token_layer
    # the frozen vision tower runs without keeping activations: one layer's worth at a time
    activations += plan.batch_size * images * shape.hidden_size * 8 * act
    logits = logits_bytes(shape, logit_tokens, act, chunked=chunked, on_cuda=plan.on_cuda)

    generation = 0
    if plan.kind == "grpo":
        completions = plan.batch_size * plan.grad_accum  # sampled together (generation batch)
        kv = 2 * shape.num_layers * shape.kv_size * act
        generation = completions * seq * kv + completions * shape.vocab_size * 4
    runtime = plan.runtime_bytes
    if runtime is None:
        runtime = CUDA_RUNTIME if plan.on_cuda else 0
    elif not plan.on_cuda:
        runtime += CPU_GROWTH
    dynamic = activations + logits + generation
    parts = {
        "weights": int(weights),
        "adapter": int(adapter),
        "activations": int(activations),
        "logits": int(logits),
        "generation": int(generation),
        "margin": int(MARGIN * dynamic),
        "runtime": int(runtime),
    }
    return Estimate(plan=plan, parts=parts, total=sum(parts.values()))


def logits_bytes(shape: ModelShape, tokens: int, act: int, *, chunked: bool, on_cuda: bool) -> int:
    """Memory of the loss over ``tokens`` scored positions (see the module doc)."""
    if not chunked:
        return tokens * shape.vocab_size * (act + 12)
    tile = min(tokens, TOKEN_TILE) * min(shape.vocab_size, VOCAB_TILE)
    temporaries = 0 if on_cuda else CPU_TILE_COPIES * 4
    return tile * (act + temporaries) + tokens * shape.hidden_size * (4 + act)


def cheaper_plans(plan: MemoryPlan, *, can_quantize: bool) -> list[tuple[str, MemoryPlan]]:
    """Ever cheaper variants of ``plan``, one change at a time, each building on the last."""
    steps: list[tuple[str, MemoryPlan]] = []
    current = plan
    if not current.gradient_checkpointing:
        current = replace(current, gradient_checkpointing=True)
        steps.append(("gradient_checkpointing", current))
    if not current.quantized and can_quantize:
        current = replace(current, quantized=True)
        steps.append(("quantization", current))
    while current.batch_size > 1:
        # keep the effective batch: halve the batch, double the accumulation
        smaller = replace(
            current, batch_size=current.batch_size // 2, grad_accum=current.grad_accum * 2
        )
        if current.kind == "grpo" and (smaller.batch_size * smaller.grad_accum) % max(
            2, smaller.num_generations
        ):
            break
        current = smaller
        steps.append(("batch_size", current))
    if current.kind == "grpo":
        while current.num_generations > 2:
            current = replace(current, num_generations=max(2, current.num_generations // 2))
            steps.append(("num_generations", current))
        while current.max_completion_length > 128:
            current = replace(
                current, max_completion_length=max(128, current.max_completion_length // 2)
            )
            steps.append(("max_completion_length", current))
    floor = 128 + (current.image_tokens or 0) * current.images_per_sample
    while current.seq_tokens > floor and current.seq_tokens > 256:
        current = replace(current, seq_tokens=max(floor, 256, current.seq_tokens * 3 // 4))
        steps.append(("seq_tokens", current))
    while current.lora_rank > 8:
        current = replace(current, lora_rank=current.lora_rank // 2)
        steps.append(("lora_rank", current))
    return steps


def suggest(shape: ModelShape, result: Estimate, *, can_quantize: bool) -> dict[str, Any] | None:
    """The first cheaper plan that fits ``result.budget``: its changed settings and estimate."""
    if result.budget is None or result.fits:
        return None
    for _, plan in cheaper_plans(result.plan, can_quantize=can_quantize):
        trial = estimate(shape, plan)
        if trial.total <= result.budget:
            changed = {
                key: value
                for key, value in asdict(plan).items()
                if value != getattr(result.plan, key)
            }
            return {"settings": changed, "total_bytes": trial.total}
    return {"settings": {}, "total_bytes": None}


def device_budget(device: str, fraction: float = 0.95) -> tuple[int, str]:
    """Memory a run may use: ``fraction`` of the GPU's free memory, or the RAM available now
    plus this process's resident memory (which the CPU estimate includes)."""
    if device.startswith("cuda"):
        import torch

        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        return int(free * fraction), (
            f"free on {device} ({name}, {total / GIB:.1f} GiB total, {fraction:.0%} of free)"
        )
    import psutil

    available = psutil.virtual_memory().available + current_rss()
    return int(available * fraction), f"RAM available ({fraction:.0%})"


def current_rss() -> int:
    """Resident memory of this process now."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def peak_memory(device: str) -> int:
    """Peak so far: CUDA's max reserved memory plus the runtime estimate, or the peak RSS."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_reserved(torch.device(device))) + CUDA_RUNTIME
    return peak_rss()


def peak_rss() -> int:
    """This process's peak resident memory: Linux's VmHWM (the high-water mark of this program;
    ``ru_maxrss`` would also count a parent's memory carried over by fork and exec), else
    ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def check(
    shape: ModelShape,
    plan: MemoryPlan,
    *,
    budget: tuple[int, str] | None,
    can_quantize: bool,
) -> Estimate:
    """Estimate ``plan`` and hold it against ``budget``; a suggestion is attached when it does
    not fit."""
    result = estimate(shape, plan)
    if budget is not None:
        result.budget, result.budget_source = budget
        result.suggestion = suggest(shape, result, can_quantize=can_quantize)
    return result


OPTION_NAMES = {
    "gradient_checkpointing": "--gradient-checkpointing",
    "quantized": "--quant nf4",
    "batch_size": "--batch-size",
    "grad_accum": "--grad-accum",
    "num_generations": "--num-generations",
    "max_completion_length": "--max-completion-length",
    "seq_tokens": "--max-length",
    "lora_rank": "--lora-rank",
}


def suggestion_text(result: Estimate) -> str:
    """The command-line options of ``result.suggestion``, or advice when nothing fits."""
    suggestion = result.suggestion or {}
    settings = suggestion.get("settings") or {}
    if not settings:
        return (
            "no cheaper setting fits: use a smaller base model, free memory on the device, or "
            "a bigger GPU (--force runs anyway)"
        )
    flags = []
    for key, value in settings.items():
        flag = OPTION_NAMES.get(key, key)
        if isinstance(value, bool):
            flags.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            flags.append(f"{flag} {value}")
    total = suggestion.get("total_bytes") or 0
    return f"try {' '.join(flags)} (estimated {total / GIB:.2f} GiB); --force runs anyway"


def shape_dict(shape: ModelShape) -> dict[str, Any]:
    """The shape as JSON-ready data, with parameter counts in billions for reading."""
    data = asdict(shape)
    data["total_params_b"] = round(shape.total_params / 1e9, 3)
    data["language_params"] = shape.language_params
    return data
