"""Chat: questions about an image to a model, the reply streaming in, think part folded away."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label, Select, Static, Switch

from medsynth.ground.queries import kept_record_images
from medsynth.tui.jobs import Job
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.chat_state import (
    ChatFactsSet,
    ChatImagesSet,
    ChatPieces,
    ChatRequest,
    ChatSessionStarted,
    ChatState,
    KGInfo,
    Saved,
)
from medsynth.tui.widgets.chat_turns import EventTurn, ReplyTurn, UserTurn
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.job_panel import JobPanel

DEFAULT_SPEC = "vision_generator"  # as `medsynth chat`
ROLES = ["vision_generator", "generator", "verifier", "base_model", "embedded"]
ASK, KG, SAVE, NEW = "ask", "kg context", "save transcript", "new chat"


class ChatScreen(MedScreen):
    """Ask about an image; replies stream in (see HELP)."""

    MODE = "chat"
    TITLE = "Chat"
    CSS_PATH = "chat.tcss"
    HELP = """Talk with a model about a medical image, like `medsynth chat`.

Pick a record image (ctrl+r) or type an image path (ctrl+o, enter previews it), type a
question in the prompt and press enter. The reply streams into the transcript; with
**think** on the model is asked for `<think>`/`<answer>` replies and the reasoning is folded
into a collapsible *reasoning (N words)* (enter or a click opens it). **KG facts** adds the
knowledge-graph facts for the image (the triples grounded for that record, else the nearest
entities) and lists them. ctrl+x cancels a reply (the partial reply is kept and marked),
ctrl+n starts a new chat, ctrl+s saves the transcript to `logs/chat-N.json` and `.md`
(owner-only). Every turn is stored in the workspace (`chat_turns`).

Type /blank to ask the last question again on a black image of the same size (no earlier
turns): an answer that stays the same comes from the words, not the pixels.

