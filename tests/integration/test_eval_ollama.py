"""``medsynth eval`` and ``medsynth chat`` against an Ollama server (the loopback stand-in of
``tests/fakes/ollama_server.py``, answering with SmolLM2): the spec reaches the server, images
travel with the questions, calls run several at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.chat import ChatSession
from medsynth.cli import main
from medsynth.eval.models import load_model, parse_model_spec
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.fakes.ollama_server import DEFAULT_TAG, serve

pytestmark = pytest.mark.slow


def test_eval_and_chat_through_ollama(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    Workspace.init(ws).close()
    with serve() as server:
        spec = f"ollama:{DEFAULT_TAG}@{server.url}"
        args = ["eval", "-d", "vqa-rad", str(shared_path("vqa_rad")), "--split", "train"]
        args += ["-n", "4", "-m", spec, "--max-tokens", "8", "--batch-size", "2"]
        assert main([*args, "-w", str(ws), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        chats = [r.body for r in server.requests if r.path == "/api/chat"]
        assert result["predicted"] == 4 and result["backend"] == "ollama"
        assert result["images_seen"] is True and len(chats) == 4
        assert all(body["messages"][-1].get("images") for body in chats)
        assert all(body["options"]["temperature"] == 0 for body in chats)
        opened = Workspace.open(ws)
        session = ChatSession(
            opened,
            load_model(parse_model_spec(spec, opened.config)),
            images=[shared_path("vqa_rad", "images", "synpic54610.jpg")],
            max_tokens=8,
        )
        chunks = list(session.send("Which organ is shown?"))
        # Ollama streams natively now: several pieces that join into the stored answer
        assert len(chunks) > 1 and session.turns[-1].answer
        assert "".join(c.text for c in chunks if c.kind == "answer").strip()
