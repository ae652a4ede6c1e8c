"""The openai backend keeps a server's slot for the server: a pool writes a request (images
encoded) before it takes a slot and reads the answer after it frees it; the body goes out whole
and as built; the client is warmed when the model is built, so a run's first calls import
nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from medsynth.backends.base import BackendError, JsonSchema
from medsynth.backends.openai_compat import OpenAIChat, ServerPool

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = {"type": "object", "properties": {"organ": {"type": "string"}}, "required": ["organ"]}
ASK = [{"role": "system", "content": "You name organs."}, {"role": "user", "content": "Which?"}]


def completion(content: Any) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {
        "id": "t", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }  # fmt: skip


@contextmanager
def server(answer: bytes) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback server answering ``answer`` to every POST; yields its base URL and the request
    bodies it received."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", bodies
    finally:
        httpd.shutdown()
        httpd.server_close()


class Probe(OpenAIChat):
    """A server that notes, at each step of a call, whether the pool's slot for it is free."""

    def __init__(self, url: str, steps: list[tuple[str, bool]]) -> None:
        super().__init__("m", url, timeout_s=5)
        self.steps = steps
        self.pool: ServerPool | None = None

    def slot_free(self) -> bool:
        assert self.pool is not None
        slot = self.pool._slots[0]
        if not slot.acquire(blocking=False):
            return False
        slot.release()
        return True

    def request(
        self,
        messages: list[dict[str, Any]],
        images: Any,
        temperature: float,
        seed: int | None,
        max_tokens: int,
    ) -> dict[str, Any]:
        self.steps.append(("request", self.slot_free()))
        return super().request(messages, images, temperature, seed, max_tokens)

    def send(self, request: dict[str, Any], schema: JsonSchema | None) -> Any:
        self.steps.append(("send", self.slot_free()))
        return super().send(request, schema)

    def reply(self, raw: Any) -> Any:
        self.steps.append(("reply", self.slot_free()))
        return super().reply(raw)


def test_a_pool_holds_the_slot_only_while_the_server_has_the_call(tmp_path: Path) -> None:
    """Encoding the images and parsing the answer used to happen inside the slot: the server
    waited for the client's CPU between calls."""
    image = tmp_path / "scan.png"
    Image.new("RGB", (8, 6), (90, 90, 90)).save(image)
    steps: list[tuple[str, bool]] = []
    with server(json.dumps(completion('{"organ": "liver"}')).encode()) as (url, bodies):
        probe = Probe(url, steps)
        pool = ServerPool([probe], concurrency=1)
        probe.pool = pool
        out = pool.generate(ASK, images=[image], schema=SCHEMA, seed=4)
    assert (out, out.prompt_tokens, out.completion_tokens) == ('{"organ": "liver"}', 7, 3)
    assert steps == [("request", True), ("send", False), ("reply", True)]
    assert pool.stats() == {url: 1}
    [body] = bodies
    assert body["model"] == "m" and body["seed"] == 4 and body["temperature"] == 0.0
    assert body["max_tokens"] == 512
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["messages"][0] == ASK[0]
    parts = body["messages"][1]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parts[1] == {"type": "text", "text": "Which?"}


def test_a_request_goes_out_as_built() -> None:
    """The body is sent as ``extra_body`` (the client's typed transform of ``create``'s
    arguments is skipped): the server gets exactly the request, with the model name."""
    with server(json.dumps(completion("liver")).encode()) as (url, bodies):
        chat = OpenAIChat("m", url, timeout_s=5)
        assert chat.generate(ASK, temperature=0.3, seed=None, max_tokens=9) == "liver"
    assert bodies == [{"model": "m", "messages": ASK, "temperature": 0.3, "max_tokens": 9}]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"<html>busy</html>", "not JSON"),
        (json.dumps({**completion("x"), "choices": []}).encode(), "no choices"),
    ],
)
def test_an_answer_without_a_completion_is_a_backend_error(answer: bytes, problem: str) -> None:
    with server(answer) as (url, _), pytest.raises(BackendError, match=problem) as info:
        OpenAIChat("m", url, timeout_s=5).generate(ASK)
    assert info.value.source == url


def test_an_answer_without_text_or_counts_is_empty_text() -> None:
    answer = {**completion(None), "usage": None}
    with server(json.dumps(answer).encode()) as (url, _):
        out = OpenAIChat("m", url, timeout_s=5).generate(ASK)
    assert (out, out.prompt_tokens, out.completion_tokens) == ("", None, None)


FIRST_CALL = """
import json, sys
from medsynth.backends.openai_compat import OpenAIChat
chat = OpenAIChat("m", sys.argv[1], timeout_s=5)
before = set(sys.modules)
chat.generate([{"role": "user", "content": "Which?"}], schema={"type": "object"})
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_first_call_imports_nothing_of_the_client() -> None:
    """The client imported its chat resource (and medsynth httpx, for its errors) on the
    first call: in a run, a whole first round of calls waited for those imports."""
    with server(json.dumps(completion("{}")).encode()) as (url, _):
        run = subprocess.run(
            [sys.executable, "-c", FIRST_CALL, url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=True,
        )
    imported = json.loads(run.stdout.splitlines()[-1])
    client = ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "pydantic", "rich")
    assert [m for m in imported if m.split(".")[0] in client] == []
