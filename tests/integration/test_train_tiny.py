"""SFT and GRPO on the tiny random VLMs of ``models/build_tiny.py``, on the CPU, on an export with
real (SLAKE) images: a few steps each; LoRA weights change, losses are finite, every step is in
the workspace database, the reward functions see the KG columns, checkpoints resume, the
preflight refuses what will not fit, and adapters merge."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace
from tests.conftest import text_only_lm
from tests.unit.train_fixtures import build_export

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def tiny(tiny_models: Path) -> Path:
    """The tiny models folder (llava, llama, clip ...)."""
    return tiny_models


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace for the module: the GRPO test continues the SFT test's adapter. The CLI's
    network guard is on throughout: nothing may try to reach beyond loopback, even silently."""
    from medsynth import netguard

    netguard.install()
    before = len(netguard.blocked_attempts())
    workspace = Workspace.init(tmp_path_factory.mktemp("train") / "ws")
    build_export(workspace.path("exports") / "export-1")
    yield workspace
    workspace.close()
    assert netguard.blocked_attempts()[before:] == []


def run(ws: Workspace, kind: str, tiny: Path, **options: Any) -> Any:
    from medsynth.train.service import train

    options.setdefault("model", str(tiny / "llava"))
    options.setdefault("smoke", True)
    extra = options.pop("extra_rewards", None)
    lines: list[str] = []
    result = train(ws, TrainOptions(kind=kind, **options), echo=lines.append, extra_rewards=extra)
    result.lines = lines
    return result


def lora_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_sft_trains_lora_and_records_every_step(ws: Workspace, tiny: Path) -> None:
    result = run(ws, "sft", tiny, name="sft-a", max_steps=3)
    assert result.status == "ok" and result.steps == 3
    assert len(result.losses) == 3 and all(math.isfinite(x) for x in result.losses)
    assert result.lines[0].startswith("preflight: estimated peak")
    weights = lora_weights(Path(result.adapter))
    b_matrices = [w for k, w in weights.items() if "lora_B" in k]
    assert b_matrices and all(w.abs().sum() > 0 for w in b_matrices)  # B starts at zero
    assert all("language_model" in k for k in weights)  # vision tower and projector frozen
    assert (Path(result.adapter) / "medsynth_train.json").is_file()

    row = ws.db.table("train_runs").get(result.train_run_id)
    assert row["status"] == "ok" and row["kind"] == "sft" and row["samples"] == 6
    assert len(row["data_hash"]) == 64 and len(row["base_model_hash"]) == 64
    versions = json.loads(row["versions"])
    assert {"torch", "transformers", "trl", "peft"} <= set(versions)
    assert json.loads(row["config"])["lora_rank"] == 8
    assert row["estimate_bytes"] > 0 and row["peak_bytes"] > 0
    assert json.loads(row["preflight"])["fits"] is True
    steps = list(ws.db.table("train_steps").rows_where("train_run_id = ?", [row["id"]]))
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert all(s["loss"] is not None and s["lr"] is not None for s in steps)
    assert all(s["tokens_per_s"] and s["peak_bytes"] for s in steps)
    assert ws.db.table("runs").get(row["run_id"])["status"] == "ok"
    # the CPU estimate starts from this process's RSS at the preflight; the measured peak is its
    # high-water mark (which in a long pytest session may also hold earlier tests' peaks)
    assert row["peak_bytes"] >= 0.8 * row["estimate_bytes"]


def test_grpo_continues_the_sft_adapter_with_kg_rewards(ws: Workspace, tiny: Path) -> None:
    seen: list[dict[str, Any]] = []

    def spread_reward(completions: list[Any], **columns: Any) -> list[float]:
        """Test-only: records the columns and rewards length, so that completions of a random
        model differ in reward and the policy gradient is not zero."""
        seen.append(columns)
        return [len(str(c)) / 100 for c in completions]

    sft_adapter = lora_weights(ws.path("adapters", "sft-a", "adapter"))
    result = run(ws, "grpo", tiny, name="grpo-a", max_steps=2, extra_rewards=[spread_reward])
    assert result.status == "ok" and result.steps == 2
    assert result.settings["init_adapter"].endswith("sft-a/adapter")
    assert all(math.isfinite(x) for x in result.losses)
    after = lora_weights(Path(result.adapter))
    assert after.keys() == sft_adapter.keys()
    assert any(not torch.equal(after[k], sft_adapter[k]) for k in after)

    columns = seen[0]
    assert {"key_answer", "path_entities", "ground_truth", "reasoning", "images"} <= set(columns)
    assert len(columns["key_answer"]) == 2  # batch of 2 completions (num_generations = 2)
    assert all(isinstance(p, list) and p for p in columns["path_entities"])
    keys = {k for batch in seen for k in batch["key_answer"]}
    assert keys & {"chest pain", "digestive system", "no", "avoid infection", "lung nodule"}

    row = ws.db.table("train_runs").get(result.train_run_id)
    steps = list(ws.db.table("train_steps").rows_where("train_run_id = ?", [row["id"]]))
    assert len(steps) == 2
    logged = set().union(*(json.loads(s["rewards"]) for s in steps))
    assert {"answer", "path", "full_path", "spread"} <= logged
    assert logged & {"format", "structured_format"}
    assert all(s["reward"] is not None for s in steps)


