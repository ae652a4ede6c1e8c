"""Scripted chat models for tests and benchmarks of pipeline logic (never a user-facing backend:
no config value selects them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from medsynth.backends.base import (
    Generation,
    ImageInput,
    JsonSchema,
    Message,
)

Reply = str | BaseException
Script = Sequence[Reply] | Callable[[list[Message]], Reply]


class ScriptedChat:
    """Answers from a queue of replies (or a function of the messages); exceptions are raised.

    ``latency_s`` simulates a model's wall time; ``calls`` records every request.
    """

    backend = "fake"
    supports_images = True
    supports_schema = True

    def __init__(self, script: Script, *, model: str = "scripted", latency_s: float = 0.0) -> None:
        self.model = model
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
        with self._lock:
            self.calls.append(
                {
                    "messages": messages,
                    "images": len(images or []),
                    "schema": schema,
                    "temperature": temperature,
                    "seed": seed,
                }
            )
            if callable(self._script):
                reply: Reply = self._script(messages)
            elif self._queue:
                reply = self._queue.pop(0)
            else:
                raise AssertionError("ScriptedChat ran out of replies")
        if self.latency_s:
            time.sleep(self.latency_s)
        if isinstance(reply, BaseException):
            raise reply
        return Generation(
            reply,
            prompt_tokens=sum(len(str(m["content"])) for m in messages) // 4,
            completion_tokens=max(1, len(reply) // 4),
        )
