"""Every ``[models.<role>]`` setting reaches the code that uses it.

``retries`` reaches the call logs that ground, synth, judge and eval build (with ``retries = 1`` a
hanging server is tried exactly twice); ``timeout_s`` bounds plain and streamed calls of every
network backend; the other settings reach the backend objects (heavy loaders are replaced by
recorders, the HTTP clients are real and contact nothing here).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends import registry
from medsynth.backends.base import TransientBackendError
from medsynth.backends.calllog import DEFAULT_RETRIES, Template
from medsynth.backends.fake import ScriptedChat
from medsynth.config import ChatRole
from medsynth.workspace import Workspace


class HangingServer:
    """A loopback TCP server that accepts connections, reads, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)  # held open, never answered

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


@pytest.mark.parametrize("backend", ["openai", "ollama"])
def test_retries_1_makes_exactly_two_attempts(
    ws: Workspace, hanging: HangingServer, backend: str
) -> None:
    from medsynth.synth.runtime import Runtime

    role = ChatRole(
        backend=backend,  # type: ignore[arg-type]
        model="hung",
        host=f"{hanging.url}/v1" if backend == "openai" else hanging.url,
        timeout_s=0.3,
        retries=1,
    )
    ws.config.models.generator = role
    model = registry.build_chat_model(role, role_name="generator")
    runtime = Runtime(ws, None, ws.config.synth, {"generator": model})
    log = runtime.logs["generator"]
    log.sleep = lambda _s: None  # no backoff wait in the test
    with pytest.raises(TransientBackendError, match=r"gave up after 2 attempt\(s\)"):
        log.call([{"role": "user", "content": "hello"}], template=Template("t", "1"))
    assert hanging.accepted == 2
    (attempts,) = ws.db.execute("SELECT attempts FROM llm_calls").fetchone()
    assert attempts == 2


def test_chat_takes_its_roles_retries(ws: Workspace, hanging: HangingServer) -> None:
    """The chat session (CLI and TUI) passes the role's ``retries`` to its call log: with
    ``retries = 1`` a hanging server is tried exactly twice, then the turn fails by name."""
    from medsynth.chat import ChatSession

    role = ChatRole(
        backend="openai", model="hung", host=f"{hanging.url}/v1", timeout_s=0.3, retries=1
    )
    model = registry.build_chat_model(role, role_name="generator")
    session = ChatSession(ws, model, retries=role.retries)
    with pytest.raises(TransientBackendError, match=r"gave up after 2 attempt\(s\)"):
        list(session.send("hello"))
    assert hanging.accepted == 2
    (attempts,) = ws.db.execute("SELECT attempts FROM llm_calls WHERE role = 'chat'").fetchone()
    assert attempts == 2


@pytest.mark.parametrize("kind", ["openai", "openai-pool", "ollama"])
@pytest.mark.parametrize("streamed", [False, True])
def test_timeout_s_bounds_plain_and_streamed_calls(
    hanging: HangingServer, kind: str, streamed: bool
) -> None:
    backend = "ollama" if kind == "ollama" else "openai"
    url = hanging.url if backend == "ollama" else f"{hanging.url}/v1"
    role = ChatRole(
        backend=backend,  # type: ignore[arg-type]
        model="hung",
        host=url,
        servers=[url] if kind == "openai-pool" else [],
        concurrency=2 if kind == "openai-pool" else 1,
        timeout_s=0.5,
    )
    model = registry.build_chat_model(role, role_name="generator")
    messages = [{"role": "user", "content": "hello"}]
    started = time.monotonic()
    with pytest.raises(TransientBackendError):
        if streamed:
            model.stream(messages).text()
        else:
            model.generate(messages)
    assert 0.45 <= time.monotonic() - started < 3  # about timeout_s, not the 180 s default
    assert hanging.accepted == 1


