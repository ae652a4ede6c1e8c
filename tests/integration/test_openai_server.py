"""OpenAIChat and ServerPool against real loopback servers: llama-cpp-python's own
OpenAI-compatible server with the embedded SmolLM2 GGUF, and tiny stdlib servers that fail or
stream server-sent events."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

from medsynth.backends.base import BackendError, ChatModel, TransientBackendError
from medsynth.backends.llamacpp import embedded_gguf_path
from medsynth.backends.openai_compat import OpenAIChat, ServerPool
from medsynth.chat import ChatSession
from medsynth.errors import ConfigError
from medsynth.workspace import Workspace

pytestmark = pytest.mark.slow

MODEL = "smollm2"
SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
QUESTION = [
    {"role": "system", "content": "You extract facts from radiology reports. Answer in JSON."},
    {
        "role": "user",
        "content": "Report: CT shows a hypodense lesion in the liver, likely a hepatic cyst.\n"
        'Give {"disease": ..., "organ": ...}.',
    },
]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``python -m llama_cpp.server`` serving the embedded GGUF on loopback."""
    try:
        gguf: Path = embedded_gguf_path()
    except ConfigError as exc:
        pytest.fail(f"embedded GGUF missing: {exc}")
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer in 60 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


received: list[object] = []  # the JSON bodies the stub servers were sent, in order


@contextmanager
def stub_server(respond: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A stdlib HTTP server on loopback whose every POST is answered by ``respond`` (the JSON
    body joins ``received``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body or b"null"))
            respond(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def answer(status: int, body: dict[str, object]) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return respond


@pytest.fixture
def server_500() -> Iterator[str]:
    with stub_server(answer(500, {"error": {"message": "model crashed"}})) as url:
        yield url


@pytest.fixture
def server_400() -> Iterator[str]:
    with stub_server(answer(400, {"error": {"message": "unknown model 'smollm2'"}})) as url:
        yield url


@pytest.fixture
def server_slow() -> Iterator[str]:
    released = threading.Event()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        released.wait(timeout=10)  # longer than the client's 1 s timeout

    with stub_server(respond) as url:
        yield url
        released.set()


def test_plain_generate(llama_server: str) -> None:
    chat = OpenAIChat(MODEL, llama_server, timeout_s=60)
    assert isinstance(chat, ChatModel)
    out = chat.generate(
        [{"role": "user", "content": "Name one organ of the chest."}], max_tokens=16, seed=0
    )
    assert out.strip()
    assert out.prompt_tokens and out.prompt_tokens > 5
    assert out.completion_tokens and 0 < out.completion_tokens <= 16


def test_schema_generate_is_valid_json(llama_server: str) -> None:
    chat = OpenAIChat(MODEL, llama_server, timeout_s=60)
    for _ in range(2):  # the second call goes straight to the form the server accepted
        out = chat.generate(QUESTION, schema=SCHEMA, max_tokens=96, seed=0)
        jsonschema.validate(json.loads(out), SCHEMA)
    assert chat.schema_form == "json_object"  # llama_cpp.server refuses type json_schema


def test_pool_routes_around_a_dead_server(llama_server: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    pool = ServerPool.from_urls(MODEL, [dead, llama_server], timeout_s=60, concurrency=2)
    assert isinstance(pool, ChatModel)
    for i in range(3):
        out = pool.generate([{"role": "user", "content": f"Say {i}."}], max_tokens=8)
        assert out.completion_tokens
    assert pool.stats() == {dead: 0, llama_server: 3}
    assert pool.errors() == {dead: 1, llama_server: 0}  # then skipped while cooling down


def completion(text: str) -> dict[str, object]:
    """A minimal OpenAI chat completion body."""
    message = {"role": "assistant", "content": text}
    return {
        "id": "stub", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }  # fmt: skip


def test_pool_spreads_concurrent_calls_within_the_limit() -> None:
    lock = threading.Lock()
    in_flight = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}

    def slow_answer(name: str) -> Callable[[BaseHTTPRequestHandler], None]:
        def respond(handler: BaseHTTPRequestHandler) -> None:
            with lock:
                in_flight[name] += 1
                peak[name] = max(peak[name], in_flight[name])
            time.sleep(0.2)
            with lock:
                in_flight[name] -= 1
            answer(200, completion(name))(handler)

        return respond

    with stub_server(slow_answer("a")) as url_a, stub_server(slow_answer("b")) as url_b:
        pool = ServerPool.from_urls(MODEL, [url_a, url_b], timeout_s=10, concurrency=2)
        with ThreadPoolExecutor(max_workers=8) as executor:
            outs = list(executor.map(lambda i: pool.generate(QUESTION, seed=i), range(8)))
    stats = pool.stats()
    assert sorted(outs) == sorted(["a"] * stats[url_a] + ["b"] * stats[url_b])
    assert sum(stats.values()) == 8 and min(stats.values()) >= 2
    assert peak == {"a": 2, "b": 2}  # both used, never more than `concurrency` at once


def test_pool_of_one_dead_server_raises_transient() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    pool = ServerPool.from_urls(MODEL, [dead], timeout_s=5)
    with pytest.raises(TransientBackendError, match=dead):
        pool.generate(QUESTION, max_tokens=8)


def test_closed_port_is_transient_and_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(TransientBackendError) as info:
        OpenAIChat(MODEL, url, timeout_s=5).generate(QUESTION, max_tokens=8)
    assert url in str(info.value) and "medsynth models doctor" in info.value.hint


def test_http_500_is_transient(server_500: str) -> None:
    with pytest.raises(TransientBackendError, match="model crashed"):
        OpenAIChat(MODEL, server_500, timeout_s=5).generate(QUESTION, max_tokens=8)


def test_http_400_is_a_permanent_error(server_400: str) -> None:
    with pytest.raises(BackendError, match="unknown model") as info:
        OpenAIChat(MODEL, server_400, timeout_s=5).generate(QUESTION, max_tokens=8)
    assert not isinstance(info.value, TransientBackendError)


def test_http_400_with_schema_is_a_permanent_error(server_400: str) -> None:
    chat = OpenAIChat(MODEL, server_400, timeout_s=5)
    with pytest.raises(BackendError, match="unknown model") as info:
        chat.generate(QUESTION, schema=SCHEMA, max_tokens=8)
    assert not isinstance(info.value, TransientBackendError)
    assert chat.schema_form == "json_schema"  # the fallback failed too: nothing learnt


def test_timeout_is_transient(server_slow: str) -> None:
    start = time.monotonic()
    with pytest.raises(TransientBackendError, match="timed out"):
        OpenAIChat(MODEL, server_slow, timeout_s=1).generate(QUESTION, max_tokens=8)
    assert time.monotonic() - start < 5


def sse(
    pieces: list[str], *, stall: threading.Event | None = None
) -> Callable[[BaseHTTPRequestHandler], None]:
    """Answer with server-sent events as OpenAI streams: one chunk per piece, then a usage chunk
    with no choices (``include_usage``) and ``[DONE]``; with ``stall`` it sends the first piece
    and waits for the event."""

    def chunk(delta: dict[str, str], usage: dict[str, int] | None = None) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": None}] if delta else []
        event = {"id": "s", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                 "choices": choices, "usage": usage}  # fmt: skip
        return b"data: " + json.dumps(event).encode() + b"\n\n"

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(chunk({"role": "assistant", "content": ""}))
        for piece in pieces:
            handler.wfile.write(chunk({"content": piece}))
            handler.wfile.flush()
            if stall is not None:
                stall.wait(timeout=10)
                return
        usage = {"prompt_tokens": 21, "completion_tokens": len(pieces), "total_tokens": 21}
        handler.wfile.write(chunk({}, usage) + b"data: [DONE]\n\n")

    return respond


def test_stream_reads_server_sent_events_and_the_usage_chunk() -> None:
    with stub_server(sse(["The ", "liver", "."])) as url:
        response = OpenAIChat(MODEL, url, timeout_s=5).stream(QUESTION, seed=3, max_tokens=8)
        assert list(response) == ["The ", "liver", "."]
    assert (response.text(), response.prompt_tokens, response.completion_tokens) == (
        "The liver.",
        21,
        3,
    )
    body = received[-1]
    assert isinstance(body, dict)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["seed"], body["max_tokens"]) == (3, 8)


