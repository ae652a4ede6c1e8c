"""One GPU benchmark: a few steps of QLoRA SFT and of GRPO on each published VLM shape
(``models/shapes/``, random weights), with the measured peak memory, step time, tokens/s and
GRPO's completions/s next to the preflight's estimate.

``just gpu-bench`` (or ``.venv/bin/python tests/bench/gpu_bench.py``) on a CUDA machine: for each
shape the full-depth model is written once with random bf16 weights and loaded back through
``medsynth.train.modeling.load_base`` in 4-bit NF4, as a real run loads it; then SFT (batch 1,
1,024 tokens with one image) and GRPO (one prompt, 4 generations x 256 completion tokens), each in
a fresh process, through the trainers of :mod:`medsynth.train.sft` and :mod:`medsynth.train.grpo`.
It reports ``torch.cuda.max_memory_allocated`` and ``max_memory_reserved`` next to the estimate
without the CUDA context (the allocator does not see the context), and keeps to a time budget
(``--budget``, 450 s by default): a case that would start past it is listed as skipped, never
dropped silently. Without a GPU it says so and exits 0.

The same code runs on the CPU so that its output is tested without a GPU:

- ``--cpu-tiny``: the tiny random LLaVA of ``models/tiny`` (float32, no quantisation);
- ``--cpu-mid``: a ~100 M-parameter Qwen2.5-VL (the published vocabulary and image processing,
  6 layers x 512 wide; ``models/build_shapes.small_config``);
- ``--cpu-shapes --depth 1``: the published shapes at full width and ``--depth`` layers, in 4-bit
  through bitsandbytes' CPU backend, with the GPU setup (1,024 tokens, 4 x 256 generations):
  the GPU run's code end to end, slowly (minutes per case).

On the CPU the measured peak is the process's peak RSS (VmHWM) and the estimate includes the
process's memory at the preflight, as ``medsynth train`` does. Every figure is also written as JSON
(``--json``, default ``gpu_bench.json`` in the working directory).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

GIB = 1024**3
GPU_SHAPES = ("qwen2.5-vl-7b", "llava-1.5-7b", "qwen2.5-vl-3b")
# What each kind of case runs: tokens, image side (px), batch, GRPO's generations and length.
GPU_SETUP = {
    "seq_tokens": 1024,
    "image_px": 448,
    "sft_batch": 1,
    "generations": 4,
    "completion": 256,
}
CPU_SETUP = {
    "tiny": {"seq_tokens": 128, "image_px": 64, "sft_batch": 2, "generations": 4, "completion": 16},
    "mid": {"seq_tokens": 512, "image_px": 224, "sft_batch": 2, "generations": 4, "completion": 32},
}
FIELDS = (
    "case", "kind", "device", "params_m", "quantized", "seq_tokens", "image_px", "image_tokens",
    "batch", "num_generations", "completion_tokens", "steps", "step_s", "tokens_per_s",
    "completions_per_s", "mean_completion_tokens", "peak_allocated_gib", "peak_reserved_gib",
    "peak_rss_gib", "measured_gib", "estimate_gib", "estimate_parts_gib", "error_pct",
)  # fmt: skip


def shapes_module() -> Any:
    """``models/build_shapes.py`` as a module (a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_shapes", REPO / "models/build_shapes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_model(case: str, out: Path, device: str, depth: int | None = None) -> Path:
    """A model folder with random weights and a processor: ``mid`` the small Qwen2.5-VL,
    anything else a full-depth published shape (bf16 on CUDA)."""
    import torch
    from transformers import AutoModelForImageTextToText

    shapes = shapes_module()
    if (out / "config.json").exists():
        return out
    cfg = shapes.small_config(layers=6) if case == "mid" else shapes.config(case, depth)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(cfg, dtype=dtype)
    text = cfg.get_text_config()
    model.generation_config.pad_token_id = text.pad_token_id or text.eos_token_id
    model.save_pretrained(out, max_shard_size="4GB")
    shapes.processor(cfg).save_pretrained(out)
    return out


def filler(tokenizer: Any, tokens: int) -> str:
    """Text of about ``tokens`` tokens for ``tokenizer``."""
    words = [f"w{100 + i % 800}" for i in range(max(1, tokens))]
    per_word = len(tokenizer(" ".join(words[:64]), add_special_tokens=False)["input_ids"]) / 64
    return " ".join(words[: max(1, int(tokens / per_word))])


def synthetic_rows(
    kind: str, processor: Any, setup: dict[str, int], count: int
) -> tuple[list[dict[str, Any]], int, int]:
    """``count`` rows of one image and filler text, SFT prompt + answer (or a GRPO prompt) of
    about ``seq_tokens`` tokens; returns the rows, the tokens of one image and of one row."""
    from PIL import Image

    tokenizer = getattr(processor, "tokenizer", processor)
    side = setup["image_px"]
    image = Image.new("RGB", (side, side), (90, 120, 150))
    probe = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "w1"}]}]
    text = processor.apply_chat_template(probe, add_generation_prompt=True, tokenize=False)
    encoded = processor(text=[text], images=[image], return_tensors="pt")
    image_id = getattr(processor, "image_token_id", None) or tokenizer.convert_tokens_to_ids(
        getattr(processor, "image_token", "<image>")
    )
    image_tokens = int((encoded["input_ids"] == image_id).sum())
    overhead = int(encoded["input_ids"].shape[1]) - image_tokens
    budget = max(16, setup["seq_tokens"] - image_tokens - overhead)
    answer_tokens = budget // 4 if kind == "sft" else 0
    question = filler(tokenizer, budget - answer_tokens)
    rows = []
    for _ in range(count):
        prompt = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
        ]
        row: dict[str, Any] = {"prompt": prompt, "images": [image]}
        if kind == "sft":
            answer = filler(tokenizer, answer_tokens)
            row["completion"] = [
                {"role": "assistant", "content": [{"type": "text", "text": answer}]}
            ]
        rows.append(row)
    full = [*rows[0]["prompt"], *rows[0].get("completion", [])]
    text = processor.apply_chat_template(full, tokenize=False)
    length = int(processor(text=[text], images=[image], return_tensors="pt")["input_ids"].shape[1])
    return rows, image_tokens, length


