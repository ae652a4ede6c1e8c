"""Memory and speed settings (issue 19): the optimizer, Liger's kernels, vLLM's colocate mode and
the bounded image resolution, each decided from the settings and what is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medsynth.config import TrainConfig
from medsynth.errors import ConfigError
from medsynth.train import grpo, modeling, sft
from medsynth.train.settings import TrainOptions, TrainSettings, layer


def settings(kind: str = "sft", device: str = "cpu", **overrides: Any) -> TrainSettings:
    layers = layer(kind, TrainConfig(), device=device, smoke=True, overrides=overrides)
    return TrainSettings(
        kind=kind,
        device=device,
        smoke=True,
        model=Path("m"),
        data=Path("d"),
        name="n",
        output_dir=Path("o"),
        limit=None,
        sources=layers.sources,
        **layers.values,
    )


def test_defaults_are_layered_and_overridable() -> None:
    s = settings()
    assert (s.fused_loss, s.optimizer, s.vllm, s.vllm_memory) == ("auto", "auto", False, 0.3)
    assert s.sources["fused_loss"] == "default"
    options = TrainOptions(kind="grpo", vllm=True, fused_loss="off")
    assert options.overrides() == {"vllm": True, "fused_loss": "off"}
    assert settings(fused_loss="off").sources["fused_loss"] == "cli"


def test_optimizer_is_paged_8bit_on_cuda_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modeling, "bitsandbytes_usable", lambda: True)
    assert sft.optimizer_name(settings(device="cuda")) == "paged_adamw_8bit"
    assert sft.optimizer_name(settings()) == "adamw_torch_fused"
    monkeypatch.setattr(modeling, "bitsandbytes_usable", lambda: False)
    assert sft.optimizer_name(settings(device="cuda")) == "adamw_torch_fused"
    with pytest.raises(ConfigError, match="CUDA"):
        sft.optimizer_name(settings(optimizer="paged_adamw_8bit"))


def test_liger_only_on_cuda_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modeling, "liger_usable", lambda: True)
    assert sft.uses_liger(settings(device="cuda"))
    assert not sft.uses_liger(settings(device="cuda", fused_loss="off"))
    assert not sft.uses_liger(settings())
    monkeypatch.setattr(modeling, "liger_usable", lambda: False)
    assert not sft.uses_liger(settings(device="cuda"))
    assert sft.common_args(settings())["use_liger_kernel"] is False


def test_vllm_colocate_is_opt_in_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert grpo.vllm_args(settings("grpo")) == {}
    with pytest.raises(ConfigError, match="CUDA"):
        grpo.vllm_args(settings("grpo", vllm=True))
    monkeypatch.setattr(modeling, "vllm_usable", lambda: False)
    with pytest.raises(ConfigError, match="not installed"):
        grpo.vllm_args(settings("grpo", device="cuda", vllm=True))
    monkeypatch.setattr(modeling, "vllm_usable", lambda: True)
    args = grpo.vllm_args(settings("grpo", device="cuda", vllm=True, vllm_memory=0.4))
    assert args == {
        "use_vllm": True,
        "vllm_mode": "colocate",
        "vllm_gpu_memory_utilization": 0.4,
    }
    from trl import GRPOConfig

    assert set(args) <= set(GRPOConfig.__dataclass_fields__)  # TRL still has these fields


def test_bound_images_caps_a_qwen_processor() -> None:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor

    class Processor:
        image_processor = Qwen2VLImageProcessor()

    processor = Processor()
    assert modeling.image_token_pixels(processor) == 28 * 28
    assert modeling.bound_images(processor, 256) == 256 * 28 * 28
    size = processor.image_processor.size
    longest = size["longest_edge"] if isinstance(size, dict) else size.longest_edge
    assert longest == 256 * 28 * 28
    from PIL import Image

    grid = processor.image_processor(images=Image.new("RGB", (1024, 1024)))["image_grid_thw"]
    assert int(grid.prod()) // 4 <= 256  # tokens after the 2 x 2 merge
    assert modeling.bound_images(processor, 0) is None  # 0: the processor's own limit


def test_fixed_size_processors_are_left_alone(tiny_models: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_models / "llava", local_files_only=True)
    assert modeling.image_token_pixels(processor) is None
    assert modeling.bound_images(processor, 64) is None
