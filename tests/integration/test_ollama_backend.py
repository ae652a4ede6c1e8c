"""The Ollama backend against a loopback Ollama that answers from the real SmolLM2 GGUF."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from collections.abc import Iterator

import jsonschema
import pytest
from PIL import Image

from medsynth.backends.base import BackendError, ChatModel, TransientBackendError
from medsynth.backends.ollama_chat import OllamaChat
from medsynth.chat import ChatSession
from medsynth.workspace import Workspace
from tests.fakes.ollama_server import (
    DEFAULT_TAG,
    NOT_JSON,
    FakeOllama,
    serve,
)

SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
QUESTION = [
    {"role": "system", "content": "You are a radiology assistant."},
    {"role": "user", "content": "Which organ does pneumonia affect? Answer briefly."},
]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with serve() as server:
        yield server


def chat_bodies(server: FakeOllama) -> list[dict]:
    return [r.body for r in server.requests if r.path == "/api/chat"]


def test_plain_chat_returns_text_and_token_counts(fake: FakeOllama) -> None:
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30)
    assert isinstance(model, ChatModel)
    out = model.generate(QUESTION, temperature=0.0, seed=7, max_tokens=24)
    assert out.strip()
    assert out.prompt_tokens is not None and out.prompt_tokens > 10
    assert out.completion_tokens is not None and 0 < out.completion_tokens <= 24
    (body,) = chat_bodies(fake)
    assert body["model"] == DEFAULT_TAG
    assert body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "format" not in body


def test_options_reach_the_server(fake: FakeOllama) -> None:
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30)
    model.generate(QUESTION, temperature=0.3, seed=1234, max_tokens=8)
    model.generate(QUESTION, max_tokens=8)  # no seed: none is sent
    first, second = chat_bodies(fake)
    assert first["options"] == {"temperature": 0.3, "seed": 1234, "num_predict": 8}
    assert second["options"] == {"temperature": 0.0, "num_predict": 8}
    assert "keep_alive" not in first  # the server's default unless the caller sets one
    assert not fake.refused()


def test_schema_constrained_output_is_valid_json(fake: FakeOllama) -> None:
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30)
    prompt = [
        {
            "role": "user",
            "content": "Caption: chest X-ray showing pneumonia in the right lung. "
            'Reply with JSON {"disease": ..., "organ": ...}.',
        }
    ]
    out = model.generate(prompt, schema=SCHEMA, temperature=0.0, seed=0, max_tokens=64)
    jsonschema.validate(json.loads(out), SCHEMA)
    (body,) = chat_bodies(fake)
    assert body["format"] == SCHEMA


def test_image_arrives_base64_in_last_user_message(fake: FakeOllama) -> None:
    image = Image.new("RGB", (8, 6), (200, 10, 10))
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30)
    messages = [*QUESTION, {"role": "assistant", "content": "The lung."}]
    messages.append({"role": "user", "content": "What is in this image?"})
    model.generate(messages, images=[image], max_tokens=8)
    (body,) = chat_bodies(fake)
    sent = body["messages"]
    assert all("images" not in m for m in sent[:-1])
    (encoded,) = sent[-1]["images"]
    decoded = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert decoded.format == "PNG" and decoded.size == (8, 6)
    assert decoded.convert("RGB").getpixel((0, 0)) == (200, 10, 10)
    assert "images" not in messages[-1]  # the caller's messages are left alone


def test_server_error_is_transient_and_names_the_host() -> None:
    with serve(mode="error500") as server:
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=5)
        with pytest.raises(TransientBackendError) as caught:
            model.generate(QUESTION)
    text = str(caught.value)
    assert server.url in text and "500" in text
    assert "ollama serve" in text and "medsynth models doctor" in text


def test_hang_times_out_as_transient() -> None:
    with serve(mode="hang") as server:
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=1)
        started = time.monotonic()
        with pytest.raises(TransientBackendError) as caught:
            model.generate(QUESTION)
        assert time.monotonic() - started < 5
    assert server.url in str(caught.value)


def test_closed_port_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    model = OllamaChat(DEFAULT_TAG, host=host, timeout_s=5)
    with pytest.raises(TransientBackendError) as caught:
        model.generate(QUESTION)
    assert host in str(caught.value) and "ollama serve" in str(caught.value)
    with pytest.raises(TransientBackendError):
        model.list_models()


def test_unknown_model_is_permanent_with_pull_hint() -> None:
    with serve(mode="unknown_model") as server:
        model = OllamaChat("qwen2.5vl:7b", host=server.url, timeout_s=5)
        with pytest.raises(BackendError) as caught:
            model.generate(QUESTION)
    assert not isinstance(caught.value, TransientBackendError)
    assert "ollama pull qwen2.5vl:7b" in str(caught.value)


def test_invalid_json_is_returned_unchanged() -> None:
    with serve(mode="invalid_json") as server:
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=5)
        out = model.generate(QUESTION, schema=SCHEMA)
    assert out == NOT_JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_list_models_and_show(fake: FakeOllama) -> None:
    fake.tags = [DEFAULT_TAG, "llava:7b"]
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=5)
    assert model.list_models() == [DEFAULT_TAG, "llava:7b"]
    info = model.show(DEFAULT_TAG)
    assert info["size_bytes"] == fake.model_path.stat().st_size
    assert info["format"] == "gguf" and info["quantization_level"] == "Q4_1"
    assert info["capabilities"] == ["completion", "vision"]
    assert info["context_length"] == 8192
    assert model.show("llava:7b")["capabilities"] == ["completion"]
    show = [r for r in fake.requests if r.path == "/api/show"]
    assert show and all(r.method == "POST" and r.body == {"model": r.body["model"]} for r in show)
    with pytest.raises(BackendError, match="ollama pull missing:1b"):
        model.show("missing:1b")


def test_fake_streams_ndjson_like_ollama(fake: FakeOllama) -> None:
    import ollama

    client = ollama.Client(host=fake.url, timeout=30)
    parts = list(
        client.chat(
            model=DEFAULT_TAG,
            messages=QUESTION,
            stream=True,
            options={"num_predict": 12, "temperature": 0},
        )
    )
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count is not None and parts[-1].eval_count > 0
    assert "".join(p.message.content or "" for p in parts).strip()


def test_stream_yields_pieces_then_ollamas_counts(fake: FakeOllama) -> None:
    model = OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30)
    whole = model.generate(QUESTION, seed=7, max_tokens=24)
    response = model.stream(QUESTION, seed=7, max_tokens=24)
    pieces = list(response)
    assert len(pieces) > 1 and "".join(pieces) == whole  # word by word, the same reply
    assert (response.prompt_tokens, response.completion_tokens) == (
        whole.prompt_tokens,
        whole.completion_tokens,
    )
    streamed = chat_bodies(fake)[-1]
    assert streamed["stream"] is True and streamed["options"]["seed"] == 7
    assert "format" not in streamed


def test_a_streamed_chat_turn_logs_ollamas_counts(fake: FakeOllama, ws: Workspace) -> None:
    session = ChatSession(ws, OllamaChat(DEFAULT_TAG, host=fake.url, timeout_s=30), max_tokens=16)
    chunks = list(session.send("Which organ does pneumonia affect?"))
    assert len(chunks) > 1
    (row,) = ws.db.execute("SELECT raw_output, prompt_tokens, completion_tokens FROM llm_calls")
    assert row[0] == session.turns[-1].content
    assert row[1] and row[1] > 10 and row[2] and 0 < row[2] <= 16
    assert chat_bodies(fake)[-1]["stream"] is True


@pytest.mark.parametrize("mode", ["hang", "stall"])
def test_a_stream_that_stops_answering_times_out_after_timeout_s(mode: str) -> None:
    with serve(mode=mode) as server:  # type: ignore[arg-type]
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=1)
        started = time.monotonic()
        response = model.stream(QUESTION)
        with pytest.raises(TransientBackendError, match="within 1 s") as caught:
            response.text()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5
    assert server.url in str(caught.value)
    assert response.chunks == ([] if mode == "hang" else ["The "])
