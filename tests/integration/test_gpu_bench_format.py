"""``tests/bench/gpu_bench.py`` without a GPU: it says so and exits 0; ``--cpu-tiny`` runs the
GPU path's code (load_base, the SFT and GRPO trainers, the preflight) on the tiny LLaVA and its
table and JSON carry every figure; the preflight is within 15 % of the measured peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "bench" / "gpu_bench.py"
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def bench(args: list[str], tmp: Path, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", str(tmp / "bench.json")],
        capture_output=True,
        text=True,
        cwd=tmp,
        env={**os.environ, **(env or {})},
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_run(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    tmp = tmp_path_factory.mktemp("gpu_bench")
    proc = bench(["--cpu-tiny", "--steps", "3", "--tiny", str(tiny_models / "llava")], tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((tmp / "bench.json").read_text())


def test_without_a_gpu_it_says_so_and_exits_0(tmp_path: Path) -> None:
    proc = bench([], tmp_path, env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no CUDA GPU" in proc.stdout
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["rows"] == [] and "no CUDA GPU" in report["skipped"]


def test_cpu_tiny_reports_every_field(tiny_run: tuple[Any, Any]) -> None:
    proc, report = tiny_run
    sys.path.insert(0, str(SCRIPT.parent))
    from gpu_bench import FIELDS

    assert report["device"] == "cpu"
    rows = {row["kind"]: row for row in report["rows"]}
    assert set(rows) == {"sft", "grpo"}
    for row in rows.values():
        assert set(FIELDS) <= set(row), set(FIELDS) - set(row)
        assert row["case"] == "tiny" and row["device"] == "cpu" and row["steps"] == 3
        assert row["quantized"] is False and 0.1 < row["params_m"] < 10
        assert row["image_tokens"] > 0 and row["seq_tokens"] > row["image_tokens"]
        assert row["step_s"] > 0 and row["tokens_per_s"] > 0
        assert row["peak_allocated_gib"] is None and row["peak_reserved_gib"] is None
        assert row["measured_gib"] == row["peak_rss_gib"] > row["rss_at_preflight_gib"] > 0.1
        parts = row["estimate_parts_gib"]
        assert set(parts) >= {"weights", "adapter", "activations", "logits", "runtime"}
        assert abs(sum(parts.values()) - row["estimate_gib"]) < 0.01
        expected = 100 * (row["estimate_gib"] - row["measured_gib"]) / row["measured_gib"]
        assert abs(row["error_pct"] - expected) < 0.5
    grpo = rows["grpo"]
    assert grpo["num_generations"] == 4 and grpo["completion_tokens"] == 16
    assert grpo["completions_per_s"] > 0 and 0 < grpo["mean_completion_tokens"] <= 16
    assert rows["sft"]["completions_per_s"] is None
    # the table: one line per case with the same figures
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("case "))
    for word in ("step s", "tok/s", "compl/s", "alloc", "reserv", "RSS", "estim", "error"):
        assert word in lines[head]
    body = [line.split() for line in lines[head + 1 : head + 3]]
    assert [b[:2] for b in body] == [["tiny", "sft"], ["tiny", "grpo"]]
    for cells, kind in zip(body, ("sft", "grpo"), strict=True):
        assert float(cells[-2]) == pytest.approx(rows[kind]["estimate_gib"], abs=0.006)
        assert float(cells[-1].rstrip("%")) == pytest.approx(rows[kind]["error_pct"], abs=0.05)


def test_preflight_within_15_percent_of_peak_rss(tiny_run: tuple[Any, Any]) -> None:
    """Issue 19: the CPU estimate (process memory at the preflight + what training adds) is
    within 15 % of the measured peak RSS, for SFT and for GRPO."""
    _, report = tiny_run
    for row in report["rows"]:
        error = abs(row["estimate_gib"] - row["measured_gib"]) / row["measured_gib"]
        assert error <= 0.15, row
