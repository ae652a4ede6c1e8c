"""Chat with real models: the CLI driven through stdin with the embedded GGUF model, token
streaming from llama.cpp and from a transformers VLM (the tiny LLaVA), and KG retrieval for an
image that is not an ingested record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medsynth.backends.fake import ScriptedChat
from medsynth.chat import ChatSession
from medsynth.config import Config
from medsynth.eval.models import load_model, parse_model_spec
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.workspace import Workspace
from tests.conftest import REPO, shared_path

pytestmark = pytest.mark.slow
IMAGE = ("slake", "imgs", "xmlab0", "source.jpg")


def test_cli_session_through_stdin(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    Workspace.init(ws).close()
    script = "\n".join(
        [
            "Which organ is shown in this image?",
            "Is it normal?",
            "/blank",
            f"/image {shared_path('slake', 'imgs', 'xmlab1', 'source.jpg')}",
            "/kg",
            "/nonsense",
            "/image /no/such/file.png",
            "/save",
            "/quit",
            "never asked",
        ]
    )
    command = [sys.executable, "-m", "medsynth", "chat", "-w", str(ws), "-m", "llamacpp:embedded"]
    command += ["--image", str(shared_path(*IMAGE)), "--max-tokens", "24"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command, input=script, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "reads text only" in out  # the embedded model cannot see the image, and says so
    assert out.count("answer: ") == 2
    assert "images: " in out and "xmlab1" in out
    assert "kg: 0 fact(s) from no knowledge graph" in out
    assert "unknown command /nonsense" in out
    assert "a blank one changes nothing" in out  # /blank with a text-only model says why not
    assert "error: " in out and "no image file" in out  # the session goes on after an error
    assert f"saved {ws / 'logs'}" in out
    db = Workspace.open(ws).db
    roles = [r[0] for r in db.execute("SELECT role FROM chat_turns ORDER BY position")]
    assert roles.count("user") == 2 and roles.count("assistant") == 2
    assert "never asked" not in [r[0] for r in db.execute("SELECT content FROM chat_turns")]
    saved = json.loads(next((ws / "logs").glob("chat-*.json")).read_text())
    assert saved["sees_images"] is False and len(saved["turns"]) == 7


def test_llamacpp_streams_token_by_token(ws: Workspace) -> None:
    model = load_model(parse_model_spec("llamacpp:embedded", Config()))
    session = ChatSession(ws, model, images=[shared_path(*IMAGE)], max_tokens=24)
    chunks = list(session.send("Name one organ of the abdomen."))
    assert len(chunks) > 3  # streamed, not one piece
    reply = session.turns[-1]
    assert "".join(c.text for c in chunks) == reply.answer and reply.answer
    assert reply.call_id is not None
    row = ws.db.execute("SELECT raw_output, role FROM llm_calls").fetchone()
    assert row == (reply.content, "chat")
    # one row, with the streamed call's token counts (they were lost before: issue 15)
    ((prompt_tokens, completion_tokens),) = list(
        ws.db.execute("SELECT prompt_tokens, completion_tokens FROM llm_calls")
    )
    assert prompt_tokens and prompt_tokens > 10
    assert completion_tokens and 0 < completion_tokens <= 24


def test_vision_model_streams_and_sees_the_image(ws: Workspace, tiny_llava: Path) -> None:
    model = load_model(parse_model_spec(f"hf:{tiny_llava}", Config()))
    session = ChatSession(ws, model, images=[shared_path(*IMAGE)], max_tokens=12)
    assert session.sees_images and session.notes == []
    chunks = list(session.send("Which organ is shown?"))
    assert len(chunks) > 1
    second = session.ask("Where is it?")
    assert second.content
    counts = list(ws.db.execute("SELECT prompt_tokens, completion_tokens FROM llm_calls"))
    assert len(counts) == 2 and all(p > 16 and 0 < c <= 12 for p, c in counts)  # 16 image tokens
    hashes = json.loads(ws.db.execute("SELECT image_hashes FROM llm_calls").fetchone()[0])
    assert hashes == [f"file-sha256:{session.image_keys[0]}"]
    list(session.blank())  # the last question again, on a black image of the same size
    last = ws.db.execute("SELECT image_hashes FROM llm_calls ORDER BY id DESC").fetchone()[0]
    assert json.loads(last)[0].startswith("ablation:blank:") and session.turns[-1].answer


def test_kg_retrieval_for_an_image_not_ingested(ws: Workspace) -> None:
    import_kg(ws, REPO / "kg" / "demo" / "triples.tsv", "triples")
    link_entity_images(ws, REPO / "kg" / "demo" / "images", "folders")
    build_indexes(ws)
    images = sorted((REPO / "kg" / "demo" / "images").rglob("*.png"))
    session = ChatSession(ws, ScriptedChat(lambda m: "ok"), images=[images[0]])
    session.ask("Is there a kidney stone?")
    context = session.add_kg_context()
    assert context.facts and context.entities
    assert "image similarity (weak thumbnail encoder)" in context.source
    assert "the last question" in context.source
    system = session.messages("next")[0][0]["content"]
    assert context.facts[0] in system
