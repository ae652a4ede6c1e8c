"""HF chat and open_clip backends on the tiny random models of ``models/build_tiny.py``.

Everything runs offline on the CPU: HF_HUB_OFFLINE is set, and every socket connection or name
lookup to a non-loopback address raises and is recorded; each test, and the module as a whole
(fixtures that build and load the models included), asserts none happened.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medsynth.backends.base import BackendError, ChatModel, Generation
from medsynth.errors import ConfigError
from tests.conftest import text_only_lm
from tests.fakes.offline import offline

REPO = Path(__file__).resolve().parents[2]
HUB_TEXT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"
BLOCKED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[None]:
    """Any connection or lookup beyond loopback raises (and is recorded) while these tests run."""
    with offline(BLOCKED):
        yield
    assert BLOCKED == [], "network attempts while loading models"


@pytest.fixture(scope="module")
def tiny(no_network: None, tiny_models: Path) -> Path:
    """The tiny models (the shared fixture builds them offline too)."""
    return tiny_models


@pytest.fixture(autouse=True)
def nothing_fetched() -> Iterator[None]:
    """Fails a test during which any network attempt was made (even a swallowed one)."""
    before = len(BLOCKED)
    yield
    assert BLOCKED[before:] == []


def picture(colour: tuple[int, int, int] = (180, 40, 90), size: tuple[int, int] = (90, 70)) -> Any:
    return Image.new("RGB", size, colour)


QUESTION = [
    {"role": "system", "content": "You answer questions about medical images."},
    {"role": "user", "content": "Which organ is shown in this image?"},
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_network_guard_blocks_and_records() -> None:
    """Control: an outside connection is refused and recorded, so silence means something."""
    before = len(BLOCKED)
    with pytest.raises(OSError, match="offline test"):
        socket.create_connection(("example.org", 443), timeout=1)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(OSError, match="offline test"),
    ):
        sock.connect(("192.0.2.1", 443))
    assert len(BLOCKED) == before + 2
    del BLOCKED[before:]


# --- HF chat ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llava(tiny: Path) -> Any:
    from medsynth.backends.hf import HFChat

    return HFChat(tiny / "llava")


def test_llava_generates_from_an_image(llava: Any) -> None:
    assert isinstance(llava, ChatModel)
    assert (llava.backend, llava.supports_images, llava.supports_schema) == ("hf", True, False)
    answer = llava.generate(QUESTION, images=[picture()], max_tokens=7)
    assert isinstance(answer, Generation)
    assert answer.completion_tokens is not None and 1 <= answer.completion_tokens <= 7
    assert answer.prompt_tokens is not None and answer.prompt_tokens > 16  # 16 image tokens


def test_llava_streams_the_same_reply_with_its_counts(llava: Any) -> None:
    whole = llava.generate(QUESTION, images=[picture()], max_tokens=7)
    response = llava.stream(QUESTION, images=[picture()], max_tokens=7)
    pieces = list(response)
    assert pieces and "".join(pieces).strip() == whole
    assert (response.prompt_tokens, response.completion_tokens) == (
        whole.prompt_tokens,
        whole.completion_tokens,
    )


def test_llava_greedy_and_seeded_sampling_repeat(llava: Any) -> None:
    first = llava.generate(QUESTION, images=[picture()], temperature=0.0, max_tokens=8)
    again = llava.generate(QUESTION, images=[picture()], temperature=0.0, max_tokens=8)
    assert first == again
    assert first.completion_tokens == again.completion_tokens
    sampled = [
        llava.generate(QUESTION, images=[picture()], temperature=1.0, seed=7, max_tokens=8)
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]


def test_images_need_a_user_turn(llava: Any) -> None:
    with pytest.raises(BackendError, match="no user message"):
        llava.generate([{"role": "system", "content": "x"}], images=[picture()], max_tokens=2)


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_lora_adapter_loads_and_leaves_the_base_untouched(tiny: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    from medsynth.backends.hf import HFChat

    weights = tiny / "llava" / "model.safetensors"
    digest = sha256(weights)
    base = AutoModelForImageTextToText.from_pretrained(tiny / "llava", local_files_only=True)
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    chat = HFChat(tiny / "llava", adapter=tmp_path / "adapter")
    assert isinstance(chat.hf_model, PeftModel)
    saved = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    loaded = {k: v for k, v in chat.hf_model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(saved) > 0
    answer = chat.generate(QUESTION, images=[picture()], max_tokens=5)
    assert answer.completion_tokens is not None and answer.completion_tokens <= 5
    assert sha256(weights) == digest


def test_missing_folder_or_adapter_is_a_config_error(tiny: Path, tmp_path: Path) -> None:
    from medsynth.backends.hf import HFChat

    with pytest.raises(ConfigError, match=re.escape("config.json is missing")) as caught:
        HFChat(tmp_path / "nowhere")
    assert "tiny-models" in caught.value.hint
    with pytest.raises(ConfigError, match=re.escape("adapter_config.json")):
        HFChat(tiny / "llava", adapter=tmp_path / "no-adapter")


def test_4bit_without_cuda_loads_full_precision_with_a_note(tiny: Path) -> None:
    from medsynth.backends.hf import HFChat

    chat = HFChat(tiny / "llava", load_in_4bit=True, device="cpu")
    assert chat.quantised is False
    assert any("CUDA" in note for note in chat.notes)
    assert chat.generate(QUESTION, max_tokens=3).completion_tokens is not None


def test_idefics3_generates_from_an_image(tiny: Path) -> None:
    from medsynth.backends.hf import HFChat

    chat = HFChat(tiny / "idefics3")
    assert chat.supports_images
    wide = picture(size=(200, 120))  # split into 2 x 2 tiles + the global image
    first = chat.generate(QUESTION, images=[wide], max_tokens=6)
    assert first.completion_tokens is not None and first.completion_tokens <= 6
    assert first.prompt_tokens is not None and first.prompt_tokens > 5 * 4
    assert chat.generate(QUESTION, images=[wide], max_tokens=6) == first


def test_text_only_folder_uses_a_causal_lm(tmp_path: Path) -> None:
    from medsynth.backends.hf import HFChat

    chat = HFChat(text_only_lm(tmp_path / "lm"))
    assert chat.supports_images is False
    answer = chat.generate(QUESTION, max_tokens=4)
    assert answer.completion_tokens is not None and answer.completion_tokens <= 4
    with pytest.raises(BackendError, match="text only"):
        chat.generate(QUESTION, images=[picture()], max_tokens=2)


# --- open_clip (BiomedCLIP layout) --------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tiny: Path) -> Any:
    from medsynth.backends.clip import ClipEncoder

    return ClipEncoder(tiny / "biomedclip")


def test_clip_vectors_are_unit_length_and_repeat(clip: Any) -> None:
    texts = ["lung mass", "pulmonary mass", "kidney stone in the left kidney"]
    vectors = clip.encode_text(texts)
    assert vectors.shape == (3, clip.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, clip.encode_text(texts))
    assert not np.allclose(vectors[0], vectors[2])
    images = [picture(), picture((10, 200, 30), (300, 200)), picture((0, 0, 0), (40, 40))]
    pixels = clip.encode_image(images)
    assert pixels.shape == (3, clip.dim) and pixels.dtype == np.float32
    assert np.allclose(np.linalg.norm(pixels, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(pixels, clip.encode_image(images))
    assert clip.encode_text([]).shape == (0, clip.dim)
    assert clip.encode_image([]).shape == (0, clip.dim)


def test_clip_hub_text_tower_is_pointed_at_the_local_copy(clip: Any, tiny: Path) -> None:
    from safetensors.torch import load_file

    folder = tiny / "biomedclip"
    config = json.loads((folder / "open_clip_config.json").read_text())
    assert config["model_cfg"]["text_cfg"]["hf_model_name"] == HUB_TEXT  # untouched on disk
    assert clip.dim == config["model_cfg"]["embed_dim"] == 32
    assert clip.text_tower == folder / "text_tower"
    saved = load_file(str(folder / "open_clip_model.safetensors"))
    state = clip.clip.state_dict()
    assert all(np.array_equal(state[k].numpy(), v.numpy()) for k, v in saved.items())


def test_clip_through_the_encoder_roles(tiny: Path) -> None:
    from medsynth.backends.encoders import image_encoder, text_encoder
    from medsynth.config import EncoderRole

    role = EncoderRole(backend="clip", model=str(tiny / "biomedclip"))
    assert image_encoder(role).encode_image([picture()]).shape == (1, 32)
    assert text_encoder(role).encode_text(["heart"]).shape == (1, 32)


def test_clip_without_a_text_tower_names_the_hub_repo(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsynth.backends.clip import TEXT_ENV, ClipEncoder, describe_clip_folder

    bare = tmp_path / "biomedclip"
    shutil.copytree(tiny / "biomedclip", bare, ignore=shutil.ignore_patterns("text_tower"))
    monkeypatch.delenv(TEXT_ENV, raising=False)
    with pytest.raises(ConfigError, match=re.escape(HUB_TEXT)) as caught:
        ClipEncoder(bare)
    assert HUB_TEXT in caught.value.hint and "text_tower" in caught.value.hint
    report = describe_clip_folder(bare)
    assert report["ok"] is False and any(HUB_TEXT in m for m in report["missing"])

    monkeypatch.setenv(TEXT_ENV, str(tiny / "biomedclip" / "text_tower"))
    assert ClipEncoder(bare).encode_text(["liver"]).shape == (1, 32)
    assert describe_clip_folder(bare)["ok"] is True

    monkeypatch.setenv(TEXT_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=re.escape(TEXT_ENV)):
        ClipEncoder(bare)


def test_describe_clip_folder(tiny: Path, tmp_path: Path) -> None:
    from medsynth.backends.clip import describe_clip_folder

    report = describe_clip_folder(tiny / "biomedclip")
    assert report["ok"] is True, report
    assert report["weights_format"] == "safetensors"
    assert report["text_tower"]["configured"] == HUB_TEXT
    assert report["text_tower"]["found_at"] == "text_tower/"
    assert describe_clip_folder(tmp_path / "nothing")["ok"] is False