def length_reward(completions: list[Any], **_: Any) -> list[float]:
    """Rewards that differ between completions (a random model's answers mean nothing)."""
    return [len(str(c)) / 100 for c in completions]


def bench_settings(spec: dict[str, Any], model: Path, out: Path) -> Any:
    """TrainSettings for a bench case, layered as a run's are (defaults, then the case)."""
    from medsynth.config import TrainConfig
    from medsynth.train.rewards import REWARD_FUNCS
    from medsynth.train.settings import TrainSettings, layer

    kind, setup, on_cuda = spec["kind"], spec["setup"], spec["device"].startswith("cuda")
    overrides: dict[str, Any] = {
        "max_steps": spec["steps"],
        "grad_accum": 1,
        "lora_rank": 16,
        "learning_rate": 1e-4,
        "save_steps": 10_000,
        "quantization": "nf4" if spec.get("quantize", on_cuda) else "none",
        "reward_weights": {name: 0.0 for name in REWARD_FUNCS},
        "max_length": setup["seq_tokens"] + 64,
    }
    if kind == "sft":
        overrides["batch_size"] = setup["sft_batch"]
    else:
        overrides.update(
            batch_size=setup["generations"],
            num_generations=setup["generations"],
            max_completion_length=setup["completion"],
        )
    layers = layer(kind, TrainConfig(), device=spec["device"], smoke=False, overrides=overrides)
    return TrainSettings(
        kind=kind,
        device=spec["device"],
        smoke=False,
        model=model,
        data=out,
        name=f"bench-{kind}",
        output_dir=out / kind,
        limit=None,
        sources=layers.sources,
        **layers.values,
    )


