"""The processors ``models/build_shapes.py`` gives the published shapes (their tokenizers cannot
be downloaded): special tokens at the ids the configs name, the real image-token counts, a chat
template that round-trips through ``save_pretrained``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import models_script


@pytest.fixture(scope="module")
def shapes() -> ModuleType:
    return models_script("build_shapes")


@pytest.mark.parametrize(
    ("name", "image_tokens"), [("qwen2.5-vl-3b", 16 * 16), ("llava-1.5-7b", 24 * 24)]
)
def test_processor_has_the_real_token_layout(
    shapes: ModuleType, name: str, image_tokens: int, tmp_path: Path
) -> None:
    from PIL import Image
    from transformers import AutoProcessor

    cfg = shapes.config(name)
    shapes.processor(cfg).save_pretrained(tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path, local_files_only=True)
    tokenizer = processor.tokenizer
    assert len(tokenizer) == cfg.get_text_config().vocab_size
    image_id = cfg.image_token_id if name.startswith("qwen") else cfg.image_token_index
    assert processor.image_token_id == image_id
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "w5 w6 w7"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "w8 w9"}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    ids = processor(text=[text], images=[Image.new("RGB", (448, 448))], return_tensors="pt")
    ids = ids["input_ids"][0].tolist()
    assert ids.count(image_id) == image_tokens
    assert [i for i in ids if 5 <= i <= 9] == [5, 6, 7, 8, 9]  # one word, one token
    assert tokenizer.unk_token_id not in ids  # role words and markers are known
    if name.startswith("qwen"):
        assert ids.count(cfg.vision_start_token_id) == 1 and ids[-1] == 151645  # <|im_end|>
    else:
        assert ids[-1] == 2  # </s>
