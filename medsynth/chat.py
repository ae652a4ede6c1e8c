"""One VQA conversation about one or more images: the logic behind ``medsynth chat`` and the TUI.

:class:`ChatSession` keeps the images in use, the turns so far and any KG facts added; ``send``
yields the reply as it is generated, split into its think and answer parts. Every turn is stored
in ``chat_turns`` as it ends; ``save`` also writes the transcript under ``logs/`` (owner-only).
Model calls go through the call log (one ``llm_calls`` row each, with the token counts the
stream reported at its end; at temperature 0 a repeated conversation is answered from it). Every
backend streams its reply as it is generated (:mod:`medsynth.backends.streaming`).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medsynth.backends.base import (
    ChatModel,
    Message,
)
from medsynth.backends.calllog import DEFAULT_RETRIES, CallLog, CallResult
from medsynth.backends.streaming import StreamingModel
from medsynth.errors import Cancelled, InputError
from medsynth.eval.metrics import split_think_answer
from medsynth.files import open_image, sha256_file, write_private
from medsynth.prompts import render
from medsynth.store.chat_log import ChatLog
from medsynth.workspace import Workspace

TEMPLATE = "chat_vqa"
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
MAX_FACTS = 30


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a reply: ``think`` or ``answer`` text; ``restart`` means the part so far was
    replaced by ``text`` (a tag changed how earlier text reads)."""

    kind: Literal["think", "answer"]
    text: str
    restart: bool = False


@dataclass
class ChatTurn:
    """One stored turn: a user question, an assistant reply, or an event (image, KG, note)."""

    role: str
    content: str
    think: str = ""
    answer: str = ""
    images: list[str] = field(default_factory=list)  # sha256 of the images in use
    call_id: int | None = None
    cached: bool = False
    duration_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "role": self.role,
            "content": self.content,
            "think": self.think,
            "answer": self.answer,
            "images": self.images,
            "call_id": self.call_id,
            "cached": self.cached,
            "duration_s": self.duration_s,
        }


@dataclass
class KGContext:
    """KG facts found for the images in use, and how they were found."""

    facts: list[str]
    triple_ids: list[int]
    entities: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "facts": self.facts,
            "triple_ids": self.triple_ids,
            "entities": self.entities,
            "source": self.source,
            "notes": self.notes,
        }


class StreamSplitter:
    """Turns a growing model output into think / answer chunks (a tag cut in two between
    pieces is held back until it is complete)."""

    def __init__(self) -> None:
        self.text = ""
        self.emitted = {"think": "", "answer": ""}

    def _visible(self, final: bool) -> str:
        if final:
            return self.text
        start = self.text.rfind("<")
        tail = self.text[start:].lower().replace(" ", "") if start >= 0 else ""
        if tail and ">" not in tail and any(tag.startswith(tail) for tag in TAGS):
            return self.text[:start]
        return self.text

    def _chunks(self, final: bool) -> list[ChatChunk]:
        think, answer = split_think_answer(self._visible(final))
        chunks: list[ChatChunk] = []
        for kind, now in (("think", think), ("answer", answer)):
            before = self.emitted[kind]
            if now == before:
                continue
            if now.startswith(before):
                chunks.append(ChatChunk(kind, now[len(before) :]))  # type: ignore[arg-type]
            else:
                chunks.append(ChatChunk(kind, now, restart=True))  # type: ignore[arg-type]
            self.emitted[kind] = now
        return chunks

    def feed(self, piece: str) -> list[ChatChunk]:
        """Chunks made visible by ``piece``."""
        self.text += piece
        return self._chunks(final=False)

    def finish(self) -> list[ChatChunk]:
        """Whatever was held back."""
        return self._chunks(final=True)


_DONE = object()


