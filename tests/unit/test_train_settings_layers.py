"""Training settings are one layered model: defaults -> workspace [train] -> smoke preset ->
command line, each value recording its layer; ``train sft`` and ``train grpo`` share the option
declarations and differ only in the options that really differ."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, get_args

import pytest
import typer.main
import typer.testing

from medsynth.config import Config, TrainConfig
from medsynth.errors import ConfigError
from medsynth.train.settings import (
    LAYERED,
    SMOKE,
    TrainOptions,
    TrainSettings,
    layer,
    resolve,
)


def settle(
    cfg: TrainConfig, kind: str = "sft", smoke: bool = False, device: str = "cpu", **given: Any
) -> TrainSettings:
    return resolve(
        TrainOptions(kind=kind, **given),
        cfg,
        device=device,
        smoke=smoke,
        model=Path("/m"),
        data=Path("/d"),
        name="n",
        output_dir=Path("/o"),
    )


def workspace(**train: Any) -> TrainConfig:
    """A [train] section as read from medsynth.toml."""
    return Config.model_validate({"train": train}).train


def test_workspace_then_smoke_then_cli() -> None:
    cfg = workspace(batch_size=6, lora_rank=32, save_steps=7, temperature=0.7)
    plain = settle(cfg)
    assert (plain.batch_size, plain.lora_rank, plain.save_steps) == (6, 32, 7)
    assert plain.sources["batch_size"] == "workspace"
    assert plain.sources["grad_accum"] == "default" and plain.grad_accum == 1

    smoke = settle(cfg, smoke=True)
    assert (smoke.batch_size, smoke.lora_rank, smoke.save_steps) == (2, 8, 2)  # smoke wins
    assert smoke.sources["batch_size"] == "smoke"
    assert smoke.temperature == 0.7 and smoke.sources["temperature"] == "workspace"

    cli = settle(cfg, smoke=True, batch_size=3, lora_rank=None)
    assert cli.batch_size == 3 and cli.sources["batch_size"] == "cli"  # the command line wins
    assert cli.lora_rank == 8 and cli.sources["lora_rank"] == "smoke"  # not given: no override
    assert cli.save_steps == 2 and cli.sources["save_steps"] == "smoke"


def test_cli_overrides_workspace_without_smoke() -> None:
    cfg = workspace(epochs=3.0, max_length=512)
    settings = settle(cfg, epochs=0.5)
    assert settings.epochs == 0.5 and settings.sources["epochs"] == "cli"
    assert settings.max_length == 512 and settings.sources["max_length"] == "workspace"
    assert settings.max_steps is None and settings.sources["max_steps"] == "default"


def test_grpo_reads_its_own_workspace_keys() -> None:
    cfg = workspace(epochs=3.0, grpo_epochs=2.0, learning_rate=1e-3, grpo_learning_rate=2e-6)
    assert (settle(cfg).epochs, settle(cfg).learning_rate) == (3.0, 1e-3)
    grpo = settle(cfg, "grpo")
    assert (grpo.epochs, grpo.learning_rate) == (2.0, 2e-6)
    assert grpo.sources["epochs"] == "workspace"
    assert settle(cfg, "grpo", smoke=True).epochs == SMOKE["epochs"]


def test_reward_weights_merge_key_by_key() -> None:
    cfg = workspace(rewards={"path": 0.5, "format": 0.25})
    settings = settle(cfg, "grpo", reward_weights={"format": 2.0})
    assert settings.reward_weights["path"] == 0.5  # workspace
    assert settings.reward_weights["format"] == 2.0  # command line
    assert settings.reward_weights["answer"] == 1.0  # default
    assert settings.sources["reward_weights"] == "cli"
    assert settle(cfg, "grpo").sources["reward_weights"] == "workspace"


def test_gradient_checkpointing_only_on_cuda_unless_asked() -> None:
    cfg = TrainConfig()
    assert settle(cfg).gradient_checkpointing is False
    assert settle(cfg, device="cuda").gradient_checkpointing is True
    assert settle(cfg, gradient_checkpointing=True).gradient_checkpointing is True
    assert settle(cfg, device="cuda", smoke=True).gradient_checkpointing is False


def test_layer_is_pure_data() -> None:
    layers = layer("sft", TrainConfig(), device="cpu", smoke=False, overrides={"lora_rank": 4})
    assert set(layers.values) == set(LAYERED) == set(layers.sources)
    assert layers.values["lora_rank"] == 4 and layers.sources["lora_rank"] == "cli"
    assert set(SMOKE) <= set(LAYERED)


def test_options_give_only_what_was_set() -> None:
    assert TrainOptions(kind="sft").overrides() == {}
    given = TrainOptions(kind="grpo", beta=0.0, self_check=False, reward_weights={"path": 1.0})
    assert given.overrides() == {"beta": 0.0, "self_check": False, "reward_weights": {"path": 1.0}}


def test_config_holds_the_settings_without_sources() -> None:
    settings = settle(TrainConfig(), smoke=True)
    config = settings.as_config()
    assert "sources" not in config and config["model"] == "/m" and config["init_adapter"] is None
    assert list(config)[:8] == [
        "kind",
        "device",
        "smoke",
        "model",
        "data",
        "name",
        "output_dir",
        "quantization",
    ]


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        settle(TrainConfig(), batch_size="many")


# the command line --------------------------------------------------------------------------


def params(name: str) -> dict[str, inspect.Parameter]:
    from medsynth.cli import train as cli

    return dict(inspect.signature(getattr(cli, name)).parameters)


def test_sft_and_grpo_share_their_option_declarations() -> None:
    sft, grpo = params("sft"), params("grpo")
    shared = set(sft) & set(grpo)
    assert {"model", "data", "smoke", "batch_size", "lr", "quant", "workspace"} <= shared
    for name in shared:
        # the same Annotated alias, so the same typer.Option object
        assert sft[name].annotation is grpo[name].annotation, name
        assert get_args(sft[name].annotation)[1] is get_args(grpo[name].annotation)[1], name
        assert sft[name].default == grpo[name].default, name
    assert set(sft) - shared == {"max_length"}
    assert set(grpo) - shared == {
        "from_sft",
        "fresh_lora",
        "num_generations",
        "max_completion_length",
        "temperature",
        "beta",
        "self_check",
        "reward_weight",
        "vllm",
        "vllm_memory",
    }


def test_memory_settings_come_from_the_workspace_and_the_command_line() -> None:
    from medsynth.config import TrainConfig
    from medsynth.train.settings import layer

    cfg = TrainConfig(optimizer="adamw_torch", vllm_memory=0.5)
    merged = layer("grpo", cfg, device="cpu", smoke=False, overrides={"fused_loss": "off"})
    assert merged.values["optimizer"] == "adamw_torch"
    assert merged.sources["optimizer"] == "workspace"
    assert merged.values["vllm_memory"] == 0.5 and merged.values["vllm"] is False
    assert merged.values["fused_loss"] == "off" and merged.sources["fused_loss"] != "workspace"


def test_click_options_match_between_commands() -> None:
    from medsynth.cli.train import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    sft = {p.name: p for p in commands["sft"].params}
    grpo = {p.name: p for p in commands["grpo"].params}
    for name in set(sft) & set(grpo):
        a, b = sft[name], grpo[name]
        assert (a.opts, a.secondary_opts, a.default, a.help) == (
            b.opts,
            b.secondary_opts,
            b.default,
            b.help,
        ), name


def test_cli_builds_the_options_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from medsynth.cli import train as cli

    seen: list[TrainOptions] = []
    monkeypatch.setattr(cli, "_run", lambda options, *args: seen.append(options))
    runner_args = ["--lr", "0.002", "--quant", "none", "--reward-weight", "path=0.5", "--beta", "0"]
    assert typer.testing.CliRunner().invoke(cli.app, ["grpo", *runner_args]).exit_code == 0
    options = seen[-1]
    assert options.kind == "grpo" and options.overrides() == {
        "learning_rate": 0.002,
        "quantization": "none",
        "beta": 0.0,
        "reward_weights": {"path": 0.5},
    }
    assert typer.testing.CliRunner().invoke(cli.app, ["sft", "--max-length", "64"]).exit_code == 0
    assert seen[-1].kind == "sft" and seen[-1].overrides() == {"max_length": 64}
    assert seen[-1].smoke is None and seen[-1].resume is False