def test_resume_goes_on_from_the_last_checkpoint(ws: Workspace, tiny: Path) -> None:
    from medsynth.errors import InputError

    first = run(ws, "sft", tiny, name="sft-resume", max_steps=2, save_steps=2)
    assert (Path(first.output_dir) / "checkpoint-2").is_dir()
    with pytest.raises(InputError, match="already has checkpoints"):
        run(ws, "sft", tiny, name="sft-resume", max_steps=4)
    second = run(ws, "sft", tiny, name="sft-resume", max_steps=4, resume=True)
    assert second.steps == 4
    row = ws.db.table("train_runs").get(second.train_run_id)
    assert row["resumed_from"].endswith("checkpoint-2")
    steps = [
        s["step"] for s in ws.db.table("train_steps").rows_where("train_run_id = ?", [row["id"]])
    ]
    assert steps == [3, 4]


def test_preflight_refuses_before_loading(
    ws: Workspace, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsynth.train import preflight, service

    monkeypatch.setattr(preflight, "device_budget", lambda device, fraction=0.95: (1024, "tiny"))
    loaded: list[Any] = []
    monkeypatch.setattr("medsynth.train.modeling.load_base", lambda *a, **k: loaded.append(a))
    with pytest.raises(service.TrainingRefused, match="does NOT fit") as caught:
        run(ws, "sft", tiny, name="too-big")
    assert "--force" in caught.value.hint
    assert loaded == []
    row = ws.db.table("train_runs").rows_where("name = ?", ["too-big"]).__next__()
    assert row["status"] == "refused" and row["estimate_bytes"] > 1024


def test_merge_writes_a_model_the_hf_backend_loads(ws: Workspace, tiny: Path) -> None:
    from medsynth.backends.hf import HFChat
    from medsynth.train.merge import adapter_snippet, find_adapter, merge

    ref = find_adapter(ws, "sft-a")
    assert ref.base_model == (tiny / "llava").resolve()
    out = ws.path("adapters", "sft-a", "merged")
    merge(ref, out)
    assert (out / "config.json").is_file() and (out / "medsynth_merge.json").is_file()
    merged = HFChat(out)
    with_adapter = HFChat(tiny / "llava", adapter=ref.adapter)
    question = [{"role": "user", "content": "Which organ is shown?"}]
    assert str(merged.generate(question, max_tokens=6)) == str(
        with_adapter.generate(question, max_tokens=6)
    )
    assert f'adapter = "{ref.adapter}"' in adapter_snippet(ref)


def test_idefics3_and_qlora_on_the_cpu(ws: Workspace, tiny: Path) -> None:
    """SmolVLM's layout (image splitting) trains; so does 4-bit NF4 (bitsandbytes' CPU
    backend) with LoRA on top."""
    idefics = run(ws, "sft", tiny, name="sft-idefics", model=str(tiny / "idefics3"), max_steps=2)
    assert idefics.steps == 2 and all(math.isfinite(x) for x in idefics.losses)
    qlora = run(ws, "sft", tiny, name="sft-nf4", max_steps=2, quantization="nf4")
    assert qlora.settings["quantization"] == "nf4"
    assert all(math.isfinite(x) for x in qlora.losses)
    assert any(
        w.abs().sum() > 0 for k, w in lora_weights(Path(qlora.adapter)).items() if "lora_B" in k
    )


def test_text_only_model_trains_on_text_rows(ws: Workspace, tmp_path: Path) -> None:
    text_only_lm(tmp_path / "lm")
    with (ws.path("exports", "export-1", "sft.jsonl")).open("a") as handle:
        handle.write('{"id": "bad", "images": []}\n')  # a reject: no messages
    result = run(ws, "sft", tmp_path, name="sft-text", model=str(tmp_path / "lm"), max_steps=1)
    assert result.steps == 1
    assert any("5 row(s) with images skipped" in note for note in result.notes)
    rejects = list(ws.db.table("rejects").rows_where("stage = ?", ["train"]))
    assert rejects[-1]["source"].endswith("sft.jsonl:7")
    assert rejects[-1]["reason"] == "missing field(s): messages"


def test_tiny_model_shapes(tiny: Path) -> None:
    from medsynth.train.preflight import model_shape

    llava = model_shape(tiny / "llava")
    assert llava.vision and llava.image_tokens == 16  # (56 / 14)^2
    assert llava.total_params < 1_000_000
    assert model_shape(tiny / "idefics3").image_tokens == 5 * 4  # 5 tiles, 4 tokens each


def test_cli_smoke_run(ws: Workspace, tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medsynth.cli import main

    code = main(
        [
            "train",
            "sft",
            "--smoke",
            "--model",
            str(tiny / "llava"),
            "--max-steps",
            "1",
            "--name",
            "cli-sft",
            "-w",
            str(ws.root),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "ok" and data["steps"] == 1
    assert main(["train", "runs", "cli-sft", "-w", str(ws.root), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["steps"][0]["step"] == 1
    args = ["train", "grpo", "--from-sft", "nope", "--model", str(tiny / "llava")]
    assert main([*args, "-w", str(ws.root)]) == 2
    assert "no finished SFT run" in capsys.readouterr().err
