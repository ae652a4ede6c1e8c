"""Chat through an Ollama server (``ollama serve``) with the official ``ollama`` client.

Ollama runs the model; we send ``/api/chat`` requests. A JSON schema goes in ``format`` (Ollama
constrains decoding to it), images go base64-encoded in the last user message's ``images`` list,
and temperature, seed and the token limit go in ``options``. Whether the model actually looks at
the images is up to the model the user pulled (qwen2.5vl, llava, ...). ``stream`` sends
``"stream": true`` and reads Ollama's NDJSON lines; the last one carries the token counts.
``timeout_s`` bounds every wait for the server (connecting, and each read of a streamed reply).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from medsynth.backends.base import (
    SERVER_CONCURRENCY,
    BackendError,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
    TransientBackendError,
    Usage,
    image_png_bytes,
)

DEFAULT_HOST = "http://127.0.0.1:11434"

T = TypeVar("T")


class OllamaChat:
    """A model served by Ollama, named by its tag (``qwen2.5vl:7b``)."""

    backend = "ollama"
    supports_images = True
    supports_schema = True
    max_concurrency = SERVER_CONCURRENCY  # the server queues (OLLAMA_NUM_PARALLEL) what it gets
    max_batch = 1

    def __init__(self, model: str, *, host: str = "", timeout_s: float = 180.0) -> None:
        import ollama

        self.model = model
        self.host = host or DEFAULT_HOST
        self.timeout_s = timeout_s
        self._client = ollama.Client(host=self.host, timeout=timeout_s)

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
        """One non-streaming ``/api/chat`` call; the reply text with Ollama's token counts."""
        payload = _with_images(messages, images or ())
        options = _options(temperature, seed, max_tokens)
        response = self._call(
            lambda: self._client.chat(
                model=self.model,
                messages=payload,
                format=schema or None,
                options=options,
                stream=False,
            )
        )
        return Generation(
            response.message.content or "", response.prompt_eval_count, response.eval_count
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
        """One streaming ``/api/chat`` call (NDJSON): the pieces as they come, then the counts
        of Ollama's final ``done`` line."""
        payload = _with_images(messages, images or ())
        options = _options(temperature, seed, max_tokens)
        return Response(self._pieces(payload, options))

    def _pieces(
        self, payload: list[Message], options: dict[str, Any]
    ) -> Generator[str, None, Usage]:
        usage = Usage()
        with self._errors():
            parts = self._client.chat(
                model=self.model, messages=payload, options=options, stream=True
            )
            try:
                for part in parts:
                    if part.message.content:
                        yield part.message.content
                    if part.done:
                        usage = Usage(part.prompt_eval_count, part.eval_count)
            finally:  # a reply closed early: drop the connection now
                close = getattr(parts, "close", None)
                if callable(close):
                    close()
        return usage

    def list_models(self) -> list[str]:
        """Tags of the models this Ollama server has pulled."""
        listing = self._call(self._client.list)
        return [m.model for m in listing.models if m.model]

    def show(self, tag: str | None = None) -> dict[str, Any]:
        """Size and format of a pulled model (for ``medsynth models doctor``)."""
        tag = tag or self.model
        info = self._call(lambda: self._client.show(tag), tag=tag)
        listing = self._call(self._client.list)
        size = next((m.size for m in listing.models if m.model == tag), None)
        details = info.details.model_dump(exclude_none=True) if info.details else {}
        return {
            "model": tag,
            "size_bytes": int(size) if size is not None else None,
            "format": details.get("format"),
            "family": details.get("family"),
            "parameter_size": details.get("parameter_size"),
            "quantization_level": details.get("quantization_level"),
            "capabilities": list(getattr(info, "capabilities", None) or []),
        }

    def _call(self, fn: Callable[[], T], *, tag: str | None = None) -> T:
        """Run a client call, turning client and transport errors into backend errors."""
        with self._errors(tag):
            return fn()

    @contextmanager
    def _errors(self, tag: str | None = None) -> Iterator[None]:
        """Client and transport errors inside the block become backend errors."""
        import httpx
        import ollama

        tag = tag or self.model
        running = f"is `ollama serve` running at {self.host}? check with `medsynth models doctor`"
        try:
            yield
        except ollama.ResponseError as exc:
            status, error = exc.status_code, str(exc.error)
            if status == 404 and "model" in error.lower():
                raise BackendError(
                    f"Ollama has no model {tag!r} ({error})",
                    hint=f"run `ollama pull {tag}` on a connected machine and copy "
                    "~/.ollama/models here, or set the role's `model` in medsynth.toml to a "
                    "tag that `ollama list` shows",
                    source=self.host,
                ) from exc
            if status >= 500 or status in (408, 429):
                raise TransientBackendError(
                    f"Ollama failed (HTTP {status}): {error}",
                    hint=f"read the log of `ollama serve` at {self.host} (out of memory? a "
                    "broken model file?); check with `medsynth models doctor`",
                    source=self.host,
                ) from exc
            raise BackendError(
                f"Ollama refused the request (HTTP {status}): {error}",
                hint=f"check that {self.host} is an Ollama server and the model tag is right; "
                "check with `medsynth models doctor`",
                source=self.host,
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientBackendError(
                f"Ollama did not answer within {self.timeout_s:g} s",
                hint=f"{running} A first call loads the model: raise timeout_s if it is slow",
                source=self.host,
            ) from exc
        except ConnectionError as exc:
            # the client turns httpx.ConnectError into a builtin ConnectionError with a
            # generic "please download Ollama" text: replace it
            raise TransientBackendError(
                "cannot connect to Ollama (connection refused or host unreachable)",
                hint=running,
                source=self.host,
            ) from exc
        except httpx.TransportError as exc:
            raise TransientBackendError(
                f"the connection to Ollama failed: {exc!r}", hint=running, source=self.host
            ) from exc
        except ollama.RequestError as exc:
            raise BackendError(f"bad request for Ollama: {exc.error}", source=self.host) from exc


def _options(temperature: float, seed: int | None, max_tokens: int) -> dict[str, Any]:
    """Ollama's ``options``: temperature, token limit and the seed when there is one."""
    options: dict[str, Any] = {"temperature": temperature, "num_predict": max_tokens}
    if seed is not None:
        options["seed"] = seed
    return options


def _with_images(messages: list[Message], images: Sequence[ImageInput]) -> list[Message]:
    """Copies of ``messages``; the images, base64 PNG, join the last user message."""
    result = [{**m, "content": str(m.get("content", ""))} for m in messages]
    if not images:
        return result
    for message in reversed(result):
        if message["role"] == "user":
            encoded = [base64.b64encode(image_png_bytes(image)).decode("ascii") for image in images]
            message["images"] = [*message.get("images", []), *encoded]
            return result
    raise BackendError(
        "images were given but no user message carries them",
        hint="put the question in a user message",
    )
