"""Memory preflight: parameter counts from config.json alone (7B shapes without weights) and the
estimate's parts, budget check and suggestions.

The expected ranges, and why they are plausible:

- LLaVA-1.5-7B = Llama-2-7B (6.74 B) + CLIP ViT-L/14-336 (0.30 B) + a 2-layer projector
  (0.02 B): 7.06 B. Qwen2.5-VL-7B's model card says 8.3 B (7.6 B language + 0.68 B vision).
- LoRA rank 16 on every linear layer of Llama-2-7B is the well-known 39,976,960 trainable
  parameters (32 layers x (4 x 8192 + 3 x 15104) x 16); for Qwen2.5-7B it is 40,370,176.
- QLoRA is sold as "a 7B model on one 24 GB GPU": NF4 weights of ~7 B parameters are ~3.3 GiB
  plus the 16-bit embeddings and head, and batch 4 x 1024 tokens with gradient checkpointing
  adds a few GiB of activations and logits. So: between 6 and 20 GiB, and below a 24 GiB card.
  Plain bf16 LoRA holds 2 bytes per parameter: over 13 GiB of weights alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from medsynth.train import preflight
from medsynth.train.preflight import GIB, MemoryPlan, check, estimate, model_shape

LLAVA_15_7B: dict[str, Any] = {
    "architectures": ["LlavaForConditionalGeneration"],
    "model_type": "llava",
    "image_token_index": 32000,
    "pad_token_id": 32001,
    "projector_hidden_act": "gelu",
    "vision_feature_layer": -2,
    "vision_feature_select_strategy": "default",
    "text_config": {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-05,
        "vocab_size": 32064,
    },
    "vision_config": {
        "model_type": "clip_vision_model",
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "image_size": 336,
        "patch_size": 14,
        "projection_dim": 768,
    },
}

QWEN25_VL_7B: dict[str, Any] = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"],
    "model_type": "qwen2_5_vl",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": False,
    "vocab_size": 152064,
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "vision_config": {
        "depth": 32,
        "hidden_act": "silu",
        "hidden_size": 1280,
        "intermediate_size": 3420,
        "num_heads": 16,
        "in_chans": 3,
        "out_hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "spatial_patch_size": 14,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [7, 15, 23, 31],
        "tokens_per_second": 2,
    },
}


def config_folder(tmp_path: Path, config: dict[str, Any]) -> Path:
    folder = tmp_path / config["model_type"]
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def llava(tmp_path_factory: pytest.TempPathFactory) -> preflight.ModelShape:
    return model_shape(config_folder(tmp_path_factory.mktemp("cfg"), LLAVA_15_7B))


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> preflight.ModelShape:
    return model_shape(config_folder(tmp_path_factory.mktemp("cfg"), QWEN25_VL_7B))


def test_llava_7b_parameters_from_config_alone(llava: preflight.ModelShape) -> None:
    assert llava.vision and llava.model_type == "llava"
    assert 6.9e9 < llava.total_params < 7.2e9
    assert 0.29e9 < llava.vision_params < 0.35e9
    assert 6.6e9 < llava.language_params < 6.8e9
    assert llava.lora_params_per_rank * 16 == 39_976_960
    assert llava.image_tokens == 576  # (336 / 14)^2
    assert (llava.hidden_size, llava.num_layers, llava.vocab_size) == (4096, 32, 32064)


def test_qwen25_vl_7b_parameters_from_config_alone(qwen: preflight.ModelShape) -> None:
    assert qwen.model_type == "qwen2_5_vl"
    assert 8.1e9 < qwen.total_params < 8.5e9
    assert 0.6e9 < qwen.vision_params < 0.75e9
    assert qwen.lora_params_per_rank * 16 == 40_370_176
    assert qwen.kv_size == 4 * 128  # grouped-query attention: 4 KV heads
    assert qwen.image_tokens == 18 * 18  # a 512 px image: 28 px per token after the merge


@pytest.mark.parametrize("name", ["llava", "qwen"])
def test_7b_qlora_sft_fits_a_24gb_card(name: str, request: pytest.FixtureRequest) -> None:
    shape = request.getfixturevalue(name)
    qlora = estimate(shape, MemoryPlan(seq_tokens=1024))
    assert 6 * GIB < qlora.total < 22 * GIB
    assert 3.2 * GIB < qlora.parts["weights"] < 6 * GIB
    # bf16 weight and gradient, two 8-bit moments (the paged 8-bit AdamW "auto" picks on CUDA)
    assert qlora.parts["adapter"] == 16 * shape.lora_params_per_rank * 6
    fp32_moments = estimate(shape, MemoryPlan(seq_tokens=1024, optimizer_8bit=False))
    assert fp32_moments.parts["adapter"] == 16 * shape.lora_params_per_rank * 8
    bf16 = estimate(shape, MemoryPlan(seq_tokens=1024, quantized=False))
    assert bf16.parts["weights"] > 13 * GIB
    assert bf16.total > qlora.total + 8 * GIB
    assert check(
        shape, MemoryPlan(seq_tokens=1024), budget=(24 * GIB, "24 GB"), can_quantize=True
    ).fits


def test_qwen_vocabulary_makes_logits_the_big_part(qwen: preflight.ModelShape) -> None:
    """152k-token vocabulary: batch 4 x 1024 tokens of float logits dwarf the activations
    when the trainer materialises them (a TRL without its chunked LM head)."""
    parts = estimate(qwen, MemoryPlan(seq_tokens=1024, chunked_logits=False)).parts
    assert parts["logits"] > parts["activations"] > 0
    assert parts["logits"] == 4 * 1024 * 152064 * (2 + 12)


def test_chunked_loss_holds_one_tile_of_logits(qwen: preflight.ModelShape) -> None:
    """TRL's chunked LM head (or Liger's fused cross-entropy): one 4,096 x 32,768 tile at a
    time plus the hidden states' float32 gradient, on a GPU; float32 temporaries on the CPU."""
    plan = MemoryPlan(seq_tokens=1024, chunked_logits=True)
    parts = estimate(qwen, plan).parts
    tokens = 4 * 1024
    assert parts["logits"] == tokens * 32768 * 2 + tokens * 3584 * (4 + 2)
    assert parts["logits"] < estimate(qwen, replace(plan, chunked_logits=False)).parts["logits"] / 5
    cpu = estimate(qwen, replace(plan, device="cpu", runtime_bytes=0)).parts["logits"]
    assert cpu == tokens * 32768 * (4 + preflight.CPU_TILE_COPIES * 4) + tokens * 3584 * 8
    # GRPO: a GPU scores the completion tokens only, the CPU fallback every position
    grpo = MemoryPlan(kind="grpo", seq_tokens=512, max_completion_length=256, chunked_logits=True)
    on_gpu = estimate(qwen, grpo).parts["logits"]
    assert on_gpu == 4 * 256 * 32768 * 2 + 4 * 256 * 3584 * 6


