"""Streaming chat replies: llama.cpp (``create_chat_completion(stream=True)``) and transformers
(``TextIteratorStreamer``) models yield text as it is generated; any other backend yields its
whole reply once. :class:`StreamingModel` makes a streaming call look like a plain
``generate`` to the call log, handing each piece to a callback on the way.

Used by :mod:`medsynth.chat`; the backends themselves are unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from medsynth.backends.base import (
    BackendError,
    ChatModel,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    with_images_in_last_user_turn,
)
from medsynth.backends.llamacpp import release_sampler


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
    """The model's reply in pieces as they are generated (llama.cpp and transformers models);
    any other backend's reply as one piece."""
    inner = _innermost(model)
    if inner.backend == "llamacpp" and hasattr(inner, "llama"):
        yield from _stream_llamacpp(inner, messages, images, temperature, seed, max_tokens)
    elif inner.backend == "hf" and hasattr(inner, "hf_model"):
        yield from _stream_hf(inner, messages, images, temperature, seed, max_tokens)
    else:
        yield str(
            model.generate(
                messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
            )
        )


def _stream_llamacpp(
    chat: Any,
    messages: list[Message],
    images: Sequence[ImageInput] | None,
    temperature: float,
    seed: int | None,
    max_tokens: int,
) -> Iterator[str]:
    if images and not chat.supports_images:
        raise BackendError("this GGUF model has no vision projector", source=chat.model)
    request = with_images_in_last_user_turn(messages, images) if images else messages
    with chat._lock:
        try:
            for part in chat.llama.create_chat_completion(
                messages=request,
                temperature=temperature,
                seed=chat.seed if seed is None else seed,
                max_tokens=max_tokens,
                stream=True,
            ):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta
        except (ValueError, RuntimeError) as exc:
            raise chat._error(exc) from exc
        finally:
            release_sampler(chat.llama)


def _stream_hf(
    chat: Any,
    messages: list[Message],
    images: Sequence[ImageInput] | None,
    temperature: float,
    seed: int | None,
    max_tokens: int,
) -> Iterator[str]:
    import torch
    from transformers import TextIteratorStreamer

    inputs = chat._inputs(chat._conversation(messages, list(images or [])))
    if chat.supports_images:
        inputs = inputs.to(chat.hf_model.device, dtype=chat.dtype)
    else:
        inputs = inputs.to(chat.hf_model.device)
    streamer = TextIteratorStreamer(chat.tokenizer, skip_prompt=True, skip_special_tokens=True)
    options: dict[str, Any] = {"max_new_tokens": max_tokens, "streamer": streamer}
    if temperature > 0:
        options.update(do_sample=True, temperature=temperature)
        if seed is not None:
            torch.manual_seed(seed)
    else:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if chat.tokenizer.pad_token_id is not None:
        options["pad_token_id"] = chat.tokenizer.pad_token_id
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with torch.inference_mode():
                chat.hf_model.generate(**inputs, **options)
        except BaseException as exc:  # reported below, after the streamer is released
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=work, name="medsynth-chat-generate", daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if failure:
        raise BackendError(f"generation failed: {failure[0]}", source=chat.model)


class StreamingModel:
    """A chat model whose ``generate`` streams through ``sink`` (what the call log calls)."""

    def __init__(self, model: ChatModel, sink: Callable[[str], Any]) -> None:
        self.inner_model = model
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
            self.inner_model,
            messages,
            images=images,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
        ):
            pieces.append(piece)
            self.sink(piece)
        return Generation("".join(pieces).strip())
