"""The chat screen: a streamed reply from the embedded SmolLM2, the think part folded away, KG
facts for a record's image, a saved transcript, cancelling a reply, and the error paths."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Collapsible, Input, Select, Static, Switch

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.chat import kg_context
from medsynth.config import Config, load_config, write_config
from medsynth.files import sha256_file
from medsynth.ground.queries import kept_record_images
from medsynth.tui.app import MedSynthApp
from medsynth.tui.jobs import Job
from medsynth.tui.screens.chat import ChatScreen
from medsynth.tui.widgets.chat_state import ChatState
from medsynth.tui.widgets.chat_turns import ReplyTurn, UserTurn
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.workspace import Workspace
from tests.tui.conftest import SIZE, wait_for

THINK = "<think>The opacity sits in the right lower lobe.</think><answer>Pneumonia</answer>"


def text_of(widget: Static) -> str:
    return str(widget.render())


async def open_chat(pilot: Any) -> ChatScreen:
    await pilot.press("f8")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def pick_record(pilot: Any, screen: ChatScreen, index: int = 0) -> str:
    """Choose a record image from the list (as a user would); its path."""
    select = screen.query_one("#chat-record", Select)
    path = kept_record_images(screen.ws.db)[index][1]
    select.value = path
    await pilot.pause()
    assert screen.query_one("#chat-image", Input).value == path
    return path


async def ask(pilot: Any, screen: ChatScreen, question: str, max_tokens: int) -> None:
    screen.query_one("#chat-max-tokens", Input).value = str(max_tokens)
    prompt = screen.query_one("#chat-prompt", Input)
    prompt.focus()
    prompt.value = question
    await pilot.press("enter")


async def settle(pilot: Any, screen: ChatScreen, timeout: float = 120) -> str:
    """Wait until the job ended and the screen has taken in its last message; the job's state."""
    panel = screen.query_one("#chat-job", JobPanel)
    await wait_for(pilot, lambda: panel.state != "running", timeout=timeout)
    await wait_for(pilot, lambda: screen.reply is None or screen.reply.status != "streaming", 10)
    await pilot.pause()
    return panel.state


def turns(ws_root: Path, session_id: int | None) -> list[tuple[str, str, str, str]]:
    ws = Workspace.open(ws_root)
    try:
        rows = ws.db.execute(
            "SELECT role, content, think, answer FROM chat_turns WHERE session_id = ? "
            "ORDER BY position",
            [session_id],
        ).fetchall()
    finally:
        ws.close()
    return [tuple(str(v or "") for v in r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedChat:
    """The screen's model is a scripted one (a real ChatSession around it)."""

    def script(messages: list[Message]) -> str:
        return THINK if "<think>" in str(messages[0]["content"]) else "It looks normal."

    model = ScriptedChat(script, model="scripted")

    def load(self: ChatState, spec: str, config: Config) -> tuple[str, Any]:
        return spec, model

    monkeypatch.setattr(ChatState, "load_model", load)
    return model


async def test_ask_streams_smollm2_reply_into_transcript_and_db(tui_ws: Path) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        image = await pick_record(pilot, screen)
        assert screen.query_one("#chat-preview").path == Path(image)  # type: ignore[attr-defined]
        question = "What does this chest image show?"
        await ask(pilot, screen, question, 32)
        assert await settle(pilot, screen) == "done"
        reply = screen.query_one(ReplyTurn)
        assert screen.query_one(UserTurn).text == question
        rows = turns(tui_ws, screen.session_id)
        assert [r[0] for r in rows] == ["event", "user", "assistant"]
        assert rows[1][1] == question
        stored = rows[2][3]
        assert stored and reply.answer.strip() == stored.strip()
        assert stored.strip() in text_of(reply.query_one(".reply-answer", Static))
        assert reply.batches >= 2  # it grew batch by batch, not in one piece
        assert reply.status == "done"
        # SmolLM2 reads text only: the screen says so instead of pretending
        notice = text_of(screen.query_one("#chat-notice", Static))
        assert "does not see the images" in notice
        events = [str(w.render()) for w in screen.query(".chat-event")]
        assert any(Path(image).name in e for e in events)


async def test_think_part_is_a_collapsed_collapsible(tui_ws: Path, scripted: ScriptedChat) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        await pick_record(pilot, screen)
        await pilot.press("ctrl+t")  # think on
        assert screen.query_one("#chat-think", Switch).value
        await ask(pilot, screen, "What is the finding?", 64)
        assert await settle(pilot, screen, 30) == "done"
        reply = screen.query_one(ReplyTurn)
        rows = turns(tui_ws, screen.session_id)
        _role, _content, think, answer = rows[-1]
        assert think and answer == "Pneumonia"
        fold = reply.query_one(Collapsible)
        assert fold.display and fold.collapsed
        assert fold.title == f"reasoning ({len(think.split())} words)"
        assert think in text_of(reply.query_one(".reply-think-text", Static))
        assert "Pneumonia" in text_of(reply.query_one(".reply-answer", Static))
        assert "<think>" in str(scripted.calls[-1]["messages"][0]["content"])  # type: ignore[index]
        # think off: a plain reply has no reasoning fold
        await pilot.press("ctrl+t")
        await ask(pilot, screen, "Is it normal?", 64)
        assert await settle(pilot, screen, 30) == "done"
        assert len(screen.query(ReplyTurn)) == 2
        assert not screen.query(ReplyTurn)[-1].query_one(Collapsible).display


async def test_kg_toggle_shows_the_record_facts(tui_ws: Path, scripted: ScriptedChat) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        image = await pick_record(pilot, screen, 1)
        await pilot.press("ctrl+g")  # KG facts on
        panel = screen.query_one("#chat-job", JobPanel)
        await wait_for(pilot, lambda: screen.kg_facts is not None, timeout=60)
        assert await settle(pilot, screen) == "done"
        expected = kg_context(app.ws, [Path(image)], [sha256_file(Path(image))], "")
        assert expected.facts and screen.kg_facts == expected.facts
        shown = text_of(screen.query_one("#chat-kg-facts", Static))
        assert all(fact in shown for fact in expected.facts)
        stored = app.ws.db.execute(
            "SELECT kg_context FROM chat_sessions WHERE id = ?", [screen.session_id]
        ).fetchone()[0]
        assert json.loads(stored)["facts"] == expected.facts
        # the model is given them with the next question
        await ask(pilot, screen, "What is it?", 16)
        assert await settle(pilot, screen, 30) == "done"
        system = str(scripted.calls[-1]["messages"][0]["content"])  # type: ignore[index]
        assert expected.facts[0] in system
        # off again: no facts shown, none given
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.kg_facts is None and panel.state == "done")
        assert "off" in str(screen.query_one("#chat-kg-title").render())


async def test_save_transcript_is_owner_only(tui_ws: Path, scripted: ScriptedChat) -> None:
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        await pilot.press("ctrl+s")
        assert any("nothing to save" in n.message for n in app._notifications)
        await pick_record(pilot, screen)
        await ask(pilot, screen, "Anything abnormal?", 16)
        panel = screen.query_one("#chat-job", JobPanel)
        assert await settle(pilot, screen, 30) == "done"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.saved is not None, timeout=10)
        path = screen.saved
        assert path is not None and path.is_file() and path.parent == tui_ws / "logs"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.with_suffix(".md").stat().st_mode) == 0o600
        data = json.loads(path.read_text())
        rows = turns(tui_ws, screen.session_id)
        assert [(t["role"], t["content"]) for t in data["turns"]] == [(r[0], r[1]) for r in rows]
        assert "Anything abnormal?" in path.with_suffix(".md").read_text()
        shown = text_of(screen.query_one("#chat-saved", Static))
        assert path.name in shown and "owner-only" in shown
        # a new chat starts a new session with an empty transcript
        old = screen.session_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.session_id is None and panel.state == "done")
        assert not screen.query(ReplyTurn)
        await ask(pilot, screen, "And now?", 16)
        await wait_for(pilot, lambda: screen.session_id not in (None, old))


