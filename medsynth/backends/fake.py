"""Scripted chat models for tests and benchmarks of pipeline logic (never a user-facing backend:
no config value selects them)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Sequence

from medsynth.backends.base import (
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
    Usage,
)

Reply = str | BaseException
Script = Sequence[Reply] | Callable[[list[Message]], Reply]


class ScriptedChat:
    """Answers from a queue of replies (or a function of the messages); exceptions are raised.

    ``latency_s`` simulates a model's wall time; ``calls`` records every request. ``stream``
    yields the same reply word by word. With ``with_images`` the script function is called with
    the messages and the images sent (a model whose answer depends on what it is shown).
    """

    backend = "fake"
    supports_images = True
    supports_schema = True
    max_concurrency = 1
    max_batch = 1

    def __init__(
        self,
        script: Script,
        *,
        model: str = "scripted",
        latency_s: float = 0.0,
        with_images: bool = False,
    ) -> None:
        self.model = model
        self.with_images = with_images
        self.latency_s = latency_s
        self._script = script
        self._queue = list(script) if not callable(script) else []
        self._lock = threading.Lock()
        self.calls: list[dict[str, object]] = []

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
        """The next scripted reply."""
        reply = self._next(messages, images, schema, temperature, seed)
        if isinstance(reply, BaseException):
            raise reply
        return Generation(reply, *self._counts(messages, reply))

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """The next scripted reply, word by word (an exception is raised when it is read)."""
        reply = self._next(messages, images, None, temperature, seed)

        def pieces() -> Generator[str, None, Usage]:
            if isinstance(reply, BaseException):
                raise reply
            yield from re.findall(r"\S+\s*|\s+", reply)
            return Usage(*self._counts(messages, reply))

        return Response(pieces())

    @staticmethod
    def _counts(messages: list[Message], reply: str) -> tuple[int, int]:
        """Made-up token counts: a quarter of the characters."""
        return sum(len(str(m["content"])) for m in messages) // 4, max(1, len(reply) // 4)

    def _next(
        self,
        messages: list[Message],
        images: Sequence[ImageInput] | None,
        schema: JsonSchema | None,
        temperature: float,
        seed: int | None,
    ) -> Reply:
        """Record the request; the next reply (after the simulated latency)."""
        with self._lock:
            self.calls.append(
                {
                    "messages": messages,
                    "images": len(images or []),
                    "image_files": [str(i) for i in images or [] if not isinstance(i, bytes)],
                    "schema": schema,
                    "temperature": temperature,
                    "seed": seed,
                }
            )
            if callable(self._script) and self.with_images:
                reply: Reply = self._script(messages, list(images or []))  # type: ignore[call-arg]
            elif callable(self._script):
                reply = self._script(messages)
            elif self._queue:
                reply = self._queue.pop(0)
            else:
                raise AssertionError("ScriptedChat ran out of replies")
        if self.latency_s:
            time.sleep(self.latency_s)
        return reply
