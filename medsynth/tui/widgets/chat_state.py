"""The chat screen's worker side: one workspace connection, the loaded model, the session.

Every method of :class:`ChatState` runs on the job panel's worker thread (one job at a time),
never on the UI thread, except :meth:`ChatState.close` when the screen goes away. What the UI
must show goes to the ``post`` callback (the screen's ``post_message``) as one typed message per
event: :class:`ChatSessionStarted`, :class:`ChatImagesSet`, :class:`ChatFactsSet`,
:class:`ChatPieces`. How a reply ends (done, cancelled, failed) comes from the job panel.
Services are imported where they are used, to keep the TUI's first frame fast.
"""

from __future__ import annotations

import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from medsynth.backends.calllog import DEFAULT_RETRIES
from medsynth.config import Config
from medsynth.errors import Cancelled
from medsynth.tui.jobs import Job
from medsynth.workspace import Workspace

if TYPE_CHECKING:
    from medsynth.chat import ChatChunk

BATCH_S = 0.05  # a streaming reply reaches the UI in batches at most this often
BLANK = "/blank"  # typed as the question: the last one again, on black images


@dataclass(frozen=True)
class ChatRequest:
    """What the form says when a job starts."""

    spec: str
    image: str  # a path, or "" for none
    kg: bool
    think: bool
    max_tokens: int


@dataclass(frozen=True)
class KGInfo:
    """The KG facts now given to the model (``None`` facts: KG context off)."""

    facts: list[str] | None
    source: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Saved:
    """Where the transcript went and the JSON file's permission bits."""

    path: Path
    mode: int


class ChatSessionStarted(Message):
    """A new session: its id, model, whether the model sees images, its notes."""

    def __init__(
        self, session_id: int, spec: str, model: str, sees_images: bool, notes: list[str]
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.spec = spec
        self.model = model
        self.sees_images = sees_images
        self.notes = notes


class ChatImagesSet(Message):
    """The images the session now shows the model (file names)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names


class ChatFactsSet(Message):
    """The KG facts now given to the model (``kg.facts`` None: KG context off)."""

    def __init__(self, kg: KGInfo) -> None:
        super().__init__()
        self.kg = kg


class ChatPieces(Message):
    """A batch of streamed reply pieces (think or answer; ``restart`` replaces the part)."""

    def __init__(self, pieces: list[ChatChunk]) -> None:
        super().__init__()
        self.pieces = pieces


Post = Callable[[Message], object]  # the screen's post_message (thread-safe)


class ChatState:
    """The session behind the chat screen (see the module text)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ws: Workspace | None = None
        self.model: Any = None
        self.model_spec = ""
        self.retries = DEFAULT_RETRIES  # of the role the loaded model came from
        self.session: Any = None  # medsynth.chat.ChatSession
        self.run: Any = None  # medsynth.store.runs.RunRecorder, entered while a session lives

    def workspace(self) -> Workspace:
        """The worker side's own connection (opened on first use)."""
        if self.ws is None:
            self.ws = Workspace.open(self.root)
        return self.ws

    def load_model(self, spec: str, config: Config) -> tuple[str, Any]:
        """(spec as parsed, loaded chat model) for ``spec``: a role or an inline spec."""
        from medsynth import netguard
        from medsynth.eval.models import load_model, parse_model_spec

        choice = parse_model_spec(spec, config)
        netguard.install(choice.hosts())
        self.retries = choice.role.retries
        return choice.spec, load_model(choice)

    def prepare(self, request: ChatRequest, post: Post) -> Any:
        """The session the request needs: model, images and KG context as the form says."""
        from medsynth.chat import ChatSession
        from medsynth.store.runs import RunRecorder

        ws = self.workspace()
        if self.session is None or self.model_spec != request.spec:
            self.end()
            if self.model is None or self.model_spec != request.spec:
                self.model = None  # let the old weights go before loading new ones
                _spec, self.model = self.load_model(request.spec, ws.config)
                self.model_spec = request.spec
            settings = {"model": request.spec, "source": "tui"}
            self.run = RunRecorder(ws.db, "chat", settings, lock=False).__enter__()
            self.session = ChatSession(
                ws,
                self.model,
                model_spec=request.spec,
                think=request.think,
                max_tokens=request.max_tokens,
                run_id=self.run.run_id,
                retries=self.retries,
            )
            s = self.session
            post(
                ChatSessionStarted(s.id, s.model_spec, s.model.model, s.sees_images, list(s.notes))
            )
        session = self.session
        wanted = [Path(request.image).expanduser().resolve()] if request.image else []
        if wanted != session.images:
            session.set_images(wanted)
            post(ChatImagesSet([p.name for p in session.images]))
        if request.kg and session.kg is None:
            context = session.add_kg_context()
            post(ChatFactsSet(KGInfo(list(context.facts), context.source, list(context.notes))))
        elif not request.kg and session.kg is not None:
            session.kg = None
            post(ChatFactsSet(KGInfo(None)))
        session.think = request.think
        session.max_tokens = request.max_tokens
        return session

    def ask(self, job: Job, request: ChatRequest, text: str, post: Post) -> Any:
        """Stream the reply to ``text`` to ``post`` in batches; the stored assistant turn.

        ``/blank`` asks the last question again on black images
        (:meth:`medsynth.chat.ChatSession.blank`). Cancelling keeps the partial reply: it is
        stored as an event turn (the question stays unanswered in the history the model sees)
        and :class:`Cancelled` goes on up.
        """

        session = self.prepare(request, post)
        parts = {"think": "", "answer": ""}
        batch: list[ChatChunk] = []
        last = time.monotonic()
        count = 0
        stream = session.blank() if text.strip() == BLANK else session.send(text)
        try:
            for chunk in stream:
                before = parts[chunk.kind]
                parts[chunk.kind] = chunk.text if chunk.restart else before + chunk.text
                batch.append(chunk)
                count += 1
                if time.monotonic() - last >= BATCH_S:
                    post(ChatPieces(batch))
                    batch, last = [], time.monotonic()
                job.progress(count, max(count, session.max_tokens), "reply")
        except Cancelled:
            stream.close()  # the model's stream ends at its next piece
            if batch:
                post(ChatPieces(batch))
            partial = parts["answer"].strip() or parts["think"].strip() or "(nothing yet)"
            session.note(f"reply cancelled; partial reply: {partial}")
            raise
        if batch:
            post(ChatPieces(batch))
        job.progress(count, count, "reply")  # the final count (the last report always goes)
        return session.turns[-1]

    def save(self) -> Saved | None:
        """Write the transcript (None when there is no session yet)."""
        if self.session is None:
            return None
        path = self.session.save()
        return Saved(path, stat.S_IMODE(path.stat().st_mode))

    def end(self) -> None:
        """Close the session (its run ends ``ok``); the model stays loaded."""
        if self.run is not None:
            self.run.summary = {
                "session_id": self.session.id if self.session else None,
                "turns": len(self.session.turns) if self.session else 0,
            }
            self.run.__exit__(None, None, None)
        self.run = None
        self.session = None

    def close(self) -> None:
        """End the session, let the model go, close the connection."""
        try:
            self.end()
        finally:
            self.model = None
            if self.ws is not None:
                self.ws.close()
                self.ws = None