async def test_cancel_keeps_the_partial_reply(
    tui_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a short reply can end before the key press lands: each chunk takes 50 ms to take in
    slow = Job.progress

    def progress(self: Job, done: int, total: int, label: str = "") -> None:
        time.sleep(0.05)
        slow(self, done, total, label)

    monkeypatch.setattr(Job, "progress", progress)
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        await pick_record(pilot, screen)
        await ask(pilot, screen, "Describe every finding in this image in great detail.", 160)
        await wait_for(pilot, lambda: bool(screen.query(ReplyTurn)), timeout=10)
        reply = screen.query_one(ReplyTurn)
        await wait_for(pilot, lambda: bool(reply.answer.strip()), timeout=120)
        await pilot.press("ctrl+x")  # the prompt has focus: the screen's key still cancels
        assert await settle(pilot, screen, 30) == "cancelled"
        assert reply.status == "cancelled"
        assert reply.answer.strip()  # the partial reply is kept on screen
        assert "cancelled" in text_of(reply.query_one(".reply-status", Static))
        rows = turns(tui_ws, screen.session_id)
        assert [r[0] for r in rows][-2:] == ["user", "event"]
        assert rows[-1][1].startswith("reply cancelled; partial reply: ")
        assert reply.answer.strip()[:20] in rows[-1][1]
        # the session goes on: the next question is answered
        await ask(pilot, screen, "Is it normal?", 8)
        assert await settle(pilot, screen) == "done"
        assert turns(tui_ws, screen.session_id)[-1][0] == "assistant"


async def test_missing_image_and_dead_server_are_notified(tui_ws: Path) -> None:
    config = load_config(tui_ws / "medsynth.toml")
    dead = {"backend": "ollama", "model": "llava:7b", "host": "http://127.0.0.1:9", "retries": 0}
    config.models.vision_generator = config.models.vision_generator.model_copy(update=dead)
    write_config(tui_ws / "medsynth.toml", config)
    app = MedSynthApp(tui_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_chat(pilot)
        missing = tui_ws / "nowhere" / "scan.png"
        screen.query_one("#chat-image", Input).value = str(missing)
        await ask(pilot, screen, "What is this?", 16)
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and str(missing) in errors[-1].message and "fix:" in errors[-1].message
        assert not screen.query(ReplyTurn)  # nothing was sent
        screen.query_one("#chat-image", Input).value = ""
        await ask(pilot, screen, "What is this?", 16)
        assert await settle(pilot, screen, 60) == "failed"
        errors = [n for n in app._notifications if n.severity == "error"]
        assert "127.0.0.1:9" in errors[-1].message and "fix:" in errors[-1].message
        assert screen.query_one(ReplyTurn).status == "failed"
