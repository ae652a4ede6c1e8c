"""The fake Ollama refuses what the real server refuses, and our client sends nothing it would.

The rules come from Ollama's ``docs/api.md`` and its Go request types (see
``tests/fakes/ollama_rules.py``). If the client drifts (a data-URI image, an option under the
wrong name or type, a ``format`` Ollama does not know), a test here fails.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from medsynth.backends.base import BackendError, TransientBackendError
from medsynth.backends.ollama_chat import OllamaChat
from medsynth.backends.registry import build_chat_model
from medsynth.config import ChatRole
from tests.fakes.ollama_server import (
    DEFAULT_TAG,
    NO_VISION_ERROR,
    TEXT_ONLY_TAG,
    FakeOllama,
    serve,
)

PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
QUESTION = [{"role": "user", "content": "Which organ is shown? One word."}]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with serve() as server:
        server.tags = [DEFAULT_TAG, TEXT_ONLY_TAG]
        yield server


def post(fake: FakeOllama, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{fake.url}{path}", json=body, timeout=60)


def chat_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": DEFAULT_TAG,
        "messages": [{"role": "user", "content": "Hi", "images": [PNG_B64]}],
        "stream": False,
        "options": {"num_predict": 2, "temperature": 0},
    }
    body.update(extra)
    return body


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        # a data URI is not base64: Go's []byte decoding stops at the ':'
        ({"images": ["data:image/png;base64," + PNG_B64]}, 400, "illegal base64 data"),
        ({"images": [[1, 2, 3]]}, 400, "cannot unmarshal"),
        ({"content": [{"type": "text", "text": "Hi"}]}, 400, "of type string"),
        ({"role": "human"}, 400, "role must be one of"),
    ],
)
def test_fake_refuses_messages_ollama_refuses(
    fake: FakeOllama, change: dict[str, Any], status: int, error: str
) -> None:
    body = chat_body()
    body["messages"][0].update(change)
    reply = post(fake, "/api/chat", body)
    assert reply.status_code == status
    assert error in reply.json()["error"]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"options": {"temperature": "0.2"}}, 500, 'option "temperature" must be of type float32'),
        ({"options": {"seed": True}}, 500, 'option "seed" must be of type integer'),
        ({"options": {"num_ctx": "4096"}}, 500, 'option "num_ctx" must be of type integer'),
        ({"options": {"max_tokens": 8}}, 400, "unknown option 'max_tokens'"),
        ({"options": [0.1]}, 400, "of type map"),
        ({"format": "json_schema"}, 500, "invalid format"),
        ({"format": ["disease"]}, 500, "invalid format"),
        ({"keep_alive": "ten minutes"}, 400, "invalid duration"),
        ({"keep_alive": True}, 400, "Unsupported type"),
        ({"max_tokens": 8}, 400, "unknown fields ['max_tokens']"),
        ({"model": ""}, 400, "model is required"),
        ({"model": "absent:1b"}, 404, "model 'absent:1b' not found"),
    ],
)
def test_fake_refuses_requests_ollama_refuses(
    fake: FakeOllama, change: dict[str, Any], status: int, error: str
) -> None:
    reply = post(fake, "/api/chat", chat_body(**change))
    assert reply.status_code == status
    assert error in reply.json()["error"]


@pytest.mark.parametrize(
    "change",
    [
        {"keep_alive": "10m"},
        {"keep_alive": "1h30m"},
        {"keep_alive": -1},
        {"keep_alive": 0.5},
        {"format": "json"},
        {"format": {"type": "object"}},
        {"options": {"num_ctx": 4096, "seed": 3, "temperature": 0.0, "num_predict": 2}},
    ],
)
def test_fake_accepts_what_ollama_accepts(fake: FakeOllama, change: dict[str, Any]) -> None:
    reply = post(fake, "/api/chat", chat_body(**change))
    assert reply.status_code == 200, reply.text
    assert reply.json()["done"] is True


def test_show_needs_a_model_and_reports_capabilities(fake: FakeOllama) -> None:
    assert post(fake, "/api/show", {}).json() == {"error": "model is required"}
    assert post(fake, "/api/show", {}).status_code == 400
    vision = post(fake, "/api/show", {"model": DEFAULT_TAG}).json()
    text = post(fake, "/api/show", {"name": TEXT_ONLY_TAG}).json()  # the older key
    assert vision["capabilities"] == ["completion", "vision"]
    assert text["capabilities"] == ["completion"]
    for info in (vision, text):
        assert info["details"]["format"] == "gguf" and "general.architecture" in info["model_info"]
    tags = httpx.get(f"{fake.url}/api/tags", timeout=10).json()["models"]
    assert [m["model"] for m in tags] == [DEFAULT_TAG, TEXT_ONLY_TAG]
    assert all({"name", "size", "digest", "details"} <= set(m) for m in tags)


def test_a_text_only_model_refuses_images(fake: FakeOllama) -> None:
    reply = post(fake, "/api/chat", chat_body(model=TEXT_ONLY_TAG))
    assert reply.status_code == 500 and reply.json()["error"] == NO_VISION_ERROR
    plain = chat_body(model=TEXT_ONLY_TAG)
    del plain["messages"][0]["images"]
    assert post(fake, "/api/chat", plain).status_code == 200


def test_streamed_reply_is_ndjson_with_counts_on_the_done_line(fake: FakeOllama) -> None:
    body = chat_body(stream=True)
    with httpx.stream("POST", f"{fake.url}/api/chat", json=body, timeout=60) as reply:
        assert reply.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    last = lines[-1]
    assert last["prompt_eval_count"] > 0 and last["eval_count"] > 0
    assert all(line["message"]["role"] == "assistant" for line in lines)


def test_every_request_the_client_sends_is_one_ollama_accepts(fake: FakeOllama) -> None:
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=60, num_ctx=2048, keep_alive="10m")
    image = Image.new("RGB", (4, 4), (0, 90, 0))
    schema = {"type": "object", "properties": {"organ": {"type": "string"}}}
    model.generate(QUESTION, images=[image], schema=schema, seed=3, max_tokens=8)
    assert "".join(model.stream(QUESTION, images=[image], max_tokens=4, temperature=0.7))
    model.list_models()
    model.show()
    assert not fake.refused(), [(r.path, r.status) for r in fake.refused()]
    chats = [r.body for r in fake.requests if r.path == "/api/chat"]
    assert len(chats) == 2
    for body in chats:
        assert body["keep_alive"] == "10m"
        assert body["options"]["num_ctx"] == 2048
        (encoded,) = body["messages"][-1]["images"]
        assert not encoded.startswith("data:") and encoded.startswith("iVBORw0KGgo")  # PNG
    assert chats[0]["format"] == schema and chats[0]["options"]["seed"] == 3


def test_role_context_becomes_num_ctx(fake: FakeOllama) -> None:
    role = ChatRole(backend="ollama", model=DEFAULT_TAG, host=fake.url, context=3072)
    model = build_chat_model(role, role_name="generator")
    model.generate(QUESTION, max_tokens=2)
    (body,) = [r.body for r in fake.requests if r.path == "/api/chat"]
    assert body["options"]["num_ctx"] == 3072


def test_supports_images_comes_from_capabilities(fake: FakeOllama) -> None:
    assert OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=10).supports_images is True
    text = OllamaChat(TEXT_ONLY_TAG, host=fake.url, timeout_s=10)
    assert text.supports_images is False
    before = len(fake.requests)
    with pytest.raises(BackendError) as caught:
        text.generate(QUESTION, images=[Image.new("RGB", (2, 2))])
    assert not isinstance(caught.value, TransientBackendError)
    message = str(caught.value)
    assert TEXT_ONLY_TAG in message and "vision" in message and "models use" in message
    assert len(fake.requests) == before  # refused here: nothing was sent
    assert text.generate(QUESTION, max_tokens=2).strip() is not None  # text still works


def test_a_no_vision_error_from_the_server_is_permanent(fake: FakeOllama) -> None:
    text = OllamaChat(TEXT_ONLY_TAG, host=fake.url, timeout_s=10)
    text.supports_images = True  # as if /api/show had not said (an older server)
    with pytest.raises(BackendError) as caught:
        text.generate(QUESTION, images=[Image.new("RGB", (2, 2))])
    assert not isinstance(caught.value, TransientBackendError)
    assert "cannot read images" in str(caught.value) and TEXT_ONLY_TAG in str(caught.value)


def test_a_hanging_server_is_asked_briefly_and_decides_itself() -> None:
    with serve(mode="hang") as server:
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=1)
        started = time.monotonic()
        assert model.supports_images is True  # unknown: not cached, the server decides
        assert time.monotonic() - started < 5
        assert model._vision is None


def test_an_unreachable_server_leaves_the_images_to_the_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = OllamaChat(DEFAULT_TAG, host=f"http://127.0.0.1:{port}", timeout_s=2)
    assert model.supports_images is True
    with pytest.raises(TransientBackendError):
        model.capabilities()
