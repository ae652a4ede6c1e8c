"""Chat models on OpenAI-compatible servers (vLLM, llama.cpp server, LM Studio), one or several.

The official ``openai`` client makes the calls with its own retries off: the engine retries
:class:`TransientBackendError` (connection refused, timeout, HTTP 5xx / 429) itself. ``stream``
asks for server-sent events (``stream: true`` with ``stream_options.include_usage``: the last
event carries the token counts, where the server reports them). ``timeout_s`` bounds every wait
for the server (connecting, and each read of a streamed reply).

A call comes in three steps, so that a :class:`ServerPool` holds a server's slot only while the
server has the call: :meth:`OpenAIChat.request` writes the body (images encoded) before any
slot is taken, :meth:`OpenAIChat.send` posts it inside the slot and returns the answer read but
not parsed, and :meth:`OpenAIChat.reply` reads its JSON after the slot is free. The body goes to
the client as ``extra_body``, which it sends as given: ``create``'s typed transform of its
arguments walks every part of every message and the schema (1-1.5 ms of CPU per call, which a
pool paid while it held the slot) and changes nothing in plain JSON like this.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from medsynth.backends.base import (
    SERVER_CONCURRENCY,
    BackendError,
    DelegatingModel,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
    TransientBackendError,
    Usage,
    with_images_in_last_user_turn,
)
from medsynth.errors import ConfigError

API_KEY_ENV = "MEDSYNTH_OPENAI_API_KEY"
TRANSIENT_STATUS = frozenset({408, 409, 429})
# A server that does not know response_format type "json_schema" says so with 400 or 422, or
# (llama_cpp.server) with a 500 whose message names the field.
SCHEMA_REFUSED_STATUS = frozenset({400, 422})


class _SchemaFormRefused(Exception):
    """The server refused ``response_format`` type ``json_schema``."""


def _server_message(exc: Any) -> str:
    """The server's own words from an ``openai.APIStatusError``."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
    return str(getattr(exc, "message", exc))


def _http_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """The transport errors and the timeouts of the HTTP libraries the openai client may read
    a streamed reply with (``httpx``; ``httpx2`` in later releases), among those it has
    imported: looked up when a model is built, so no call imports one (httpx alone took 0.1 s
    to import, and a first round of calls all waited for it)."""
    loaded = [sys.modules[name] for name in ("httpx", "httpx2") if name in sys.modules]
    return (
        tuple(module.TransportError for module in loaded),
        tuple(module.TimeoutException for module in loaded),
    )


