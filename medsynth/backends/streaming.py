"""Streaming chat replies: llama.cpp (``create_chat_completion(stream=True)``) and transformers
(``TextIteratorStreamer``) models yield text as it is generated; any other backend yields its
whole reply once. :class:`StreamingModel` makes a streaming call look like a plain
``generate`` to the call log, handing each piece to a callback on the way.

Used by :mod:`medsynth.chat`. A backend streams by having a ``stream`` method with
``generate``'s arguments (no schema) that yields text pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from medsynth.backends.base import (
    ChatModel,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
)


def _innermost(model: Any) -> Any:
    while hasattr(model, "inner"):
        model = model.inner
    return model


def stream_text(
    model: ChatModel,
    messages: list[Message],
    *,
    images: Sequence[ImageInput] | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    max_tokens: int = 512,
) -> Iterator[str]:
    """The model's reply in pieces as they are generated, where the backend can stream (it has
    a ``stream`` method: llama.cpp, transformers); any other backend's reply as one piece."""
    inner = _innermost(model)
    stream = getattr(inner, "stream", None)
    if callable(stream):
        yield from stream(
            messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
        )
    else:
        yield str(
            model.generate(
                messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
            )
        )


class StreamingModel:
    """A chat model whose ``generate`` streams through ``sink`` (what the call log calls)."""

    def __init__(self, model: ChatModel, sink: Callable[[str], Any]) -> None:
        self.inner = model
        self.backend = model.backend
        self.model = model.model
        self.supports_images = model.supports_images
        self.supports_schema = model.supports_schema
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
        pieces = []
        for piece in stream_text(
            self.inner,
            messages,
            images=images,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
        ):
            pieces.append(piece)
            self.sink(piece)
        return Generation("".join(pieces).strip())