A text-only model (the embedded SmolLM2) does not see the image: the screen says so, and
its replies rest on the question and the KG facts only."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "focus('#chat-record')", "record image"),
        Binding("ctrl+o", "focus('#chat-image')", "image path"),
        Binding("ctrl+t", "flip('chat-think')", "think"),
        Binding("ctrl+g", "flip('chat-kg')", "KG facts"),
        Binding("ctrl+n", "new_chat", "new chat"),
        Binding("ctrl+s", "save", "save transcript"),
        Binding("ctrl+x", "cancel_reply", "cancel reply", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: ChatState | None = None
        self.session_id: int | None = None
        self.kg_facts: list[str] | None = None
        self.reply: ReplyTurn | None = None
        self.question: UserTurn | None = None
        self.saved: Path | None = None

    def compose_body(self) -> ComposeResult:
        max_tokens = self.ws.config.eval.chat_max_tokens
        with Horizontal(id="chat-main"):
            with VerticalScroll(id="chat-side"):
                yield Label("Image", classes="section")
                yield Select(
                    kept_record_images(self.ws.db), prompt="record image…", id="chat-record"
                )
                yield Input(placeholder="image path (enter: preview)", id="chat-image")
                yield ImageView(id="chat-preview", max_pixels=self.ws.config.images.max_pixels)
                yield Label("Model", classes="section")
                yield Input(DEFAULT_SPEC, id="chat-model", suggester=SuggestFromList(ROLES))
                with Horizontal(classes="chat-row"):
                    yield Label("max tokens", classes="chat-label")
                    yield Input(str(max_tokens), id="chat-max-tokens", type="integer")
                with Horizontal(classes="chat-row"):
                    yield Switch(id="chat-think")
                    yield Label("think", classes="chat-label")
                    yield Switch(id="chat-kg")
                    yield Label("KG facts", classes="chat-label")
                yield Static("model loads with the first question", id="chat-notice")
                yield Label("KG facts: off", classes="section", id="chat-kg-title")
                yield Static("", id="chat-kg-facts")
            with Vertical(id="chat-right"):
                yield VerticalScroll(id="chat-transcript")
                yield Input(placeholder="ask about the image (enter sends)", id="chat-prompt")
                yield Static("", id="chat-saved")
                yield JobPanel(self.root, "tokens", id="chat-job")

    def on_mount(self) -> None:
        self.state = ChatState(self.root)
        self.query_one("#chat-prompt", Input).focus()

    def on_unmount(self) -> None:
        if self.state is not None:
            with contextlib.suppress(Exception):  # the app is closing: nothing to report to
                self.state.close()

    @property
    def panel(self) -> JobPanel:
        """The screen's job panel."""
        return self.query_one("#chat-job", JobPanel)

    # ---- form ---------------------------------------------------------------------------

    def request(self) -> ChatRequest | None:
        """The form as a request; None (and an error notification) when a value is bad."""
        image = self.query_one("#chat-image", Input).value.strip()
        if image and not Path(image).expanduser().is_file():
            self.notify(
                f"no image file at {image}\n  fix: check the path, or pick a record image (ctrl+r)",
                title="image not found",
                severity="error",
            )
            return None
        spec = self.query_one("#chat-model", Input).value.strip()
        if not spec:
            self.notify(
                f"no model named\n  fix: type a role ({', '.join(ROLES)}) or a spec such as "
                "ollama:TAG@URL",
                title="model",
                severity="error",
            )
            return None
        raw = self.query_one("#chat-max-tokens", Input).value.strip()
        if not raw.isdigit() or not 1 <= int(raw) <= 8192:
            self.notify(
                f"max tokens {raw!r} is not a number from 1 to 8192\n  fix: type e.g. 256",
                title="max tokens",
                severity="error",
            )
            return None
        return ChatRequest(
            spec=spec,
            image=image,
            kg=self.query_one("#chat-kg", Switch).value,
            think=self.query_one("#chat-think", Switch).value,
            max_tokens=int(raw),
        )

    def _preview(self) -> None:
        image = self.query_one("#chat-image", Input).value.strip()
        view = self.query_one("#chat-preview", ImageView)
        if not image:
            view.show(None, "no image")
        elif not Path(image).expanduser().is_file():
            view.show(None, f"no image file at {image}")
        else:
            view.show(Path(image).expanduser())

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "chat-record" and isinstance(event.value, str):
            self.query_one("#chat-image", Input).value = event.value
            self._preview()
            if self.session_id is not None and self.query_one("#chat-kg", Switch).value:
                self._start(KG, None)  # the facts belong to the image: find them again

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "chat-prompt":
            self.action_send()
        elif event.input.id == "chat-image":
            self._preview()

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.id == "chat-kg" and (event.value or self.session_id is not None):
            self._start(KG, None)

    def action_flip(self, switch_id: str) -> None:
        switch = self.query_one(f"#{switch_id}", Switch)
        switch.value = not switch.value

    # ---- jobs ---------------------------------------------------------------------------

    def _start(self, title: str, text: str | None) -> bool:
        if self.panel.running:
            self.notify(
                f"{self.panel.title} is still running: wait for it or cancel it (ctrl+x)",
                severity="warning",
            )
            return False
        request = self.request()
        if request is None or self.state is None:
            return False
        state = self.state
        if title == ASK and text is not None:

            def job(job: Job) -> Any:
                return state.ask(job, request, text, self.post_message)

        else:

            def job(job: Job) -> Any:
                return state.prepare(request, self.post_message)

        return self.panel.start(title, job, unit="tokens")

    def action_send(self) -> None:
        prompt = self.query_one("#chat-prompt", Input)
        text = prompt.value.strip()
        if not text:
            self.notify("type a question about the image first", severity="warning")
            return
        if self.panel.running or self.request() is None:
            self._start(ASK, text)  # says why it cannot start
            return
        transcript = self.query_one("#chat-transcript", VerticalScroll)
        self.reply, self.question = ReplyTurn(), UserTurn(text)
        transcript.mount(self.question)
        transcript.mount(self.reply)
        transcript.scroll_end(animate=False)
        prompt.value = ""
        self._start(ASK, text)

    def action_cancel_reply(self) -> None:
        self.medsynth.action_cancel_job()

    def action_new_chat(self) -> None:
        if self.panel.running:
            self.notify("a reply is streaming: cancel it first (ctrl+x)", severity="warning")
            return
        state = self.state
        if state is not None and self.session_id is not None:
            self.panel.start(NEW, lambda job: state.end())
        else:
            self._clear()

    def _clear(self) -> None:
        self.query_one("#chat-transcript", VerticalScroll).remove_children()
        self.session_id, self.reply, self.question, self.saved = None, None, None, None
        self._show_kg(KGInfo(None))
        self.query_one("#chat-notice", Static).update("model loads with the first question")
        self.query_one("#chat-saved", Static).update("")

    def action_save(self) -> None:
        if self.session_id is None or self.state is None:
            self.notify("nothing to save yet: ask a question first", severity="warning")
        elif self.panel.running:
            self.notify("wait for the reply (or cancel it: ctrl+x), then save", severity="warning")
        else:
            self.panel.start(SAVE, lambda job: self.state.save() if self.state else None)

    # ---- messages -----------------------------------------------------------------------

    def _event(self, text: str) -> None:
        """An event line; while a reply is on its way it goes above the question."""
        transcript = self.query_one("#chat-transcript", VerticalScroll)
        streaming = self.reply is not None and self.reply.status == "streaming"
        before = self.question if streaming and self.question in transcript.children else None
        transcript.mount(EventTurn(text), before=before)

    @on(ChatPieces)
    def _pieces(self, message: ChatPieces) -> None:
        if self.reply is not None:
            self.reply.apply(message.pieces)
            self.query_one("#chat-transcript", VerticalScroll).scroll_end(animate=False)

    @on(ChatSessionStarted)
    def _session(self, message: ChatSessionStarted) -> None:
        self.session_id = message.session_id
        self._event(f"session {message.session_id}: {message.spec} ({Path(message.model).name})")
        notice = self.query_one("#chat-notice", Static)
        if message.sees_images:
            notice.update("the model sees the image")
        else:
            notice.update("⚠ " + ("; ".join(message.notes) or "the model does not see images"))
        notice.set_class(not message.sees_images, "-warning")

    @on(ChatImagesSet)
    def _images(self, message: ChatImagesSet) -> None:
        self._event(f"images: {', '.join(message.names) or 'none'}")

    @on(ChatFactsSet)
    def _facts(self, message: ChatFactsSet) -> None:
        kg = message.kg
        self._show_kg(kg)
        if kg.facts is None:
            self._event("KG facts: off")
        else:
            self._event(f"KG facts: {len(kg.facts)} from {kg.source}")

    def _show_kg(self, info: KGInfo) -> None:
        self.kg_facts = info.facts
        title = self.query_one("#chat-kg-title", Label)
        body = self.query_one("#chat-kg-facts", Static)
        if info.facts is None:
            title.update("KG facts: off")
            body.update("")
            return
        from rich.text import Text

        title.update(f"KG facts ({len(info.facts)}) from {info.source}")
        lines = [f"• {fact}" for fact in info.facts] + [f"note: {n}" for n in info.notes]
        body.update(Text("\n".join(lines) or "no facts found"))

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        if message.title == ASK and self.reply is not None:
            turn = message.result
            note = "from the call log" if getattr(turn, "cached", False) else ""
            self.reply.finish("done", note)
        elif message.title == SAVE and isinstance(message.result, Saved):
            saved = message.result
            self.saved = saved.path
            where = (
                saved.path.relative_to(self.root)
                if saved.path.is_relative_to(self.root)
                else saved.path
            )
            private = "owner-only" if saved.mode & 0o077 == 0 else f"mode {saved.mode:o}!"
            text = f"saved {where} and {saved.path.with_suffix('.md').name} ({private})"
            self.query_one("#chat-saved", Static).update(text)
            self.notify(text, title="transcript saved")
        elif message.title == NEW:
            self._clear()

    def on_job_panel_stopped(self, message: JobPanel.Stopped) -> None:
        if message.title == ASK and self.reply is not None:
            self.reply.finish("cancelled")

    def on_job_panel_failed(self, message: JobPanel.Failed) -> None:
        if message.title == ASK and self.reply is not None:
            self.reply.finish("failed", message.error.splitlines()[0][:80])
