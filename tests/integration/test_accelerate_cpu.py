"""Training on two processes through ``accelerate launch`` on the CPU (gloo), on the tiny LLaVA:
``medsynth train sft --accelerate-config FILE`` with a ``MULTI_CPU`` config.

Both ranks step (each reports its own step count and the checksum of its trainable weights,
gathered into the run's metrics by rank 0); rank 0 alone writes the ``runs``/``train_runs``/
``train_steps`` rows, the checkpoint and the adapter; ``--resume`` goes on from the checkpoint.

Equality: 2 processes x batch 1 see, at each step, the same two samples as 1 process x batch 2
(accelerate shards each global batch of the seeded sampler by rank, so rank 0 takes the first
sample and rank 1 the second), and transformers divides the loss by the answer tokens counted
over both ranks, so the averaged gradient is the single process's. LoRA dropout is set to 0 here:
with dropout each rank draws its own mask from the same seed, and the masks would differ from
the single process's. What is left is float32 summation order (about 2e-7 on weights of about
0.1), hence the 1e-5 tolerance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace
from tests.unit.train_fixtures import build_export

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")
TOLERANCE = 1e-5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accelerate_config(folder: Path) -> Path:
    """Two CPU processes on this machine (what `accelerate config` writes for multi-CPU)."""
    path = folder / "accelerate_cpu.yaml"
    path.write_text(
        "compute_environment: LOCAL_MACHINE\n"
        "distributed_type: MULTI_CPU\n"
        "num_processes: 2\n"
        "num_machines: 1\n"
        "machine_rank: 0\n"
        "main_process_ip: 127.0.0.1\n"
        f"main_process_port: {free_port()}\n"
        "mixed_precision: 'no'\n"
        "use_cpu: true\n",
        encoding="utf-8",
    )
    return path


def launched(ws: Workspace, config: Path, model: Path, *args: str) -> subprocess.CompletedProcess:
    """``medsynth train sft --accelerate-config CONFIG ...`` in a fresh process, offline."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "medsynth", "train", "sft", "-w", str(ws.root)]
    command += ["--smoke", "--model", str(model), "--accelerate-config", str(config), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return done


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def single(ws: Workspace, model: Path, **options: Any) -> Any:
    """The same run in this process, one rank."""
    from medsynth.train.service import train

    return train(
        ws,
        TrainOptions(kind="sft", model=str(model), smoke=True, **options),
        echo=lambda _line: None,
    )


def test_two_cpu_processes_train_like_one_and_resume(tmp_path: Path, tiny_llava: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root).close()
    toml = root / "medsynth.toml"
    text = toml.read_text(encoding="utf-8")
    assert "lora_dropout = 0.05" in text
    toml.write_text(text.replace("lora_dropout = 0.05", "lora_dropout = 0.0"), encoding="utf-8")
    ws = Workspace.open(root)
    try:
        check_two_processes(ws, tmp_path, tiny_llava)
    finally:
        ws.close()


def check_two_processes(ws: Workspace, tmp_path: Path, tiny_llava: Path) -> None:
    build_export(ws.path("exports") / "export-1")
    config = accelerate_config(tmp_path)

    # the reference: one process, batch 2, two steps, then resumed to four
    one = single(ws, tiny_llava, name="one", batch_size=2, max_steps=2, save_steps=2)
    one_at_2 = weights(Path(one.adapter))
    one = single(ws, tiny_llava, name="one", batch_size=2, max_steps=4, save_steps=2, resume=True)
    one_at_4 = weights(Path(one.adapter))
    one_losses = [s["loss"] for s in ws.db.table("train_steps").rows_where(order_by="id")]

    # two processes, batch 1 each: the same two samples per step
    done = launched(
        ws, config, tiny_llava, "--name", "two", "--batch-size", "1", "--max-steps", "2", "--json"
    )
    printed = json.loads(done.stdout)  # rank 0 alone prints
    assert printed["steps"] == 2 and [r["steps"] for r in printed["metrics"]["ranks"]] == [2, 2]
    rows = list(ws.db.table("train_runs").rows_where("name = 'two'"))
    assert len(rows) == 1  # rank 1 wrote no row
    row = rows[0]
    assert row["status"] == "ok" and row["device"] == "cpu x 2 processes"
    assert json.loads(row["config"])["processes"] == 2
    ranks = json.loads(row["metrics"])["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert [r["steps"] for r in ranks] == [2, 2]  # both ranks stepped
    assert ranks[0]["checksum"] == ranks[1]["checksum"] > 0  # DDP kept them in sync
    assert json.loads(row["metrics"])["epoch"] == pytest.approx(4 / 6)  # 2 steps x 2 samples
    steps = list(ws.db.table("train_steps").rows_where("train_run_id = ?", [row["id"]]))
    assert [s["step"] for s in steps] == [1, 2]
    assert ws.db.execute("SELECT count(*) FROM runs WHERE command = 'train sft'").fetchone()[0] == 3
    out = ws.path("adapters", "two")
    checkpoint = out / "checkpoint-2"
    assert {p.name for p in checkpoint.glob("rng_state_*.pth")} == {
        "rng_state_0.pth",
        "rng_state_1.pth",
    }
    two_at_2 = weights(out / "adapter")
    assert max_diff(two_at_2, weights(checkpoint)) == 0
    assert max_diff(two_at_2, one_at_2) < TOLERANCE
    assert [s["loss"] for s in steps] == pytest.approx(one_losses[:2], abs=TOLERANCE)

    # resume on two processes from checkpoint-2 to step 4
    launched(
        ws, config, tiny_llava, "--name", "two", "--batch-size", "1", "--max-steps", "4", "--resume"
    )
    rows = list(ws.db.table("train_runs").rows_where("name = 'two'", order_by="id"))
    assert len(rows) == 2
    resumed = rows[1]
    assert resumed["status"] == "ok" and resumed["resumed_from"].endswith("checkpoint-2")
    assert [r["steps"] for r in json.loads(resumed["metrics"])["ranks"]] == [2, 2]
    steps = list(ws.db.table("train_steps").rows_where("train_run_id = ?", [resumed["id"]]))
    assert [s["step"] for s in steps] == [3, 4]
    assert (out / "checkpoint-4").is_dir()
    two_at_4 = weights(out / "adapter")
    assert max_diff(two_at_4, two_at_2) > 1e-4  # it trained on
    assert max_diff(two_at_4, one_at_4) < TOLERANCE
    assert [s["loss"] for s in steps] == pytest.approx(one_losses[2:], abs=TOLERANCE)


def test_the_launched_command_is_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--accelerate-config`` re-runs exactly the options given (flags, negated flags, repeated
    options), without itself, on the CPU when the config says so, via accelerate's torchrun."""
    from typer.testing import CliRunner

    from medsynth.cli import train as cli
    from medsynth.train import distributed

    config = accelerate_config(tmp_path)
    given = ["grpo", "--no-smoke", "--name", "r1", "--resume", "--lr", "1e-05"]
    given += ["--data", str(tmp_path), "--reward-weight", "path=0.5", "--reward-weight", "full=0"]
    launched_args: list[list[str]] = []
    monkeypatch.setattr(distributed, "launch", lambda cfg, args: launched_args.append(args) or 0)
    runner = CliRunner()
    result = runner.invoke(cli.app, [*given, "--accelerate-config", str(config)])
    assert result.exit_code == 0, result.output
    (argv,) = launched_args
    assert argv[:2] == ["train", "grpo"] and "--accelerate-config" not in argv
    assert argv[-2:] == ["--device", "cpu"]

    seen: list[TrainOptions] = []
    monkeypatch.setattr(cli, "_run", lambda options, *rest: seen.append(options))
    assert runner.invoke(cli.app, given).exit_code == 0
    assert runner.invoke(cli.app, argv[1:-2]).exit_code == 0
    assert seen[0] == seen[1]
    assert seen[0].smoke is False and seen[0].reward_weights == {"path": 0.5, "full": 0.0}

    command = distributed.launch_command(config, argv)
    assert command[1:6] == [
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "--multi_gpu",
    ]
    assert command[6:9] == ["-m", "medsynth", "train"]


def test_a_rank_that_fails_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`together`: the failing rank raises its own error, the others name it."""
    from medsynth.errors import InputError, MedsynthError
    from medsynth.train import distributed

    reports = [None, "InputError: no checkpoint to resume from"]
    monkeypatch.setattr(distributed, "gather", lambda value: reports)
    stopped = "rank 1 stopped while preparing the run: InputError"
    with pytest.raises(MedsynthError, match=stopped), distributed.together("preparing the run"):
        pass
    reports[0] = "InputError: bad"
    with pytest.raises(InputError, match="bad"), distributed.together("preparing the run"):
        raise InputError("bad")
    monkeypatch.setattr(distributed, "gather", lambda value: [None, None])
    with distributed.together("preparing the run"):
        pass
