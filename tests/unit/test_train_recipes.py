"""Training recipes: each paper's numbers as a settings layer (written here as the papers give
them), its place among the layers, and PubMedVision's two SFT stages run in order on the tiny
model, the second continuing the first's adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medsynth.config import TrainConfig
from medsynth.errors import InputError
from medsynth.train.recipes import RECIPES, recipe_layer
from medsynth.train.settings import TrainOptions, layer
from medsynth.workspace import Workspace
from tests.unit.train_fixtures import build_export

PAPERS: dict[tuple[str, str, str], dict[str, Any]] = {
    # MedKInstruct, 5.1: LoRA rank 16, 8 epochs, batch size 4, learning rate 1e-4
    ("medkinstruct", "sft", "main"): {
        "lora_rank": 16, "epochs": 8.0, "batch_size": 4, "learning_rate": 1e-4,
        "generators": ["multihop", "hardneg"],
    },
    ("medkinstruct", "grpo", "main"): {"lora_rank": 16, "generators": ["keyanswer"]},
    # PubMedVision, 4.1: LLaVA-1.5's two stages, learning rate 2e-5, one epoch
    ("pubmedvision", "sft", "align"): {
        "learning_rate": 2e-5, "epochs": 1.0, "generators": ["describe"],
    },
    ("pubmedvision", "sft", "instruct"): {
        "learning_rate": 2e-5, "epochs": 1.0, "generators": ["instruct"],
    },
    # MEDSAGE: SFT 4 epochs, 1e-5, 4,096 tokens, batch 4 x 16, gradient checkpointing;
    # RL 8 epochs, 1e-5, 1,024-token generations, 6 samples, 2 prompts x 8, alpha 0.2
    ("medsage", "sft", "main"): {
        "epochs": 4.0, "learning_rate": 1e-5, "max_length": 4096, "batch_size": 4,
        "grad_accum": 16, "generators": ["reasoning"],
    },
    ("medsage", "grpo", "main"): {
        "epochs": 8.0, "learning_rate": 1e-5, "max_completion_length": 1024,
        "num_generations": 6, "batch_size": 2 * 6, "grad_accum": 8, "self_check": True,
        "self_check_alpha": 0.2, "generators": ["reasoning"],
    },
}  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "stage"), sorted(PAPERS))
def test_resolved_settings_equal_the_papers(name: str, kind: str, stage: str) -> None:
    layers = layer(
        kind, TrainConfig(), device="cuda", smoke=False, overrides={}, recipe=name, stage=stage
    )
    for key, value in PAPERS[(name, kind, stage)].items():
        assert layers.values[key] == value, (name, kind, key)
        assert layers.sources[key] == f"recipe:{name}"
    assert layers.values["recipe"] == name and layers.values["recipe_stage"] == stage


def test_every_recipe_stage_is_checked_here() -> None:
    stages = {
        (name, kind, stage.name)
        for name, r in RECIPES.items()
        for kind in ("sft", "grpo")
        for stage in (r.sft if kind == "sft" else r.grpo)
    }
    assert stages == set(PAPERS)


def test_the_recipe_beats_the_workspace_and_loses_to_the_command_line() -> None:
    workspace = TrainConfig(learning_rate=3e-4, lora_rank=64, lora_alpha=128)
    layers = layer(
        "sft", workspace, device="cuda", smoke=False, overrides={"epochs": 2.0},
        recipe="medkinstruct",
    )  # fmt: skip
    assert (layers.values["learning_rate"], layers.sources["learning_rate"]) == (
        1e-4,
        "recipe:medkinstruct",
    )
    assert (layers.values["lora_rank"], layers.sources["lora_rank"]) == (16, "recipe:medkinstruct")
    assert (layers.values["lora_alpha"], layers.sources["lora_alpha"]) == (128, "workspace")
    assert (layers.values["epochs"], layers.sources["epochs"]) == (2.0, "cli")
    smoke = layer("sft", workspace, device="cpu", smoke=True, overrides={}, recipe="medsage")
    assert smoke.sources["max_length"] == "smoke"  # smoke mode still shrinks a recipe's run


def test_the_printed_plan_names_each_settings_source() -> None:
    from medsynth.train.service import recipe_text
    from medsynth.train.settings import TrainSettings

    layers = layer(
        "grpo", TrainConfig(lora_rank=32), device="cuda", smoke=False,
        overrides={"epochs": 2.0}, recipe="medsage",
    )  # fmt: skip
    settings = TrainSettings.model_construct(kind="grpo", sources=layers.sources, **layers.values)
    text = recipe_text(settings)
    assert text.startswith("recipe medsage, stage main (reasoning samples): epochs 2.0 (cli)")
    assert "num_generations 6," in text and "max_completion_length 1024," in text
    assert "lora_rank 32 (workspace)" in text


def test_unknown_recipe_or_stage_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="unknown recipe"):
        recipe_layer("llava", "sft")
    with pytest.raises(InputError, match="no sft stage 'pretrain'"):
        recipe_layer("pubmedvision", "sft", "pretrain")


def test_medsage_keeps_the_vision_encoder_frozen() -> None:
    from medsynth.train.modeling import lora_target_pattern

    class Tiny:  # module names as a LLaVA has them
        def named_modules(self) -> list[tuple[str, Any]]:
            import torch

            linear = torch.nn.Linear(2, 2)
            return [
                ("model.vision_tower.encoder.layers.0.self_attn.q_proj", linear),
                ("model.multi_modal_projector.linear_1", linear),
                ("model.language_model.layers.0.self_attn.q_proj", linear),
            ]

    import re

    pattern = re.compile(lora_target_pattern(Tiny()))
    assert pattern.match("model.language_model.layers.0.self_attn.q_proj")
    assert not pattern.match("model.vision_tower.encoder.layers.0.self_attn.q_proj")


def _pubmedvision_export(out: Path) -> Path:
    """The fixture export with its SFT rows relabelled as describe / instruct samples."""
    build_export(out)
    sft = out / "sft.jsonl"
    rows = [json.loads(line) for line in sft.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        row["generator"] = "describe" if i % 2 == 0 else "instruct"
    sft.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


@pytest.mark.slow
def test_pubmedvision_trains_alignment_then_instruction(ws: Workspace, tiny_models: Path) -> None:
    from medsynth.train.service import train_recipe

    data = _pubmedvision_export(ws.path("exports") / "pmv")
    lines: list[str] = []
    options = TrainOptions(
        kind="sft", model=str(tiny_models / "llava"), data=data, smoke=True, name="pmv",
        recipe="pubmedvision", max_steps=1,
    )  # fmt: skip
    first, second = train_recipe(ws, options, echo=lines.append)
    assert (first.name, second.name) == ("pmv-align", "pmv-instruct")
    configs = {
        name: json.loads(config)
        for name, config in ws.db.execute("SELECT name, config FROM train_runs ORDER BY id")
    }
    align, instruct = configs["pmv-align"], configs["pmv-instruct"]
    assert align["generators"] == ["describe"] and instruct["generators"] == ["instruct"]
    assert align["recipe"] == instruct["recipe"] == "pubmedvision"
    assert align["init_adapter"] in ("None", "", None)
    assert instruct["init_adapter"] == str(Path(first.adapter))  # stage 2 goes on from stage 1
    assert align["sources"]["generators"] == "recipe:pubmedvision"
    assert align["sources"]["learning_rate"] == "smoke"  # smoke mode shrinks the run
    assert any(line.startswith("recipe pubmedvision, stage align") for line in lines)
    assert any("of" in line and "describe samples" in line for line in lines)


def test_the_train_form_shows_a_recipes_numbers_and_resumes_its_runs() -> None:
    from medsynth.tui.widgets.train_form import defaults, options_from_run

    shown = defaults(TrainConfig(), "grpo", False, "medsage")
    assert (shown["epochs"], shown["num_generations"], shown["max_completion_length"]) == (
        8.0,
        6,
        1024,
    )
    assert defaults(TrainConfig(), "grpo", False)["num_generations"] != 6
    config = {"recipe": "pubmedvision", "recipe_stage": "instruct", "data": "exp"}
    row = {"kind": "sft", "base_model": "m", "name": "pmv-instruct", "smoke": 1}
    options = options_from_run({**row, "config": json.dumps(config)})
    assert (options.recipe, options.stage, options.resume) == ("pubmedvision", "instruct", True)


def test_resuming_a_stage_run_by_name_keeps_its_recipe(ws: Workspace) -> None:
    from medsynth.train.runs import TrainRuns
    from medsynth.train.service import recipe_of_run

    TrainRuns(ws.db).start(
        name="pmv-instruct",
        kind="sft",
        base_model="m",
        config={"recipe": "pubmedvision", "recipe_stage": "instruct"},
    )
    options = recipe_of_run(ws, TrainOptions(kind="sft", name="pmv-instruct", resume=True))
    assert (options.recipe, options.stage) == ("pubmedvision", "instruct")
    fresh = recipe_of_run(ws, TrainOptions(kind="sft", name="pmv-instruct"))
    assert fresh.recipe is None  # only a resume looks the run up


def test_resuming_a_two_stage_recipe_needs_the_name(ws: Workspace) -> None:
    from medsynth.train.service import train_recipe

    options = TrainOptions(kind="sft", recipe="pubmedvision", resume=True)
    with pytest.raises(InputError, match="needs the run's name"):
        train_recipe(ws, options)


def _stage_calls(ws: Workspace, monkeypatch: pytest.MonkeyPatch, options: TrainOptions) -> list:
    """The options ``train_recipe`` hands to ``train`` for each stage (training faked)."""
    from types import SimpleNamespace

    from medsynth.train import service

    calls: list[TrainOptions] = []

    def fake_train(ws: Workspace, staged: TrainOptions, **_: Any) -> Any:
        calls.append(staged)
        return SimpleNamespace(name=staged.name)

    monkeypatch.setattr(service, "train", fake_train)
    service.train_recipe(ws, options, echo=lambda _: None)
    return calls


def test_pubmedvision_plans_alignment_then_instruction_from_its_adapter(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsynth.train.runs import TrainRuns

    options = TrainOptions(kind="sft", recipe="pubmedvision", name="pmv")
    calls = _stage_calls(ws, monkeypatch, options)
    assert [(c.stage, c.name, c.from_sft, c.resume) for c in calls] == [
        ("align", "pmv-align", None, False),
        ("instruct", "pmv-instruct", "pmv-align", False),
    ]
    assert [recipe_layer("pubmedvision", "sft", c.stage)["generators"] for c in calls] == [
        ["describe"],
        ["instruct"],
    ]
    # --resume --name pmv after stage 1 finished: only stage 2, from stage 1's adapter
    TrainRuns(ws.db).start(name="pmv-align", kind="sft", base_model="m", status="ok")
    resumed = _stage_calls(ws, monkeypatch, TrainOptions(**{**options.__dict__, "resume": True}))
    assert [(c.stage, c.from_sft, c.resume) for c in resumed] == [("instruct", "pmv-align", False)]
    # one stage asked for: one run
    single = _stage_calls(
        ws, monkeypatch, TrainOptions(kind="sft", recipe="pubmedvision", stage="instruct")
    )
    assert [c.stage for c in single] == ["instruct"]


def test_a_stage_keeps_only_its_generators_rows(tmp_path: Path) -> None:
    from medsynth.train.data import ExportData
    from medsynth.train.plan import keep_generators
    from medsynth.train.settings import TrainSettings

    rows = [{"generator": g, "images": []} for g in ("describe", "instruct", "describe", "vqa")]
    export = ExportData(tmp_path, "sft", tmp_path / "sft.jsonl", rows, "h")
    settings = TrainSettings.model_construct(
        recipe="pubmedvision", recipe_stage="align", generators=["describe"]
    )
    notes: list[str] = []
    keep_generators(export, settings, notes)
    assert [r["generator"] for r in export.rows] == ["describe", "describe"]
    assert "2 of 4 row(s)" in notes[0]
    empty = ExportData(tmp_path, "sft", tmp_path / "sft.jsonl", [{"generator": "vqa"}], "h")
    with pytest.raises(InputError, match="trains on describe samples and this export has none"):
        keep_generators(empty, settings, [])
