"""Training on the CPU: preflight estimate vs measured peak memory (RSS), steps/s, wall time.

Each case runs in a fresh Python process (peak RSS is per process) on an export built by
``tests/unit/train_fixtures.py``:

- ``tiny-sft``, ``tiny-grpo``: the tiny random LLaVA of ``models/tiny`` in smoke mode (the model
  is a few hundred thousand parameters: the estimate is almost all process runtime);
- ``mid-sft``, ``mid-grpo``: a randomly initialised ~100 M-parameter LLaVA (12-layer, 768-wide
  Llama, the tiny vision tower and tokenizer), built here from a config, float32, batch 4, so the
  model-dependent parts (weights, adapter, activations, logits) are a visible share of the peak.

For each case: the estimate's parts, its runtime part (the process RSS at the preflight plus
64 MiB), the measured peak RSS (VmHWM), and estimate / measured for the total and
for the part above the runtime.

Run as ``.venv/bin/python tests/bench/bench_train.py [--cases tiny-sft,mid-sft]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3

CHILD = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from medsynth.workspace import Workspace
from medsynth.train.service import train
from medsynth.train.settings import TrainOptions
ws = Workspace.open(Path({ws!r}))
options = TrainOptions(**json.loads({options!r}))
started = time.perf_counter()
result = train(ws, options, echo=lambda line: None)
print("RESULT " + json.dumps({{"result": result.as_dict(),
                              "wall": time.perf_counter() - started}}, default=str))
"""


def build_mid_llava(out: Path) -> Path:
    """A ~100 M-parameter random LLaVA with the tiny model's processor."""
    import torch
    from transformers import AutoProcessor, LlavaConfig, LlavaForConditionalGeneration

    tiny = REPO / "models" / "tiny" / "llava"
    base = LlavaConfig.from_pretrained(tiny)
    text = base.text_config
    text.hidden_size, text.intermediate_size, text.num_hidden_layers = 768, 2048, 12
    text.num_attention_heads, text.num_key_value_heads, text.head_dim = 12, 12, 64
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(base)
    model.generation_config.pad_token_id = text.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    AutoProcessor.from_pretrained(tiny).save_pretrained(out)
    return out


def cases(root: Path) -> dict[str, dict[str, object]]:
    tiny = str(REPO / "models" / "tiny" / "llava")
    mid = str(root / "mid-llava")
    mid_common = {
        "model": mid,
        "smoke": True,
        "max_steps": 4,
        "batch_size": 4,
        "lora_rank": 16,
        "max_length": 256,
    }
    return {
        "tiny-sft": {"kind": "sft", "model": tiny, "smoke": True, "name": "tiny-sft"},
        "tiny-grpo": {"kind": "grpo", "model": tiny, "smoke": True, "name": "tiny-grpo"},
        "mid-sft": {"kind": "sft", "name": "mid-sft", **mid_common},
        "mid-grpo": {
            "kind": "grpo",
            "name": "mid-grpo",
            **mid_common,
            "num_generations": 4,
            "max_completion_length": 64,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="tiny-sft,tiny-grpo,mid-sft,mid-grpo")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from medsynth.workspace import Workspace
    from tests.unit.train_fixtures import build_export

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = Workspace.init(root / "ws")
        build_export(ws.path("exports") / "bench", copies=4)
        ws.close()
        table = cases(root)
        wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
        if any(c.startswith("mid") for c in wanted):  # in a child: keep this process small
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    f"import sys; sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'tests/bench')!r}]; "
                    "from pathlib import Path; from bench_train import build_mid_llava; "
                    f"build_mid_llava(Path({str(root / 'mid-llava')!r}))",
                ],
                check=True,
                capture_output=True,
            )
        rows = []
        for name in wanted:
            options = table[name]
            script = CHILD.format(repo=str(REPO), ws=str(root / "ws"), options=json.dumps(options))
            began = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                print(f"{name}: failed\n{proc.stderr[-3000:]}")
                return 1
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            data = json.loads(line.removeprefix("RESULT "))
            result = data["result"]
            estimate = result["estimate"]
            parts = estimate["parts_bytes"]
            runtime = parts["runtime"]
            peak = result["peak_bytes"]
            steps = result["steps"]
            runtime_s = result["metrics"].get("train_runtime") or 0
            rows.append(
                {
                    "case": name,
                    "estimate_gib": round(estimate["total_bytes"] / GIB, 3),
                    "measured_peak_gib": round(peak / GIB, 3),
                    "ratio_total": round(estimate["total_bytes"] / peak, 3),
                    "runtime_part_gib": round(runtime / GIB, 3),
                    "model_part_estimate_gib": round((estimate["total_bytes"] - runtime) / GIB, 3),
                    "model_part_measured_gib": round((peak - runtime) / GIB, 3),
                    "parts_mib": {k: round(v / 2**20, 1) for k, v in parts.items()},
                    "steps": steps,
                    "steps_per_s": round(steps / runtime_s, 3) if runtime_s else None,
                    "train_runtime_s": runtime_s,
                    "wall_s_in_train": round(data["wall"], 1),
                    "process_wall_s": round(time.perf_counter() - began, 1),
                }
            )
            print(json.dumps(rows[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