class ChatSession:
    """A conversation with one model about the images in use (see the module text)."""

    def __init__(
        self,
        ws: Workspace,
        model: ChatModel,
        *,
        model_spec: str = "",
        images: Sequence[Path] = (),
        think: bool = False,
        temperature: float = 0.0,
        max_tokens: int = 512,
        run_id: int | None = None,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self.ws = ws
        self.retries = retries  # the model role's ``[models.<role>] retries``
        self.model = model
        self.model_spec = model_spec or model.model
        self.think = think
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.run_id = run_id
        self.turns: list[ChatTurn] = []
        self.images: list[Path] = []
        self.image_keys: list[str] = []
        self.kg: KGContext | None = None
        self.notes: list[str] = []
        if not model.supports_images:
            self.notes.append(
                f"{model.backend} model {Path(model.model.split('#')[0]).name} reads text only: "
                "it does not see the images (use a vision model for real image questions)"
            )
        self.log = ChatLog(ws.db)
        self.id = self.log.open_session(self.model_spec, model.backend, model.model, run_id)
        if images:
            self.set_images(images)

    @property
    def sees_images(self) -> bool:
        """Whether the model is shown the images."""
        return bool(self.model.supports_images)

    def _record(self, turn: ChatTurn) -> ChatTurn:
        self.turns.append(turn)
        row = {
            "position": len(self.turns),
            "role": turn.role,
            "content": turn.content,
            "think": turn.think,
            "answer": turn.answer,
            "images": turn.images,
            "call_id": turn.call_id,
            "duration_s": turn.duration_s,
        }
        kg = self.kg.as_dict() if self.kg else []
        self.log.add_turn(self.id, row, images=[str(p) for p in self.images], kg=kg)
        return turn

    def set_images(self, paths: Sequence[Path]) -> list[Path]:
        """Use these images from now on (each is checked to be a readable image)."""
        checked: list[Path] = []
        keys: list[str] = []
        for raw in paths:
            path = Path(raw).expanduser().resolve()
            if not path.is_file():
                raise InputError("no image file here", source=str(raw), hint="check the path")
            open_image(path, self.ws.config.images.max_pixels).close()
            checked.append(path)
            keys.append(sha256_file(path))
        self.images, self.image_keys = checked, keys
        self.kg = None  # facts belong to the images they were found for
        names = ", ".join(p.name for p in checked) or "none"
        self._record(ChatTurn("event", f"images: {names}", images=list(keys)))
        return checked

    def messages(self, text: str, *, history: bool = True) -> tuple[list[Message], Any]:
        """The messages sent for a new user turn ``text`` (system, history unless told not to,
        the turn)."""
        count = len(self.images)
        subject = (
            "the medical image they have open"
            if count == 1
            else f"the {count} medical images they have open"
            if count > 1
            else "a medical image"
        )
        system, template = render(
            TEMPLATE,
            subject=subject,
            with_image=self.sees_images and count > 0,
            think=self.think,
            facts=self.kg.facts if self.kg else [],
        )
        earlier: list[Message] = []
        asked: ChatTurn | None = None
        for turn in self.turns if history else []:  # answered questions only
            if turn.role == "user":
                asked = turn
            elif turn.role == "assistant" and asked is not None:
                earlier.append({"role": "user", "content": asked.content})
                earlier.append({"role": "assistant", "content": turn.answer or turn.content})
                asked = None
        return [*system, *earlier, {"role": "user", "content": text}], template

    def blank(self) -> Iterator[ChatChunk]:
        """Ask the last question again with every image replaced by a black one of the same
        size and no earlier turns (which would hold the first answer): an answer that does not
        change comes from the words, not the pixels."""
        from medsynth.eval.ablation import blank_image, image_size

        question = next((t.content for t in reversed(self.turns) if t.role == "user"), "")
        if not question:
            raise InputError("no question to ask again yet", hint="ask a question first")
        if not (self.sees_images and self.images):
            raise InputError(
                "the model is shown no image here, so a blank one changes nothing",
                hint="use a vision model and /image PATH",
            )
        cache = self.ws.path("cache") / "ablation"
        blanks = [blank_image(image_size(path), cache) for path in self.images]
        self._record(ChatTurn("event", "blank: the last question again, on black images"))
        yield from self.send(question, images=[(p, k) for p, k in blanks], history=False)

    def send(
        self,
        text: str,
        *,
        images: Sequence[tuple[Path, str]] | None = None,
        history: bool = True,
    ) -> Iterator[ChatChunk]:
        """Ask ``text``; yields the reply's chunks; the turns are stored when it ends.
        ``images`` ((file, call-log key) pairs) replace the session's images for this turn."""
        text = text.strip()
        if not text:
            raise InputError("empty message", hint="type a question about the image")
        messages, template = self.messages(text, history=history)
        files, keys, turn_keys = self._turn_images(images)
        send_images = self.sees_images and bool(files)
        pieces: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def sink(piece: str) -> None:
            if stop.is_set():  # the caller closed this generator: end the model's stream
                raise Cancelled("reply cancelled")
            pieces.put(piece)

        model = StreamingModel(self.model, sink)
        log = CallLog(self.ws.db, model, role="chat", run_id=self.run_id, retries=self.retries)
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = log.call(
                    messages,
                    template=template,
                    images=files if send_images else None,
                    image_keys=keys if send_images else None,
                    temperature=self.temperature,
                    seed=0,
                    max_tokens=self.max_tokens,
                )
            except BaseException as exc:  # raised again in the caller's thread
                outcome["error"] = exc
            finally:
                pieces.put(_DONE)

        started = time.perf_counter()
        self._record(ChatTurn("user", text, images=turn_keys))
        thread = threading.Thread(target=work, name="medsynth-chat", daemon=True)
        thread.start()
        splitter = StreamSplitter()
        streamed = False
        try:
            while (piece := pieces.get()) is not _DONE:
                streamed = True
                yield from splitter.feed(piece)
        finally:  # closed early (a cancelled reply): the model stops at its next piece
            stop.set()
        thread.join()
        if "error" in outcome:
            error = outcome["error"]
            self._record(ChatTurn("event", f"no reply: {error}", images=turn_keys))
            raise error
        result: CallResult = outcome["result"]
        if not streamed:  # answered from the call log
            yield from splitter.feed(result.text)
        yield from splitter.finish()
        self._record_reply(result, turn_keys, time.perf_counter() - started)

    def _turn_images(
        self, images: Sequence[tuple[Path, str]] | None
    ) -> tuple[list[Path], list[str], list[str]]:
        """The files to send, their call-log keys, and the keys stored with the turns: this
        turn's ``images`` when given, else the session's."""
        if images is not None:
            keys = [k for _, k in images]
            return [p for p, _ in images], keys, keys
        keys = [f"file-sha256:{k}" for k in self.image_keys]
        return list(self.images), keys, list(self.image_keys)

    def _record_reply(self, result: CallResult, turn_keys: list[str], seconds: float) -> None:
        """Store the assistant turn of a finished reply (its think part split off)."""
        think, answer = split_think_answer(result.text)
        self._record(
            ChatTurn(
                "assistant",
                result.text,
                think=think,
                answer=answer,
                images=turn_keys,
                call_id=result.call_id,
                cached=result.cached,
                duration_s=round(seconds, 3),
            )
        )

    def note(self, text: str) -> ChatTurn:
        """Store an event turn (say, a cancelled reply's partial text); the model never sees
        event turns."""
        turn = ChatTurn("event", text, images=list(self.image_keys))
        self._record(turn)
        return turn

    def ask(self, text: str) -> ChatTurn:
        """:meth:`send` without streaming: the stored assistant turn."""
        for _ in self.send(text):
            pass
        return self.turns[-1]

    def add_kg_context(self, k: int = 3) -> KGContext:
        """Find KG facts about the images in use and give them to the model from now on."""
        last_question = next((t.content for t in reversed(self.turns) if t.role == "user"), "")
        context = kg_context(self.ws, self.images, self.image_keys, last_question, k=k)
        self.kg = context
        summary = f"kg: {len(context.facts)} fact(s) from {context.source}"
        self._record(ChatTurn("event", summary, images=list(self.image_keys)))
        return context

    def transcript(self) -> dict[str, Any]:
        """The whole session as one JSON-ready document."""
        return {
            "session_id": self.id,
            "model_spec": self.model_spec,
            "backend": self.model.backend,
            "model": self.model.model,
            "sees_images": self.sees_images,
            "images": [str(p) for p in self.images],
            "kg": self.kg.as_dict() if self.kg else None,
            "notes": self.notes,
            "turns": [t.as_dict() for t in self.turns],
        }

    def save(self) -> Path:
        """Write ``logs/chat-<id>.json`` and ``.md`` in the workspace (owner-only); returns the
        JSON file."""
        folder = self.ws.path("logs")
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / f"chat-{self.id}.json"
        write_private(target, json.dumps(self.transcript(), indent=2, ensure_ascii=False) + "\n")
        write_private(target.with_suffix(".md"), _markdown(self.transcript()) + "\n")
        self.log.set_transcript(self.id, str(target.relative_to(self.ws.root)))
        return target


def _markdown(data: dict[str, Any]) -> str:
    lines = [f"# Chat {data['session_id']}", "", f"Model: {data['model_spec']} ({data['model']})"]
    lines += [f"Note: {note}" for note in data["notes"]]
    for turn in data["turns"]:
        if turn["role"] == "event":
            lines += ["", f"*{turn['content']}*"]
        elif turn["role"] == "user":
            lines += ["", f"**You:** {turn['content']}"]
        else:
            if turn["think"]:
                lines += ["", f"> think: {turn['think']}"]
            lines += ["", f"**Model:** {turn['answer'] or turn['content']}"]
    if data["kg"]:
        lines += ["", "## KG facts", "", *[f"- {fact}" for fact in data["kg"]["facts"]]]
    return "\n".join(lines)


def _fact(head: str, relation: str, tail: str) -> str:
    return f"{head} -[{relation}]-> {tail}"


def kg_context(
    ws: Workspace, images: Sequence[Path], image_keys: Sequence[str], question: str, *, k: int = 3
) -> KGContext:
    """KG facts for images: the triples grounded for an ingested record with the same file
    (``medsynth ground``), else those of the entities nearest to the image (entity-image index)
    and to the last question (entity-name index)."""
    from medsynth.kg import queries

    db = ws.db
    notes: list[str] = []
    if not queries.has_entities(db):
        return KGContext([], [], [], "no knowledge graph", ["run `medsynth kg import` first"])
    ids: list[int] = []
    facts: list[str] = []
    entities: list[str] = []
    records: list[str] = []
    for key in image_keys:
        for record_id, dataset in queries.records_with_image(db, key):
            rows = queries.record_facts(db, record_id)
            if not rows:
                notes.append(f"record {record_id} ({dataset}) has no grounded triples yet")
                continue
            records.append(f"record {record_id} ({dataset})")
            for triple_id, head, relation, tail in rows:
                if triple_id not in ids:
                    ids.append(triple_id)
                    facts.append(_fact(head, relation, tail))
                    if head not in entities:
                        entities.append(head)
    if facts:
        return KGContext(facts[:MAX_FACTS], ids[:MAX_FACTS], entities, ", ".join(records), notes)
    from medsynth.kg.indexes import search_image, search_text

    hits = []
    sources = []
    if images and queries.has_entity_images(db):
        weak = ws.config.models.image_encoder.backend == "thumbnail"
        for path in images:
            with open_image(path, ws.config.images.max_pixels) as image:
                hits += search_image(ws, image.convert("RGB"), k=k)
        sources.append("image similarity" + (" (weak thumbnail encoder)" if weak else ""))
    if question.strip():
        hits += search_text(ws, question, k=k)
        sources.append("the last question")
    if not hits:
        notes.append("ask a question first, or link entity images (`medsynth kg link-images`)")
    for hit in hits:
        if hit.name in entities:
            continue
        entities.append(hit.name)
        for triple_id, head, relation, tail in queries.entity_facts(db, hit.entity_id):
            if triple_id not in ids:
                ids.append(triple_id)
                facts.append(_fact(head, relation, tail))
    source = "nearest entities by " + " and ".join(sources) if sources else "nothing"
    return KGContext(facts[:MAX_FACTS], ids[:MAX_FACTS], entities, source, notes)