def test_grpo_adds_generation_and_scales_with_completions(llava: preflight.ModelShape) -> None:
    plan = MemoryPlan(kind="grpo", seq_tokens=576 + 128, max_completion_length=256)
    base = estimate(llava, plan)
    assert base.parts["generation"] > 0
    longer = estimate(llava, replace(plan, max_completion_length=1024))
    assert longer.total > base.total
    more = estimate(llava, replace(plan, batch_size=8))
    assert more.parts["generation"] == 2 * base.parts["generation"]


def test_checkpointing_cuts_activations(llava: preflight.ModelShape) -> None:
    plan = MemoryPlan(seq_tokens=2048, batch_size=8)
    kept = estimate(llava, replace(plan, gradient_checkpointing=False)).parts["activations"]
    recomputed = estimate(llava, plan).parts["activations"]
    assert kept > 10 * recomputed


def test_refusal_comes_with_settings_that_fit(llava: preflight.ModelShape) -> None:
    plan = MemoryPlan(quantized=False, gradient_checkpointing=False, batch_size=8, seq_tokens=2048)
    result = check(llava, plan, budget=(int(23.5 * GIB), "24 GB card"), can_quantize=True)
    assert not result.fits
    assert result.suggestion is not None
    settings = result.suggestion["settings"]
    assert settings["gradient_checkpointing"] is True
    assert result.suggestion["total_bytes"] <= 23.5 * GIB
    text = preflight.suggestion_text(result)
    assert "--gradient-checkpointing" in text and "--force" in text
    # without bitsandbytes the advice cannot be 4-bit
    plain = check(llava, plan, budget=(int(23.5 * GIB), "x"), can_quantize=False)
    assert "quantized" not in (plain.suggestion or {}).get("settings", {})


def test_nothing_fits_a_tiny_budget(llava: preflight.ModelShape) -> None:
    result = check(llava, MemoryPlan(), budget=(1 * GIB, "1 GiB"), can_quantize=True)
    assert not result.fits
    assert result.suggestion == {"settings": {}, "total_bytes": None}
    assert "no cheaper setting fits" in preflight.suggestion_text(result)


def test_grpo_suggestions_keep_whole_groups(llava: preflight.ModelShape) -> None:
    plan = MemoryPlan(
        kind="grpo",
        batch_size=8,
        num_generations=8,
        seq_tokens=700,
        max_completion_length=1024,
        quantized=False,
    )
    for _, cheaper in preflight.cheaper_plans(plan, can_quantize=True):
        assert (cheaper.batch_size * cheaper.grad_accum) % cheaper.num_generations == 0


def test_cpu_estimate_counts_float32_and_the_runtime(llava: preflight.ModelShape) -> None:
    cpu = estimate(llava, MemoryPlan(device="cpu", quantized=False, runtime_bytes=123))
    gpu = estimate(llava, MemoryPlan(device="cuda", quantized=False))
    assert cpu.parts["weights"] == 2 * gpu.parts["weights"]
    assert cpu.parts["runtime"] == 123 + preflight.CPU_GROWTH
    assert gpu.parts["runtime"] == preflight.CUDA_RUNTIME


def test_describe_and_dict() -> None:
    shape = preflight.ModelShape("x", False, 10, 0, 8, 2, 4, 1, 8, 4, 100, 0)
    result = check(
        shape,
        MemoryPlan(device="cpu", quantized=False, runtime_bytes=0),
        budget=(1, "tiny"),
        can_quantize=False,
    )
    assert "does NOT fit" in result.describe()
    data = result.as_dict()
    assert data["fits"] is False and data["plan"]["device"] == "cpu"
