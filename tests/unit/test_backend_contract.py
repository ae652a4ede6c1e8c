"""The chat backend contract: streamed replies keep their token counts (``Response``), wrappers
delegate to ``inner`` (``DelegatingModel``), capabilities decide concurrency
(``concurrency_of``), and call-log cache keys never change."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from medsynth.backends.base import (
    SERVER_CONCURRENCY,
    ChatModel,
    DelegatingModel,
    Response,
    Usage,
    concurrency_of,
)
from medsynth.backends.calllog import CallLog, Template, cache_key, call_params
from medsynth.backends.fake import ScriptedChat
from medsynth.backends.openai_compat import OpenAIChat, ServerPool
from medsynth.backends.streaming import StreamingModel
from medsynth.chat import ChatSession
from medsynth.eval.batching import BatchedHF
from medsynth.eval.models import FingerprintedModel
from medsynth.workspace import Workspace


def pieces() -> Generator[str, None, Usage]:
    yield "The "
    yield "liver."
    return Usage(11, 3)


def test_a_response_is_its_pieces_then_the_text_and_counts() -> None:
    response = Response(pieces())
    assert response.prompt_tokens is None and not response.done
    assert list(response) == ["The ", "liver."]
    assert (response.text(), response.prompt_tokens, response.completion_tokens) == (
        "The liver.",
        11,
        3,
    )
    assert list(response) == ["The ", "liver."]  # read again from what was kept
    whole = Response(pieces()).generation()  # text() reads the stream first
    assert (whole, whole.prompt_tokens, whole.completion_tokens) == ("The liver.", 11, 3)
    plain = Response(iter(["a", "b"]))  # an iterator without counts
    assert plain.text() == "ab" and plain.completion_tokens is None


def test_the_scripted_model_streams_word_by_word_with_its_counts() -> None:
    model = ScriptedChat(["It is the liver.", RuntimeError("boom")])
    assert isinstance(model, ChatModel)
    messages = [{"role": "user", "content": "Which organ?"}]
    response = model.stream(messages)
    assert list(response) == ["It ", "is ", "the ", "liver."]
    assert (response.prompt_tokens, response.completion_tokens) == (3, 4)
    failing = model.stream(messages)
    with pytest.raises(RuntimeError, match="boom"):
        failing.text()


class Named(DelegatingModel):
    """A wrapper that changes only the name."""

    def __init__(self, inner: ChatModel) -> None:
        super().__init__(inner)
        self.model = f"{inner.model}#abc"


def test_a_delegating_wrapper_forwards_everything_it_does_not_change() -> None:
    inner = ScriptedChat(["one", "two"], model="m")
    wrapped = Named(inner)
    assert isinstance(wrapped, ChatModel)
    assert (wrapped.backend, wrapped.model, wrapped.supports_images) == ("fake", "m#abc", True)
    assert (wrapped.max_concurrency, wrapped.max_batch) == (1, 1)
    assert wrapped.generate([{"role": "user", "content": "x"}]) == "one"
    assert wrapped.stream([{"role": "user", "content": "x"}]).text() == "two"
    inner.supports_images = False  # read through, not copied
    assert wrapped.supports_images is False
    wrapped.model = "renamed"  # what eval's runner does to a batched model
    assert wrapped.model == "renamed" and inner.model == "m"


def test_every_wrapper_is_a_delegating_model() -> None:
    inner = ScriptedChat(["x"])
    wrappers: list[DelegatingModel] = [
        StreamingModel(inner, print),
        FingerprintedModel(inner, "f"),
        BatchedHF(inner, batch_size=4),
        ServerPool([OpenAIChat("m", "http://127.0.0.1:1/v1")]),
    ]
    assert all(isinstance(w, ChatModel) for w in wrappers)
    assert all(type(w).stream is DelegatingModel.stream for w in wrappers[:3])


def test_concurrency_of_gives_the_numbers_eval_used_by_backend_name() -> None:
    # eval's old rule: 1 for llamacpp and fake, else the batch size (at least 1)
    serial = ScriptedChat(["x"])
    server = OpenAIChat("m", "http://127.0.0.1:1/v1")
    pool = ServerPool.from_urls("m", ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"])
    batched = BatchedHF(serial, batch_size=8)
    for wanted in (0, 1, 8, 32):
        assert concurrency_of(serial, wanted) == 1
        assert concurrency_of(FingerprintedModel(serial, "f"), wanted) == 1
        for parallel in (server, pool, batched, FingerprintedModel(batched, "")):
            assert concurrency_of(parallel, wanted) == max(1, wanted)
    assert (server.max_concurrency, server.max_batch) == (SERVER_CONCURRENCY, 1)
    assert (pool.max_concurrency, batched.max_batch) == (2, 8)
    assert ServerPool.from_urls("m", ["http://127.0.0.1:1/v1"], concurrency=3).max_concurrency == 3


def test_a_known_calls_cache_key_is_unchanged(ws: Workspace) -> None:
    # keys logged by the call log before the contract change: existing workspaces stay hits
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
    params = call_params(0.0, 0, 64, {"type": "object"})
    known = "04fe44d941894413b28959421c929e1b911792fc28af0a228cab4013c0112c6f"
    assert cache_key("fake", "scripted", messages, ["file-sha256:abc"], params) == known
    log = CallLog(ws.db, ScriptedChat(['{"a": 1}', "hello"]), role="t")
    log.call(
        messages,
        template=Template("t", "1"),
        schema={"type": "object"},
        images=[b""],
        image_keys=["file-sha256:abc"],
        max_tokens=64,
    )
    log.call([{"role": "user", "content": "Say hello."}], template=Template("t", "1"), seed=0)
    keys = [r[0] for r in ws.db.execute("SELECT cache_key FROM llm_calls ORDER BY id")]
    assert keys == [known, "969b5166b3f56cb30624b38b23d76a7367f91baa5b4f6b23cb4232168d1cb156"]


def test_a_streamed_chat_turn_is_one_row_with_its_token_counts(ws: Workspace) -> None:
    session = ChatSession(ws, ScriptedChat(["It is the liver, seen from the front."]))
    chunks = list(session.send("Which organ?"))
    assert len(chunks) > 3  # streamed word by word
    rows = list(ws.db.execute("SELECT raw_output, prompt_tokens, completion_tokens FROM llm_calls"))
    assert len(rows) == 1
    raw, prompt_tokens, completion_tokens = rows[0]
    assert raw == "It is the liver, seen from the front."
    assert prompt_tokens and prompt_tokens > 0
    assert completion_tokens == len(raw) // 4