def step_timer() -> Any:
    """A TrainerCallback recording each step's wall time and the logged metrics."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.times: list[float] = []
            self.logs: list[dict[str, Any]] = []
            self.began = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.began = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.times.append(time.perf_counter() - self.began)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            self.logs.append(dict(logs or {}))

    return Timer()


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """One case in this process: preflight, load, a few steps, peak memory (see module doc)."""
    import statistics

    import torch

    # what a run has imported when its preflight reads the process's memory
    import trl  # noqa: F401
    from trl import GRPOTrainer, SFTTrainer  # noqa: F401

    from medsynth.train import grpo, preflight, sft
    from medsynth.train.modeling import load_base, read_config
    from medsynth.train.plan import processor_for

    device, kind, setup = spec["device"], spec["kind"], spec["setup"]
    on_cuda = device.startswith("cuda")
    folder, out = Path(spec["folder"]), Path(spec["out"])
    processor = processor_for(folder, vision=True)
    count = 8 if kind == "sft" else 2
    rows, image_tokens, length = synthetic_rows(kind, processor, setup, count)
    settings = bench_settings(spec, folder, out)
    shape = preflight.shape_from_config(read_config(folder))
    plan = preflight.MemoryPlan(
        kind=kind,
        device=device,
        quantized=settings.quantization == "nf4",
        lora_rank=settings.lora_rank,
        batch_size=settings.batch_size,
        grad_accum=settings.grad_accum,
        seq_tokens=length,
        images_per_sample=1,
        image_tokens=image_tokens,
        gradient_checkpointing=settings.gradient_checkpointing,
        lora_dropout=settings.lora_dropout > 0,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        runtime_bytes=None if on_cuda else preflight.current_rss(),
    )
    estimate = preflight.estimate(shape, plan)
    if on_cuda:
        torch.cuda.init()
        free, total = torch.cuda.mem_get_info()
        context = total - free - torch.cuda.memory_reserved()
    loaded = load_base(folder, device=device, quantize=settings.quantization == "nf4")
    from medsynth.train.data import to_dataset

    dataset = to_dataset(rows)
    timer = step_timer()
    generation: list[tuple[float, int]] = []
    if kind == "sft":
        trainer = sft.build_trainer(loaded.model, processor, dataset, settings, [timer])
    else:
        trainer = grpo.build_trainer(
            loaded.model, processor, dataset, settings, [timer], extra_rewards=[length_reward]
        )
        original = trainer._generate

        def timed(prompts: list[Any]) -> Any:
            began = time.perf_counter()
            result = original(prompts)
            generation.append((time.perf_counter() - began, len(prompts)))
            return result

        trainer._generate = timed
    if on_cuda:
        torch.cuda.synchronize()
    trainer.train()
    if on_cuda:
        torch.cuda.synchronize()
    later = timer.times[1:] or timer.times
    step_s = statistics.median(later) if later else None
    seen = [log["num_tokens"] for log in timer.logs if "num_tokens" in log]
    per_step = (seen[-1] - seen[0]) / (len(seen) - 1) if len(seen) > 1 else None
    lengths = [
        log["completions/mean_length"] for log in timer.logs if "completions/mean_length" in log
    ]
    gen = generation[1:] or generation
    result: dict[str, Any] = {
        "kind": kind,
        "device": device,
        "params_m": round(shape.total_params / 1e6, 1),
        "quantized": settings.quantization == "nf4",
        "seq_tokens": length,
        "image_px": setup["image_px"],
        "image_tokens": image_tokens,
        "batch": settings.batch_size,
        "num_generations": settings.num_generations if kind == "grpo" else None,
        "completion_tokens": settings.max_completion_length if kind == "grpo" else None,
        "steps": int(trainer.state.global_step),
        "step_s": round(step_s, 3) if step_s else None,
        "tokens_per_s": round(per_step / step_s, 1) if per_step and step_s else None,
        "completions_per_s": (
            round(sum(n for _, n in gen) / sum(t for t, _ in gen), 3) if gen else None
        ),
        "mean_completion_tokens": round(statistics.mean(lengths), 1) if lengths else None,
        "estimate_parts_gib": {k: round(v / GIB, 3) for k, v in estimate.parts.items()},
        "peak_allocated_gib": None,
        "peak_reserved_gib": None,
        "peak_rss_gib": round(preflight.peak_rss() / GIB, 3),
    }
    if on_cuda:
        reserved = torch.cuda.max_memory_reserved()
        result["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 3)
        result["peak_reserved_gib"] = round(reserved / GIB, 3)
        result["cuda_context_gib"] = round(context / GIB, 3)
        result["gpu"] = torch.cuda.get_device_name()
        measured, estimated = reserved, estimate.total - estimate.parts["runtime"]
    else:
        measured, estimated = preflight.peak_rss(), estimate.total
        rss = estimate.parts["runtime"] - preflight.CPU_GROWTH
        result["rss_at_preflight_gib"] = round(rss / GIB, 3)
        result["growth_measured_gib"] = round((measured - rss) / GIB, 3)
        result["growth_estimate_gib"] = round((estimated - rss) / GIB, 3)
    result["measured_gib"] = round(measured / GIB, 3)
    result["estimate_gib"] = round(estimated / GIB, 3)
    result["error_pct"] = round(100 * (estimated - measured) / measured, 1)
    return result


def child(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """:func:`run_case` in a fresh process (peak memory is per process)."""
    code = (
        f"import json, sys; sys.path[:0] = [{str(REPO)!r}, {str(Path(__file__).parent)!r}]; "
        "from gpu_bench import run_case; "
        f"print('RESULT ' + json.dumps(run_case(json.loads({json.dumps(spec)!r}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"case failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return data


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as an aligned text table (GiB, seconds)."""
    head = (
        f"{'case':<14} {'kind':<4} {'setup':<34} {'step s':>7} {'tok/s':>8} {'compl/s':>7} "
        f"{'alloc':>6} {'reserv':>6} {'RSS':>6} {'estim':>6} {'error':>7}"
    )
    lines = [head]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"{r['case']:<14} {r['kind']:<4} skipped: {r['skipped']}")
            continue
        setup = f"{r['seq_tokens']} t ({r['image_tokens']} img, {r['image_px']} px) x{r['batch']}"
        if r["kind"] == "grpo":
            setup = f"{r['seq_tokens']} t, {r['num_generations']} x {r['completion_tokens']} gen"

        def f(key: str, fmt: str = "6.2f", r: dict[str, Any] = r) -> str:
            return "-" if r.get(key) is None else format(r[key], fmt)

        lines.append(
            f"{r['case']:<14} {r['kind']:<4} {setup:<34} {f('step_s', '7.2f')} "
            f"{f('tokens_per_s', '8.1f')} {f('completions_per_s', '7.2f')} "
            f"{f('peak_allocated_gib')} {f('peak_reserved_gib')} {f('peak_rss_gib')} "
            f"{f('estimate_gib')} {r['error_pct']:+6.1f}%"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cpu-tiny", action="store_true", help="the tiny LLaVA on the CPU")
    mode.add_argument("--cpu-mid", action="store_true", help="a ~100M Qwen2.5-VL on the CPU")
    mode.add_argument(
        "--cpu-shapes",
        action="store_true",
        help="the shapes on the CPU in 4-bit at --depth layers (checks the GPU path's code)",
    )
    parser.add_argument("--depth", type=int, help="language/vision layers of each shape")
    parser.add_argument("--seq", type=int, help="tokens per sample (default: per mode)")
    parser.add_argument("--completion", type=int, help="GRPO completion tokens (default: per mode)")
    parser.add_argument("--shapes", default=",".join(GPU_SHAPES), help="GPU: shapes to run")
    parser.add_argument("--kinds", default="sft,grpo")
    parser.add_argument("--steps", type=int, help="steps per case (3; --cpu-mid: 2)")
    parser.add_argument(
        "--budget", type=float, help="seconds for all cases (450 on a GPU, 1,500 on the CPU)"
    )
    parser.add_argument("--json", type=Path, default=Path("gpu_bench.json"))
    parser.add_argument("--work", type=Path, help="folder for the model files (default: temp)")
    parser.add_argument(
        "--tiny", type=Path, default=REPO / "models" / "tiny" / "llava", help="--cpu-tiny's model"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    kinds = [k for k in args.kinds.split(",") if k]
    cpu = args.cpu_tiny or args.cpu_mid
    args.budget = args.budget or (1500 if cpu or args.cpu_shapes else 450)
    args.steps = args.steps or (2 if args.cpu_mid else 3)
    if cpu:
        case = "tiny" if args.cpu_tiny else "mid"
        device, cases, setup = "cpu", [case], dict(CPU_SETUP[case])
    else:
        import torch

        if args.cpu_shapes:
            device = "cpu"
        elif not torch.cuda.is_available():
            reason = (
                "no CUDA GPU on this machine: nothing measured (--cpu-tiny or --cpu-mid run "
                "the same code on the CPU)"
            )
            print(f"gpu-bench: {reason}")
            args.json.write_text(json.dumps({"skipped": reason, "rows": []}, indent=2))
            return 0
        else:
            device = "cuda"
        cases, setup = [s for s in args.shapes.split(",") if s], dict(GPU_SETUP)
    if args.seq:
        setup["seq_tokens"] = args.seq
    if args.completion:
        setup["completion"] = args.completion
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for case in cases:
            folder = Path(tmp) / case
            for kind in kinds:
                left = args.budget - (time.perf_counter() - began)
                if left < 60:
                    rows.append({"case": case, "kind": kind, "skipped": "time budget spent"})
                    continue
                if not folder.exists() and case != "tiny":
                    child_build(case, folder, device, left, args.depth)
                    left = args.budget - (time.perf_counter() - began)
                spec = {
                    "kind": kind,
                    "device": device,
                    "steps": args.steps,
                    "setup": setup,
                    "folder": str(args.tiny if case == "tiny" else folder),
                    "out": str(Path(tmp) / f"{case}-{kind}-out"),
                    "quantize": device == "cuda" or case not in CPU_SETUP,
                }
                try:
                    row = {"case": case, **child(spec, timeout=max(30, left))}
                    if case not in CPU_SETUP:
                        row["depth"] = args.depth or "full"
                except subprocess.TimeoutExpired as exc:
                    reason = f"stopped after {exc.timeout:.0f} s: the time budget ran out"
                    row = {"case": case, "kind": kind, "skipped": reason}
                except RuntimeError as exc:
                    print(f"{case} {kind}: {exc}", file=sys.stderr)
                    last = str(exc).strip().splitlines()[-1][-160:]
                    row = {"case": case, "kind": kind, "skipped": f"failed: {last}"}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(table(rows))
    report = {
        "device": device,
        "setup": setup,
        "seconds": round(time.perf_counter() - began, 1),
        "rows": rows,
    }
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json} ({report['seconds']} s)")
    return 1 if any(str(r.get("skipped", "")).startswith("failed") for r in rows) else 0


def child_build(
    case: str, folder: Path, device: str, timeout: float, depth: int | None = None
) -> None:
    """:func:`write_model` in a fresh process (its memory is freed when it exits)."""
    code = (
        f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(Path(__file__).parent)!r}]; "
        "from pathlib import Path; from gpu_bench import write_model; "
        f"write_model({case!r}, Path({str(folder)!r}), {device!r}, {depth!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=timeout, capture_output=True)


if __name__ == "__main__":
    raise SystemExit(main())