class OpenAIChat:
    """One model on one OpenAI-compatible server (``base_url`` ends in ``/v1``)."""

    backend = "openai"
    supports_images = True
    supports_schema = True
    max_concurrency = SERVER_CONCURRENCY  # the server queues or batches what it gets
    max_batch = 1

    def __init__(self, model: str, base_url: str, *, timeout_s: float = 180.0) -> None:
        import openai

        self.model = model
        self.timeout_s = timeout_s
        self.base_url = base_url.rstrip("/")
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=os.environ.get(API_KEY_ENV, "local"),
            timeout=timeout_s,
            max_retries=0,
        )
        # The client imports the modules of its chat resource when it is first used (about
        # 25 ms on one thread, longer when a run's whole first round of calls waits for it):
        # taken here, once, when the model is built.
        self.completions = self.client.chat.completions
        self._create_raw = self.completions.with_raw_response.create
        transport, timeouts = _http_errors()
        self._connection_errors: tuple[type[Exception], ...] = (
            openai.APIConnectionError,
            *transport,
        )
        self._timeouts: tuple[type[Exception], ...] = (openai.APITimeoutError, *timeouts)
        # "json_schema" (OpenAI, vLLM) until the server refuses it; then llama.cpp's form
        # {"type": "json_object", "schema": ...} for the rest of this object's life.
        self.schema_form = "json_schema"

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
        """One chat completion; with ``schema`` the server constrains the output to it."""
        request = self.request(messages, images, temperature, seed, max_tokens)
        return self.reply(self.send(request, schema))

    def request(
        self,
        messages: list[Message],
        images: Sequence[ImageInput] | None,
        temperature: float,
        seed: int | None,
        max_tokens: int,
    ) -> dict[str, Any]:
        """The body of a call (images encoded into the last user turn), without the model name:
        any server of a pool can :meth:`send` it."""
        chat = with_images_in_last_user_turn(messages, images) if images else messages
        request: dict[str, Any] = {
            "messages": chat,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if seed is not None:
            request["seed"] = seed
        return request

    def send(self, request: dict[str, Any], schema: JsonSchema | None) -> Any:
        """Post a :meth:`request` to this server and wait for its answer, read but not parsed
        (:meth:`reply` parses it); with ``schema`` the server constrains the output to it."""
        if schema is None:
            return self._post(request)
        if self.schema_form == "json_schema":
            strict = {"name": "output", "schema": schema, "strict": True}
            try:
                return self._post(
                    {**request, "response_format": {"type": "json_schema", "json_schema": strict}},
                    refusable=True,
                )
            except _SchemaFormRefused:
                pass
        fallback = {"type": "json_object", "schema": schema}
        result = self._post({**request, "response_format": fallback})
        self.schema_form = "json_object"
        return result

    def reply(self, raw: Any) -> Generation:
        """The text and token counts of an answer :meth:`send` returned, read from its JSON (the
        client's typed parse of the whole completion built its models on first use: 40 ms)."""
        try:
            data = json.loads(raw.content)
        except ValueError as exc:
            raise BackendError(
                f"the server's answer is not JSON: {raw.content[:200]!r}", source=self.base_url
            ) from exc
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices:
            raise BackendError("the server answered with no choices", source=self.base_url)
        text = (choices[0].get("message") or {}).get("content") or ""
        usage = data.get("usage") or {}
        return Generation(str(text), usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """One streamed chat completion (server-sent events); the counts come last."""
        return self.stream_request(self.request(messages, images, temperature, seed, max_tokens))

    def stream_request(self, request: dict[str, Any]) -> Response:
        """Stream the answer to a :meth:`request`."""
        return Response(self._pieces(request))

    def _pieces(self, request: dict[str, Any]) -> Generator[str, None, Usage]:
        usage = Usage()
        with self._errors():
            events = self.completions.create(
                model=self.model,
                messages=[],
                extra_body={**request, "stream_options": {"include_usage": True}},
                stream=True,
            )
            try:
                for event in events:
                    if event.usage is not None:
                        usage = Usage(event.usage.prompt_tokens, event.usage.completion_tokens)
                    if event.choices and event.choices[0].delta.content:
                        yield event.choices[0].delta.content
            finally:  # a reply closed early: drop the connection now
                events.close()
        return usage

    def _post(self, request: dict[str, Any], *, refusable: bool = False) -> Any:
        """The answer to a request, read but not parsed; the body goes as given (``extra_body``
        replaces the placeholder ``messages``)."""
        with self._errors(refusable=refusable):
            return self._create_raw(model=self.model, messages=[], extra_body=request)

    @contextmanager
    def _errors(self, *, refusable: bool = False) -> Iterator[None]:
        """Client and transport errors inside the block become backend errors (a streamed
        reply's read errors may come from the HTTP library itself)."""
        import openai

        try:
            yield
        except self._connection_errors as exc:  # timeouts included
            timed_out = isinstance(exc, self._timeouts)
            what = f"timed out after {self.timeout_s:g} s" if timed_out else "failed"
            raise TransientBackendError(
                f"call to this OpenAI-compatible server {what} ({exc})",
                source=self.base_url,
                hint=f"is the server running at {self.base_url}? `medsynth models doctor`",
            ) from exc
        except openai.APIStatusError as exc:
            status, said = exc.status_code, _server_message(exc)
            if refusable and (status in SCHEMA_REFUSED_STATUS or "response_format" in said):
                raise _SchemaFormRefused from exc
            message = f"the server answered HTTP {status}: {said}"
            if status >= 500 or status in TRANSIENT_STATUS:
                raise TransientBackendError(
                    message,
                    source=self.base_url,
                    hint=f"is the server at {self.base_url} healthy? `medsynth models doctor`",
                ) from exc
            raise BackendError(
                message,
                source=self.base_url,
                hint=f"check the model name {self.model!r} and the request the server refused",
            ) from exc


class ServerPool(DelegatingModel):
    """Several OpenAI-compatible servers behind one ChatModel: each call goes to the least-busy
    server (at most ``concurrency`` calls in flight on each); a transient failure is retried
    once on another server (for a stream: when it failed before its first piece), and a failed
    server is avoided for ``cooldown_s`` seconds. ``inner`` is the first server."""

    def __init__(
        self, servers: Sequence[OpenAIChat], *, concurrency: int = 1, cooldown_s: float = 30.0
    ) -> None:
        if not servers:
            raise ConfigError(
                "a server pool needs at least one server",
                hint="list base URLs in [models.*] servers",
            )
        super().__init__(servers[0])
        self.servers = list(servers)
        self.backend = "openai"
        self.supports_images = all(s.supports_images for s in self.servers)
        self.supports_schema = all(s.supports_schema for s in self.servers)
        self.max_concurrency = len(self.servers) * concurrency
        self.max_batch = 1
        self.cooldown_s = cooldown_s
        self._slots = [threading.BoundedSemaphore(concurrency) for _ in self.servers]
        self._busy = [0] * len(self.servers)  # in flight or waiting for a slot
        self._calls = [0] * len(self.servers)  # answered
        self._errors = [0] * len(self.servers)  # transient failures
        self._failed_at = [float("-inf")] * len(self.servers)
        self._lock = threading.Lock()

    @classmethod
    def from_urls(
        cls, model: str, urls: Sequence[str], *, timeout_s: float = 180.0, concurrency: int = 1
    ) -> ServerPool:
        """A pool of one :class:`OpenAIChat` per base URL."""
        return cls(
            [OpenAIChat(model, url, timeout_s=timeout_s) for url in urls], concurrency=concurrency
        )

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
        """Route one call; retry it once on another server after a transient failure.

        A server's slot is held only while the server has the call: the request is written
        (images encoded) before a slot is taken, and the answer parsed after it is freed."""
        request = self.servers[0].request(messages, images, temperature, seed, max_tokens)
        first = self._pick(exclude=None)
        try:
            with self._slot(first):
                raw = self.servers[first].send(request, schema)
            return self.servers[first].reply(raw)
        except TransientBackendError:
            if len(self.servers) == 1:
                raise
        second = self._pick(exclude=first)
        with self._slot(second):
            raw = self.servers[second].send(request, schema)
        return self.servers[second].reply(raw)

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """Route one streamed call; retried once on another server when the first failed
        transiently before its first piece."""
        request = self.servers[0].request(messages, images, temperature, seed, max_tokens)
        return Response(self._pieces(request))

    def _pieces(self, request: dict[str, Any]) -> Generator[str, None, Usage]:
        tried: int | None = None
        while True:
            index = self._pick(exclude=tried)
            started = False
            try:
                with self._slot(index):
                    response = self.servers[index].stream_request(request)
                    for piece in response:
                        started = True
                        yield piece
                    return Usage(response.prompt_tokens, response.completion_tokens)
            except TransientBackendError:
                if started or tried is not None or len(self.servers) == 1:
                    raise
                tried = index

    def stats(self) -> dict[str, int]:
        """Calls answered per server base URL."""
        with self._lock:
            return {s.base_url: n for s, n in zip(self.servers, self._calls, strict=True)}

    def errors(self) -> dict[str, int]:
        """Transient failures per server base URL."""
        with self._lock:
            return {s.base_url: n for s, n in zip(self.servers, self._errors, strict=True)}

    def _pick(self, exclude: int | None) -> int:
        now = time.monotonic()
        with self._lock:
            candidates = [i for i in range(len(self.servers)) if i != exclude]
            best = min(
                candidates,
                key=lambda i: (
                    now - self._failed_at[i] < self.cooldown_s,
                    self._busy[i],
                    self._calls[i],
                ),
            )
            self._busy[best] += 1
            return best

    @contextmanager
    def _slot(self, index: int) -> Iterator[None]:
        """One call on server ``index`` (picked, so counted busy): waits for a free slot there;
        counts it answered, or failed (the server then cools down)."""
        try:
            with self._slots[index]:
                yield
        except TransientBackendError:
            with self._lock:
                self._errors[index] += 1
                self._failed_at[index] = time.monotonic()
            raise
        finally:
            with self._lock:
                self._busy[index] -= 1
        with self._lock:
            self._calls[index] += 1
