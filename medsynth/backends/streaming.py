"""Streaming chat replies through the call log.

Every backend streams (``stream`` returns a :class:`~medsynth.backends.base.Response`):
llama.cpp, transformers, Ollama and OpenAI-compatible servers yield text as it is generated.
:class:`StreamingModel` makes a streaming call look like a plain ``generate`` to the call log,
handing each piece to a callback on the way; the call log then logs one row, with the token
counts the stream reported at its end.

Used by :mod:`medsynth.chat`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from medsynth.backends.base import (
    ChatModel,
    DelegatingModel,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
)


def stream_text(
    model: ChatModel,
    messages: list[Message],
    *,
    images: Sequence[ImageInput] | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    max_tokens: int = 512,
) -> Response:
    """The model's reply in pieces as they are generated (iterate it; then ``text()`` and the
    token counts)."""
    return model.stream(
        messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
    )


class StreamingModel(DelegatingModel):
    """A chat model whose ``generate`` streams through ``sink`` (what the call log calls); the
    result keeps the stream's token counts."""

    def __init__(self, model: ChatModel, sink: Callable[[str], Any]) -> None:
        super().__init__(model)
        self.sink = sink

    def generate(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        schema: JsonSchema | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Generation:
        """The streamed reply, each piece handed to ``sink`` (``schema`` is not sent: a streamed
        reply is free text, as before)."""
        response = self.inner.stream(
            messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
        )
        try:
            for piece in response:
                self.sink(piece)
        finally:
            response.close()  # a sink that raised (a cancelled reply) ends the model's stream
        return Generation(
            response.text().strip(), response.prompt_tokens, response.completion_tokens
        )