def test_a_streamed_chat_turn_logs_the_servers_counts(ws: Workspace) -> None:
    with stub_server(sse(["It ", "is ", "the ", "liver."])) as url:
        session = ChatSession(ws, OpenAIChat(MODEL, url, timeout_s=5))
        chunks = list(session.send("Which organ?"))
    assert len(chunks) == 4
    rows = list(ws.db.execute("SELECT raw_output, prompt_tokens, completion_tokens FROM llm_calls"))
    assert rows == [("It is the liver.", 21, 4)]


@pytest.mark.parametrize("stalls", [False, True])
def test_a_stream_that_stops_answering_times_out_after_timeout_s(
    server_slow: str, stalls: bool
) -> None:
    released = threading.Event()
    with stub_server(sse(["The "], stall=released)) as stalling:
        url = stalling if stalls else server_slow
        started = time.monotonic()
        response = OpenAIChat(MODEL, url, timeout_s=1).stream(QUESTION, max_tokens=8)
        with pytest.raises(TransientBackendError, match="timed out after 1 s") as caught:
            response.text()
        elapsed = time.monotonic() - started
        released.set()
    assert 0.9 <= elapsed < 5 and url in str(caught.value)
    assert response.chunks == (["The "] if stalls else [])


def test_pool_stream_moves_to_another_server_before_the_first_piece() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with stub_server(sse(["a", "b"])) as alive:
        pool = ServerPool.from_urls(MODEL, [dead, alive], timeout_s=5)
        response = pool.stream(QUESTION)
        assert response.text() == "ab" and response.completion_tokens == 2
    assert pool.stats() == {dead: 0, alive: 1}
    assert pool.errors() == {dead: 1, alive: 0}


def test_stream_from_llama_cpp_server_is_the_same_reply(llama_server: str) -> None:
    chat = OpenAIChat(MODEL, llama_server, timeout_s=60)
    question = [{"role": "user", "content": "Name one organ of the chest."}]
    whole = chat.generate(question, max_tokens=16, seed=0)
    response = chat.stream(question, max_tokens=16, seed=0)
    assert len(list(response)) > 1 and response.text() == whole
