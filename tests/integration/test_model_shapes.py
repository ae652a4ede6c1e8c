"""The published 7B / 3B VLM shapes of ``models/shapes/``: each config builds its architecture,
a reduced-depth copy runs a forward pass with an image on the CPU, and the full-depth counts
equal the published parameter totals."""

from __future__ import annotations

from types import ModuleType

import pytest

from medsynth.train.preflight import MemoryPlan, estimate, image_tokens_for, model_shape
from tests.conftest import models_script

pytestmark = pytest.mark.slow


def shapes_module() -> ModuleType:
    return models_script("build_shapes")


# parameter totals as published (billions, two decimals)
PUBLISHED = {"qwen2.5-vl-7b": 8.29, "qwen2.5-vl-3b": 3.75, "llava-1.5-7b": 7.06}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_full_depth_counts_match_the_published_sizes(name: str) -> None:
    shapes = shapes_module()
    shape = model_shape(shapes.folder(name))
    assert round(shape.total_params / 1e9, 2) == PUBLISHED[name]
    assert shape.vision and shape.num_layers in (28, 32, 36)


def _inputs(name: str, model: object) -> dict[str, object]:
    import torch

    cfg = model.config  # type: ignore[attr-defined]
    if name.startswith("qwen"):
        grid = torch.tensor([[1, 4, 4]])  # a 56 x 56 image: 16 patches, 4 tokens after merging
        pixels = torch.randn(16, 3 * 2 * 14 * 14, dtype=torch.bfloat16)
        ids = [cfg.vision_start_token_id, *[cfg.image_token_id] * 4, cfg.vision_end_token_id]
        ids += [100, 200, 300]
        return {"input_ids": torch.tensor([ids]), "pixel_values": pixels, "image_grid_thw": grid}
    ids = [1, *[cfg.image_token_index] * 576, 100, 200]
    pixels = torch.randn(1, 3, 336, 336, dtype=torch.bfloat16)
    return {"input_ids": torch.tensor([ids]), "pixel_values": pixels}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_a_reduced_depth_copy_runs_on_the_cpu(name: str) -> None:
    import torch

    shapes = shapes_module()
    model = shapes.build(name, depth=1)
    text = model.config.get_text_config()
    assert text.num_hidden_layers == 1
    inputs = _inputs(name, model)
    with torch.no_grad():
        logits = model(**inputs).logits
    ids = inputs["input_ids"]
    assert isinstance(ids, torch.Tensor)
    assert logits.shape == (1, ids.shape[1], text.vocab_size)
    assert torch.isfinite(logits.float()).all()


def test_image_tokens_follow_the_processors_pixel_limit() -> None:
    shapes = shapes_module()
    qwen = shapes.folder("qwen2.5-vl-7b")
    assert image_tokens_for(qwen) == 12845056 // (28 * 28)  # the processor's own limit
    assert image_tokens_for(qwen, max_pixels=512 * 28 * 28) == 512
    assert image_tokens_for(shapes.folder("llava-1.5-7b")) == 576  # fixed 336 px, 14 px patches
    shape = model_shape(qwen)
    small = estimate(shape, MemoryPlan(image_tokens=256))
    large = estimate(shape, MemoryPlan(image_tokens=image_tokens_for(qwen)))
    assert large.total > small.total  # full-resolution images cost memory the estimate shows
