"""What every chat backend provides, and the errors they raise.

A chat model answers ``generate(messages, images=..., schema=..., temperature, seed, max_tokens)``
with a :class:`Generation`: the text itself (a ``str``) carrying token counts. With a JSON
``schema`` a backend that supports constrained output (llama.cpp grammars / ``response_format``,
Ollama ``format``, OpenAI ``json_schema``) returns schema-valid JSON text; the caller validates
either way (:mod:`medsynth.backends.structured`).

``stream`` (same arguments, no schema) answers with a :class:`Response`: iterate it for the text
pieces as they are generated; once it is exhausted it has the whole ``text()`` and the token
counts (simonw/llm's Response pattern). Wrappers subclass :class:`DelegatingModel`.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload, runtime_checkable

from PIL import Image

from medsynth.errors import MedsynthError

Message = dict[str, Any]  # {"role": "system" | "user" | "assistant", "content": str}
ImageInput = Image.Image | Path | bytes
JsonSchema = dict[str, Any]
T = TypeVar("T")


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


@dataclass(frozen=True)
class Usage:
    """The token counts a backend reported for one call (None when unknown)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


# What a backend's streaming generator is: text pieces, then (optionally) the counts it returns.
Pieces = Iterator[str] | Generator[str, None, Usage | None]


class Response:
    """A streamed reply: iterate it for the text pieces as they arrive; once it is exhausted,
    :meth:`text` is the whole reply and ``prompt_tokens`` / ``completion_tokens`` the counts the
    backend reported (None when unknown). :meth:`text` and :meth:`generation` read what is left
    first; iterating an exhausted response yields its pieces again.

    ``pieces`` is an iterator of text pieces; a generator may ``return`` a :class:`Usage` at its
    end (that is how backends report counts that arrive with the last piece).
    """

    def __init__(self, pieces: Pieces, usage: Usage | None = None) -> None:
        self.source: Pieces = pieces
        self.chunks: list[str] = []
        self.done = False
        self.prompt_tokens: int | None = usage.prompt_tokens if usage else None
        self.completion_tokens: int | None = usage.completion_tokens if usage else None

    def __iter__(self) -> Iterator[str]:
        if self.done:
            yield from list(self.chunks)
            return
        while True:
            try:
                piece = next(self.source)
            except StopIteration as stop:
                self.done = True
                if isinstance(stop.value, Usage):
                    self.prompt_tokens = stop.value.prompt_tokens
                    self.completion_tokens = stop.value.completion_tokens
                return
            self.chunks.append(piece)
            yield piece

    def text(self) -> str:
        """The whole reply (the rest of the stream is read first)."""
        for _ in self:
            pass
        return "".join(self.chunks)

    def generation(self) -> Generation:
        """The whole reply with its token counts, as ``generate`` returns it."""
        return Generation(self.text(), self.prompt_tokens, self.completion_tokens)

    def close(self) -> None:
        """Stop the backend's stream early (a cancelled reply)."""
        close = getattr(self.source, "close", None)
        if callable(close):
            close()


@runtime_checkable
class ChatModel(Protocol):
    """A chat model on this machine or on a server the user named.

    ``max_concurrency``: how many calls may usefully be in flight at once (1 for a model in
    this process, which runs one call at a time). ``max_batch``: how many calls it runs as one
    batch (transformers batch generation; 1 elsewhere).
    """

    backend: str  # "llamacpp", "ollama", "openai", "hf", "fake"
    model: str  # what the backend calls the model (path, tag or name)
    supports_images: bool
    supports_schema: bool  # constrained decoding to a JSON schema
    max_concurrency: int
    max_batch: int

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

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response: ...


# A server decides itself how many calls it runs at once: the client does not limit them.
SERVER_CONCURRENCY = 1 << 16


def concurrency_of(model: ChatModel, wanted: int) -> int:
    """How many calls to keep in flight on ``model`` when the caller would like ``wanted``:
    1 for a model that runs one call at a time and batches nothing (``max_concurrency`` and
    ``max_batch`` both 1: llama.cpp, an unbatched transformers model, the scripted fake), else
    ``wanted`` (at least 1): servers queue or batch what they are sent, and the batching wrapper
    needs that many calls waiting to fill a batch."""
    if model.max_concurrency <= 1 and model.max_batch <= 1:
        return 1
    return max(1, wanted)


class _Forwarded(Generic[T]):
    """A protocol attribute of a wrapper: the wrapped model's value until the wrapper sets its
    own (in ``__init__`` or later)."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Forwarded[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object, owner: type | None = None) -> T | _Forwarded[T]:
        if obj is None:
            return self
        own = vars(obj)
        if self.name in own:
            value: T = own[self.name]
            return value
        forwarded: T = getattr(own["inner"], self.name)
        return forwarded

    def __set__(self, obj: object, value: T) -> None:
        vars(obj)[self.name] = value


class DelegatingModel:
    """A chat model that wraps another (``inner``): every protocol attribute and method goes to
    ``inner`` unless the subclass overrides or sets it."""

    backend = _Forwarded[str]()
    model = _Forwarded[str]()
    supports_images = _Forwarded[bool]()
    supports_schema = _Forwarded[bool]()
    max_concurrency = _Forwarded[int]()
    max_batch = _Forwarded[int]()

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner

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
        """The inner model's answer."""
        return self.inner.generate(
            messages,
            images=images,
            schema=schema,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
        )

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """The inner model's streamed answer."""
        return self.inner.stream(
            messages, images=images, temperature=temperature, seed=seed, max_tokens=max_tokens
        )


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
    """PNG bytes of an image (what servers are sent).

    An image file is encoded once while it is unchanged (same size and modification time):
    synthesis sends a record's image with each of its calls, and encoding a 1024-pixel image
    costs about half a second of CPU, which at 64 calls in flight starves the servers."""
    if isinstance(image, Path):
        stat = image.stat()
        return _file_png_bytes(str(image.resolve()), stat.st_mtime_ns, stat.st_size)
    return _encode_png(image)


def _encode_png(image: ImageInput) -> bytes:
    buffer = io.BytesIO()
    load_image(image).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.lru_cache(maxsize=32)  # a few records' images in flight at once
def _file_png_bytes(path: str, mtime_ns: int, size: int) -> bytes:
    """PNG bytes of the file at ``path`` as it was at (``mtime_ns``, ``size``)."""
    return _encode_png(Path(path))


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
