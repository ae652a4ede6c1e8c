"""The preflight's full-depth memory estimates for the published VLM shapes of ``models/shapes/``
(Qwen2.5-VL-7B, Qwen2.5-VL-3B, LLaVA-1.5-7B) on one GPU, next to the goals of issue 19:
QLoRA SFT at 1,024 tokens, batch 1, <= 8 GB; GRPO with 4 generations x 256 completion tokens
<= 16 GB. These are estimates (no GPU here): ``just gpu-bench`` measures them where a GPU is.

Each shape is estimated with the images bounded (``max_pixels`` = 512 merged patches, 512 image
tokens for Qwen) and, for Qwen, at the image processor's own limit (12.8 M pixels: 16,384
tokens per image), which is what an unbounded run would meet.

The loss is estimated as this TRL computes it: with TRL's chunked LM head (or Liger's fused
linear cross-entropy) only one tile of logits exists at a time; the ``full logits`` column is the
same run where the trainer materialises every logit (older TRL). ``alloc GB`` leaves out the
1 GiB CUDA context, which ``torch.cuda.max_memory_reserved`` (and Unsloth's published 6.48 GB)
does not count either.

Run as ``.venv/bin/python tests/bench/bench_shapes.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from medsynth.train.modeling import trl_chunks_logits  # noqa: E402
from medsynth.train.preflight import GIB, MemoryPlan, estimate, model_shape  # noqa: E402

GOALS = {"sft": 8.0, "grpo": 16.0}  # GB (10^9 bytes), issue 19
BOUNDED = 512 * 28 * 28


def main() -> int:
    spec = importlib.util.spec_from_file_location("shapes", REPO / "models" / "build_shapes.py")
    assert spec and spec.loader
    shapes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shapes)
    print(
        "shape            images        kind  estimate GiB (GB)  alloc GB  goal GB        "
        "full logits GiB  parts GiB"
    )
    verdicts: dict[tuple[str, str, str], tuple[bool, bool]] = {}
    for name in shapes.SHAPES:
        limits = [("bounded", BOUNDED)]
        if shapes.max_pixels(name):
            limits.append(("processor", None))
        for label, pixels in limits:
            shape = model_shape(shapes.folder(name), max_pixels=pixels)
            plans = {
                "sft": MemoryPlan(kind="sft", batch_size=1, seq_tokens=1024),
                "grpo": MemoryPlan(
                    kind="grpo", batch_size=4, num_generations=4, max_completion_length=256,
                    seq_tokens=1024,
                ),
            }  # fmt: skip
            for kind, plan in plans.items():
                result = estimate(shape, plan)
                full = estimate(shape, replace(plan, chunked_logits=False))
                gb = result.total / 1e9
                alloc = (result.total - result.parts["runtime"]) / 1e9
                verdict = "meets" if gb <= GOALS[kind] else "OVER"
                verdicts[(name, label, kind)] = (gb <= GOALS[kind], alloc <= GOALS[kind])
                parts = ", ".join(f"{k} {v / GIB:.2f}" for k, v in result.parts.items() if v)
                print(
                    f"{name:<16} {label:<9} {shape.image_tokens:>5} t  {kind:<4} "
                    f"{result.total / GIB:6.2f} ({gb:5.2f})  {alloc:7.2f}  {GOALS[kind]:>5.1f} "
                    f"{verdict:<5}  {full.total / GIB:6.2f}  {parts}"
                )
    chunked = "on" if trl_chunks_logits() else "off (this TRL materialises the logits)"
    total_ok, alloc_ok = verdicts[("qwen2.5-vl-7b", "bounded", "sft")]
    print(
        f"chunked loss: {chunked}; Qwen2.5-VL-7B QLoRA SFT (1,024 tokens, batch 1, 512 image "
        f"tokens) <= 8 GB: {'met' if total_ok else 'NOT met'} with the CUDA context counted, "
        f"{'met' if alloc_ok else 'NOT met'} as torch's allocator counts it"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