def test_every_call_log_site_takes_its_roles_retries(ws: Workspace) -> None:
    from medsynth.ground.service import Grounder
    from medsynth.synth.runtime import Runtime

    models = ws.config.models
    models.generator.retries, models.vision_generator.retries, models.verifier.retries = 0, 5, 7
    fake = ScriptedChat([])
    runtime = Runtime(
        ws, None, ws.config.synth, {"generator": fake, "vision_generator": fake, "verifier": fake}
    )
    assert {r: log.retries for r, log in runtime.logs.items()} == {
        "generator": 0,
        "vision_generator": 5,
        "verifier": 7,
    }
    grounder = Grounder(ws, None, fake, fake)
    assert (grounder.extract_log.retries, grounder.verify_log.retries) == (5, 7)
    assert registry.role_retries(ws.config, "chat") == DEFAULT_RETRIES


def test_judge_and_eval_pass_retries() -> None:
    """The judge (verifier role) and eval (the --model role) pass the role's setting."""
    root = Path(__file__).resolve().parents[2] / "medsynth"
    judge = (root / "review" / "judge.py").read_text()
    runner = (root / "eval" / "runner.py").read_text()
    assert "retries=section.retries" in judge  # section = [models.verifier]
    assert "retries=choice.role.retries" in runner


class Recorder:
    """Stands in for a heavy loader and keeps the arguments it was given."""

    def __init__(self) -> None:
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Recorder:
        self.args, self.kwargs = args, kwargs
        return self


def test_llamacpp_settings_reach_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    import medsynth.backends.llamacpp as llamacpp

    recorder = Recorder()
    monkeypatch.setattr(llamacpp, "load_llamacpp", recorder)
    role = ChatRole(
        backend="llamacpp",
        model="/models/m.gguf",
        mmproj="/models/mm.gguf",
        chat_handler="Qwen25VLChatHandler",
        context=8192,
    )
    assert registry.build_chat_model(role) is recorder
    assert recorder.args == (Path("/models/m.gguf"),)
    assert recorder.kwargs == {
        "n_ctx": 8192,
        "mmproj": Path("/models/mm.gguf"),
        "chat_handler": "Qwen25VLChatHandler",
    }


def test_hf_settings_reach_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    import medsynth.backends.hf as hf

    recorder = Recorder()
    monkeypatch.setattr(hf, "HFChat", recorder)
    role = ChatRole(backend="hf", model="/models/vlm", adapter="/runs/lora", load_in_4bit=True)
    assert registry.build_chat_model(role) is recorder
    assert recorder.args == (Path("/models/vlm"),)
    assert recorder.kwargs == {"adapter": Path("/runs/lora"), "load_in_4bit": True}


def test_ollama_settings_reach_the_client() -> None:
    from medsynth.backends.ollama_chat import OllamaChat

    role = ChatRole(backend="ollama", model="qwen2.5vl:7b", host="http://127.0.0.1:1", timeout_s=7)
    model = registry.build_chat_model(role)
    assert isinstance(model, OllamaChat)
    assert (model.model, model.host, model.timeout_s) == ("qwen2.5vl:7b", role.host, 7)


def test_openai_settings_reach_the_clients() -> None:
    from medsynth.backends.openai_compat import OpenAIChat, ServerPool

    one = registry.build_chat_model(
        ChatRole(backend="openai", model="m", host="http://127.0.0.1:1/v1", timeout_s=9)
    )
    assert isinstance(one, OpenAIChat)
    assert (one.model, one.base_url, one.client.timeout) == ("m", "http://127.0.0.1:1/v1", 9)
    assert one.client.max_retries == 0  # retries are the call log's, counted once
    urls = ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    pool = registry.build_chat_model(
        ChatRole(backend="openai", model="m", servers=urls, concurrency=3, timeout_s=4)
    )
    assert isinstance(pool, ServerPool)
    assert [s.base_url for s in pool.servers] == urls
    assert all(s.client.timeout == 4 for s in pool.servers)
    assert [slot._value for slot in pool._slots] == [3, 3]  # type: ignore[attr-defined]
