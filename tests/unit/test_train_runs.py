"""Training bookkeeping without a model: the schema, the step recorder, settings resolution,
smoke-model lookup, run names and the command line's help and argument checks."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from medsynth.config import TrainConfig
from medsynth.errors import ConfigError, InputError
from medsynth.train import locate
from medsynth.train import runs as train_runs
from medsynth.train.runs import StepRecorder, TrainRuns
from medsynth.train.settings import TrainOptions, resolve
from medsynth.workspace import Workspace


def test_doctests_pass() -> None:
    from medsynth.train import modeling

    for module in (train_runs, modeling):
        assert doctest.testmod(module).failed == 0


def test_schema_has_training_tables(ws: Workspace) -> None:
    assert {"train_runs", "train_steps"} <= set(ws.db.table_names())
    columns = set(ws.db.table("train_steps").columns_dict)
    assert {"loss", "rewards", "lr", "tokens_per_s", "peak_bytes"} <= columns
    columns = set(ws.db.table("train_runs").columns_dict)
    assert {"config", "data_hash", "base_model_hash", "versions", "preflight", "output_dir"} <= (
        columns
    )


def test_step_recorder_writes_each_logged_step(ws: Workspace) -> None:
    runs = TrainRuns(ws.db)
    run_id = runs.start(name="r", kind="grpo", base_model="/m", config={"a": 1})
    shown: list[tuple[int, int]] = []
    recorder = StepRecorder(runs, run_id, "cpu", echo=lambda s, t, f: shown.append((s, t)))
    state = SimpleNamespace(global_step=0, max_steps=2)
    recorder.on_train_begin(None, state, None)
    for step, tokens in ((1, 100.0), (2, 250.0)):
        state.global_step = step
        logs = {
            "loss": 0.5 * step,
            "learning_rate": 1e-5,
            "grad_norm": 0.1,
            "num_tokens": tokens,
            "reward": 1.5,
            "rewards/answer_reward/mean": 1.0,
            "rewards/format_reward/mean": 0.5,
            "rewards/structured_format_reward/mean": float("nan"),
            "rewards/answer_reward/std": 0.0,
            "entropy": 6.3,
        }
        recorder.on_log(None, state, None, logs=logs)
    recorder.on_log(None, state, None, logs={"train_runtime": 3.0, "train_loss": 0.75})
    rows = runs.steps(run_id)
    assert [r["step"] for r in rows] == [1, 2]
    assert json.loads(rows[0]["rewards"]) == {
        "answer": 1.0,
        "format": 0.5,
        "structured_format": None,
    }
    assert rows[1]["tokens"] == 250 and rows[1]["tokens_per_s"] > 0
    assert json.loads(rows[0]["metrics"])["entropy"] == 6.3
    assert rows[0]["peak_bytes"] > 0
    assert recorder.summary == {"train_runtime": 3.0, "train_loss": 0.75}
    assert recorder.losses == [0.5, 1.0] and shown == [(1, 2), (2, 2)]
    # a step logged again (resume overlap) replaces its row
    runs.step(run_id, step=2, loss=9.0)
    assert [r["loss"] for r in runs.steps(run_id)] == [0.5, 9.0]


def resolved(kind: str = "sft", smoke: bool = False, **options: Any) -> Any:
    return resolve(
        TrainOptions(kind=kind, **options),
        TrainConfig(),
        device="cpu",
        smoke=smoke,
        model=Path("/m"),
        data=Path("/d"),
        name="n",
        output_dir=Path("/o"),
    )


def test_settings_defaults_follow_the_paper() -> None:
    sft = resolved()
    assert (sft.epochs, sft.batch_size, sft.learning_rate, sft.lora_rank) == (8.0, 4, 1e-4, 16)
    assert sft.gradient_checkpointing is False  # CPU: only on with CUDA
    grpo = resolved("grpo")
    assert (grpo.learning_rate, grpo.num_generations, grpo.max_completion_length) == (
        1e-5,
        4,
        256,
    )
    assert grpo.reward_weights == {
        "answer": 1.0,
        "path": 1.0,
        "full": 1.0,
        "format": 1.0,
        "structured": 1.0,
        "self_check": 1.0,
    }


def test_smoke_settings_and_explicit_options_win() -> None:
    smoke = resolved("grpo", smoke=True)
    assert (smoke.max_steps, smoke.num_generations, smoke.max_completion_length) == (4, 2, 16)
    assert resolved("sft", smoke=True, max_steps=9, batch_size=3).max_steps == 9
    assert resolved("grpo", reward_weights={"path": 0.5}).reward_weights["path"] == 0.5
    with pytest.raises(ConfigError, match="unknown reward"):
        resolved("grpo", reward_weights={"fluency": 1.0})
    with pytest.raises(ConfigError, match="whole groups"):
        resolved("grpo", batch_size=3, num_generations=2)


def test_reward_functions_follow_the_weights() -> None:
    from medsynth.train.grpo import reward_functions

    funcs, weights = reward_functions(resolved("grpo"))
    names = [f.__name__ for f in funcs]
    assert names == [
        "answer_reward",
        "path_reward",
        "full_path_reward",
        "format_reward",
        "structured_format_reward",
    ]
    assert weights == [1.0] * 5
    funcs, weights = reward_functions(
        resolved("grpo", self_check=True, reward_weights={"full": 0.0, "path": 2.0})
    )
    names = [f.__name__ for f in funcs]
    # the self-check bonus goes to the check tokens of the two-pass rollout (selfcheck.py),
    # never to a whole completion as a reward function
    assert "full_path_reward" not in names and "self_check_reward" not in names
    assert weights[names.index("path_reward")] == 2.0


def test_smoke_model_is_built_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "build_tiny.py").write_text("# builder")
    monkeypatch.setattr(locate, "REPO", tmp_path)
    calls: list[list[str]] = []

    def fake_run(args: list[str], **_: Any) -> None:
        calls.append(args)
        target = Path(args[-1]) / "llava"
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")

    monkeypatch.setattr(locate.subprocess, "run", fake_run)
    lines: list[str] = []
    folder = locate.smoke_model("", lines.append)
    assert folder == tmp_path / "models" / "tiny" / "llava"
    assert calls[0][1].endswith("build_tiny.py") and "offline" in lines[0]
    assert locate.smoke_model("", lines.append) == folder and len(calls) == 1
    assert locate.smoke_model(str(tmp_path / "mine"), lines.append) == tmp_path / "mine"
    (tmp_path / "models" / "build_tiny.py").unlink()
    monkeypatch.setattr(locate, "REPO", tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="no tiny model") as caught:
        locate.smoke_model("", lines.append)
    assert "just tiny-models" in caught.value.hint


def test_quantization_choice() -> None:
    assert locate.quantization("auto", "cpu") == ("none", ["plain LoRA (no 4-bit): no CUDA GPU"])
    assert locate.quantization("none", "cuda")[0] == "none"


def test_run_names(ws: Workspace) -> None:
    options = TrainOptions(kind="sft", name="bad/name")
    with pytest.raises(InputError, match="letters, digits"):
        locate.run_name(ws, options, Path("/m/llava"))
    assert locate.run_name(ws, TrainOptions(kind="sft"), Path("/x/Tiny LLaVA")).startswith(
        "sft-tiny-llava-"
    )
    with pytest.raises(InputError, match="no unfinished sft run"):
        locate.run_name(ws, TrainOptions(kind="sft", resume=True), Path("/m"))
    TrainRuns(ws.db).start(name="sft-old", kind="sft", base_model="/m", status="failed")
    assert locate.run_name(ws, TrainOptions(kind="sft", resume=True), Path("/m")) == "sft-old"


def test_no_base_model_says_what_to_set(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="no base model") as caught:
        locate.base_model(ws, TrainOptions(kind="sft"), False, print)
    assert "models.base_model" in caught.value.hint and "--smoke" in caught.value.hint


def test_train_commands_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    from medsynth.cli import main

    for command in ("sft", "grpo", "merge", "preflight", "runs"):
        assert main(["train", command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--json" in out and "--workspace" in out, command


def test_cli_checks_arguments(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from medsynth.cli import main

    root = str(ws.root)
    assert main(["train", "sft", "--quant", "int3", "-w", root]) == 2
    assert "use auto, nf4 or none" in capsys.readouterr().err
    assert main(["train", "grpo", "--reward-weight", "path", "-w", root]) == 2
    assert "NAME=NUMBER" in capsys.readouterr().err
    assert main(["train", "runs", "-w", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["train", "runs", "nothing", "-w", root]) == 2
    assert main(["train", "merge", "-w", root]) == 2
    assert "no finished training run" in capsys.readouterr().err
    assert main(["train", "sft", "--smoke", "--model", "/nowhere", "-w", root]) == 2
    assert "config.json is missing" in capsys.readouterr().err
