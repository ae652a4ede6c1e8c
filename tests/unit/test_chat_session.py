"""The chat session API with a scripted model: an image, two turns, KG facts, transcripts."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from medsynth.backends.base import BackendError, Message
from medsynth.backends.fake import ScriptedChat
from medsynth.chat import ChatSession, StreamSplitter, kg_context
from medsynth.errors import InputError
from medsynth.files import sha256_file
from medsynth.kg.service import import_kg
from medsynth.workspace import Workspace
from tests.conftest import shared_path, write

IMAGE = ("slake", "imgs", "xmlab0", "source.jpg")


def test_stream_splitter_holds_back_cut_tags() -> None:
    splitter = StreamSplitter()
    chunks = []
    for piece in ["<thi", "nk>the liver ", "is large</th", "ink>\n<ans", "wer>Li", "ver</answer>"]:
        chunks += splitter.feed(piece)
    chunks += splitter.finish()
    assert all(not c.restart for c in chunks)
    assert "".join(c.text for c in chunks if c.kind == "think") == "the liver is large"
    assert "".join(c.text for c in chunks if c.kind == "answer") == "Liver"
    assert chunks[0].kind == "think"


def test_stream_splitter_plain_text_and_revisions() -> None:
    splitter = StreamSplitter()
    chunks = splitter.feed("It is ") + splitter.feed("the liver.") + splitter.finish()
    assert [(c.kind, c.text) for c in chunks] == [("answer", "It is"), ("answer", " the liver.")]
    revised = StreamSplitter()
    chunks = revised.feed("Sure. ") + revised.feed("<answer>yes</answer>") + revised.finish()
    assert chunks[-1].restart and chunks[-1].text == "yes"  # a tag changed what the answer is


def conversation_script(messages: list[Message]) -> str:
    last = str(messages[-1]["content"])
    if "organ" in last:
        return "<think>The large organ on the left is the liver.</think><answer>Liver</answer>"
    return "It looks normal."


def test_an_image_and_two_turns(ws: Workspace) -> None:
    model = ScriptedChat(conversation_script)
    session = ChatSession(ws, model, model_spec="fake", images=[shared_path(*IMAGE)])
    chunks = list(session.send("Which organ is largest?"))
    assert "".join(c.text for c in chunks if c.kind == "think").startswith("The large organ")
    assert "".join(c.text for c in chunks if c.kind == "answer") == "Liver"
    second = session.ask("Is it normal?")
    assert second.answer == "It looks normal." and second.think == ""
    # the second call saw the history (the first answer without its think part) and the image
    sent = model.calls[1]["messages"]
    assert isinstance(sent, list)
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "Liver"
    assert model.calls[1]["images"] == 1 and model.calls[1]["temperature"] == 0.0
    rows = ws.db.execute(
        "SELECT position, role, content, answer, call_id FROM chat_turns WHERE session_id = ? "
        "ORDER BY position",
        [session.id],
    ).fetchall()
    assert [r[1] for r in rows] == ["event", "user", "assistant", "user", "assistant"]
    assert rows[0][2] == "images: source.jpg"
    assert rows[2][3] == "Liver" and rows[2][4] is not None
    calls = ws.db.execute("SELECT role, template FROM llm_calls").fetchall()
    assert calls == [("chat", "chat_vqa"), ("chat", "chat_vqa")]
    # the same conversation again is answered from the call log, without the model
    again = ChatSession(ws, model, images=[shared_path(*IMAGE)])
    assert again.ask("Which organ is largest?").cached
    assert len(model.calls) == 2


def test_switching_images_and_saving(ws: Workspace, tmp_path: Path) -> None:
    model = ScriptedChat(["first", "second"])
    session = ChatSession(ws, model)
    assert session.images == []
    session.ask("Hello?")
    assert model.calls[0]["images"] == 0
    other = shared_path("slake", "imgs", "xmlab1", "source.jpg")
    session.set_images([other, shared_path(*IMAGE)])
    session.ask("And now?")
    assert model.calls[1]["images"] == 2
    system = model.calls[1]["messages"][0]["content"]  # type: ignore[index]
    assert "the 2 medical images" in system
    with pytest.raises(InputError, match="no image file"):
        session.set_images([tmp_path / "missing.png"])
    broken = write(tmp_path / "broken.png", b"not a picture")
    with pytest.raises(InputError, match="not a readable image"):
        session.set_images([broken])
    with pytest.raises(InputError, match="empty message"):
        list(session.send("   "))
    saved = session.save()
    assert saved == ws.root / "logs" / f"chat-{session.id}.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.with_suffix(".md").stat().st_mode) == 0o600
    data = json.loads(saved.read_text())
    assert [t["role"] for t in data["turns"]] == ["user", "assistant", "event", "user", "assistant"]
    assert "**Model:** second" in saved.with_suffix(".md").read_text()
    stored = ws.db.execute(
        "SELECT transcript_path, images FROM chat_sessions WHERE id = ?", [session.id]
    ).fetchone()
    assert stored[0] == f"logs/chat-{session.id}.json" and len(json.loads(stored[1])) == 2


def test_a_failed_turn_is_left_out_of_the_history(ws: Workspace) -> None:
    model = ScriptedChat([BackendError("server said no", source="fake"), "fine"])
    session = ChatSession(ws, model)
    with pytest.raises(BackendError, match="server said no"):
        session.ask("First?")
    assert session.ask("Second?").answer == "fine"
    sent = model.calls[1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]  # type: ignore[union-attr]
    assert session.turns[1].role == "event" and "server said no" in session.turns[1].content


def test_text_only_model_is_told_and_sees_no_image(ws: Workspace) -> None:
    model = ScriptedChat(["ok"])
    model.supports_images = False
    session = ChatSession(ws, model, images=[shared_path(*IMAGE)])
    assert "reads text only" in session.notes[0]
    session.ask("What is this?")
    assert model.calls[0]["images"] == 0
    assert "You cannot see the image" in model.calls[0]["messages"][0]["content"]  # type: ignore[index]


def test_kg_facts_of_a_grounded_record(ws: Workspace, tmp_path: Path) -> None:
    image = shared_path(*IMAGE)
    session = ChatSession(ws, ScriptedChat(["ok"]), images=[image])
    assert session.add_kg_context().source == "no knowledge graph"
    kg = write(
        tmp_path / "kg.csv",
        "head,relation,tail\nLiver,belong to,Digestive System\nLiver Cancer,location,Liver\n"
        "Liver Cancer,symptom,jaundice\n",
    )
    import_kg(ws, kg, "triples")
    with ws.db.conn:
        dataset = (
            ws.db.table("datasets")
            .insert({"name": "slake", "format": "slake", "root": str(image.parents[2])})
            .last_pk
        )
        record = (
            ws.db.table("records")
            .insert(
                {
                    "dataset_id": dataset,
                    "key": "imgs/xmlab0/source.jpg",
                    "images": json.dumps(["imgs/xmlab0/source.jpg"]),
                    "image_sha256": json.dumps([sha256_file(image)]),
                    "context": "MRI of the abdomen.",
                    "status": "kept",
                }
            )
            .last_pk
        )
        for (triple_id,) in ws.db.execute("SELECT id FROM triples WHERE head = 'Liver Cancer'"):
            ws.db.table("record_triples").insert({"record_id": record, "triple_id": triple_id})
    context = session.add_kg_context()
    assert context.source == f"record {record} (slake)"
    assert context.facts == [
        "Liver Cancer -[location]-> Liver",
        "Liver Cancer -[symptom]-> jaundice",
    ]
    session.ask("What could this be?")
    system = session.messages("next")[0][0]["content"]
    assert "- Liver Cancer -[symptom]-> jaundice" in system
    events = [t.content for t in session.turns if t.role == "event"]
    assert events[-1] == f"kg: 2 fact(s) from record {record} (slake)"
    # another image: facts are dropped until /kg is asked again
    session.set_images([shared_path("slake", "imgs", "xmlab1", "source.jpg")])
    assert session.kg is None
    empty = kg_context(ws, [], [], "")
    assert empty.facts == [] and empty.notes


def test_blank_asks_the_last_question_again_on_black_images(ws: Workspace) -> None:
    from PIL import Image

    def looks(messages: list[Message], images: list[object]) -> str:
        with Image.open(str(images[0])) as shown:
            dark = shown.convert("L").getextrema()[1] == 0
        return "I cannot see anything." if dark else "The liver."

    model = ScriptedChat(looks, with_images=True)
    session = ChatSession(ws, model, model_spec="fake", images=[shared_path(*IMAGE)])
    with pytest.raises(InputError, match="no question"):
        list(session.blank())
    assert session.ask("Which organ is largest?").answer == "The liver."
    for _ in session.blank():
        pass
    blank_turn = session.turns[-1]
    assert blank_turn.answer == "I cannot see anything."
    sent = model.calls[-1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]  # type: ignore[index]
    blank_file = Path(str(sent["image_files"][0]))  # type: ignore[index]
    with Image.open(shared_path(*IMAGE)) as real, Image.open(blank_file) as black:
        assert black.size == real.size
    assert stat.S_IMODE(blank_file.stat().st_mode) == 0o600
    assert blank_turn.images[0].startswith("ablation:blank:")
    assert session.images == [shared_path(*IMAGE).resolve()]  # the real image stays in use
    text_only = ChatSession(ws, ScriptedChat(["x"]), images=[])
    text_only.ask("Anything?")
    with pytest.raises(InputError, match="changes nothing"):
        list(text_only.blank())
