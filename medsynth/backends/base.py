"""What every chat backend provides, and the errors they raise.

A chat model answers ``generate(messages, images=..., schema=..., temperature, seed, max_tokens)``
with a :class:`Generation`: the text itself (a ``str``) carrying token counts. With a JSON
``schema`` a backend that supports constrained output (llama.cpp grammars / ``response_format``,
Ollama ``format``, OpenAI ``json_schema``) returns schema-valid JSON text; the caller validates
either way (:mod:`medsynth.backends.structured`).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from medsynth.errors import MedsynthError

Message = dict[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}
ImageInput = Image.Image | Path | bytes
JsonSchema = dict[str, Any]


class Generation(str):
    """Generated text, with the token counts the backend reported (None when unknown)."""

    prompt_tokens: int | None
    completion_tokens: int | None

    def __new__(
        cls, text: str, prompt_tokens: int | None = None, completion_tokens: int | None = None
    ) -> Generation:
        obj = super().__new__(cls, text)
        obj.prompt_tokens = prompt_tokens
        obj.completion_tokens = completion_tokens
        return obj


@runtime_checkable
class ChatModel(Protocol):
    """A chat model on this machine or on a server the user named."""

    backend: str  # "llamacpp", "ollama", "openai", "hf", "fake"
    model: str  # what the backend calls the model (path, tag or name)
    supports_images: bool
    supports_schema: bool  # constrained decoding to a JSON schema

    def generate(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        schema: JsonSchema | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Generation: ...


class BackendError(MedsynthError):
    """A model call failed for good (bad request, missing model, unsupported input)."""


class TransientBackendError(BackendError):
    """A model call failed in a way worth retrying: connection refused, timeout, HTTP 5xx."""


class InvalidOutput(BackendError):
    """The model's output does not satisfy the requested schema (``raw`` keeps it)."""

    def __init__(self, message: str, *, raw: str, hint: str = "", source: str = "") -> None:
        super().__init__(message, hint=hint, source=source)
        self.raw = raw


def load_image(image: ImageInput) -> Image.Image:
    """A PIL image from a path, bytes or an image (converted to RGB)."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, bytes):
        return Image.open(io.BytesIO(image)).convert("RGB")
    with Image.open(image) as opened:
        return opened.convert("RGB")


def image_png_bytes(image: ImageInput) -> bytes:
    """PNG bytes of an image (what servers are sent)."""
    buffer = io.BytesIO()
    load_image(image).save(buffer, format="PNG")
    return buffer.getvalue()


def image_data_url(image: ImageInput) -> str:
    """``data:image/png;base64,...`` URL of an image (OpenAI-style image content)."""
    return "data:image/png;base64," + base64.b64encode(image_png_bytes(image)).decode("ascii")


def with_images_in_last_user_turn(
    messages: list[Message], images: Sequence[ImageInput], *, data_urls: bool = True
) -> list[Message]:
    """OpenAI-style content parts: the images join the last user message (text part last)."""
    if not images:
        return messages
    result = [dict(m) for m in messages]
    for message in reversed(result):
        if message["role"] == "user":
            parts: list[dict[str, Any]] = [
                {"type": "image_url", "image_url": {"url": image_data_url(image)}}
                for image in images
            ]
            parts.append({"type": "text", "text": str(message["content"])})
            message["content"] = parts
            return result
    raise BackendError(
        "images were given but no user message carries them",
        hint="put the question in a user message",
    )
