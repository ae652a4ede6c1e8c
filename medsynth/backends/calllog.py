"""Every model call goes through here: cache lookup, retries, JSON checks, one log row.

A call identical in every input (backend, model, messages, image hashes, schema, parameters) at
temperature 0 is answered from ``llm_calls``: re-runs and resumed runs cost no model time.
Transient failures (refused, timeout, 5xx) are retried with doubling backoff; what still fails is
logged with its error and raised, and rows already logged stay.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from medsynth.backends.base import (
    BackendError,
    ChatModel,
    Generation,
    ImageInput,
    InvalidOutput,
    JsonSchema,
    Message,
    TransientBackendError,
    load_image,
)
from medsynth.backends.structured import check_output, repair_messages
from medsynth.store.runs import utc_now

DEFAULT_RETRIES = 3  # the default of ``[models.*] retries``


@dataclass(frozen=True)
class Template:
    """Which prompt template (and version) produced a call's messages."""

    name: str
    version: str


@dataclass
class CallResult:
    """The outcome of one logical call (after any repair)."""

    text: str
    parsed: Any
    call_id: int
    cached: bool
    call_ids: list[int]


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def call_params(
    temperature: float, seed: int | None, max_tokens: int, schema: JsonSchema | None
) -> dict[str, Any]:
    """The parameters of a call, as logged and keyed."""
    return {"temperature": temperature, "seed": seed, "max_tokens": max_tokens, "schema": schema}


def cache_key(
    backend: str, model: str, messages: list[Message], hashes: list[str], params: dict[str, Any]
) -> str:
    """The ``llm_calls.cache_key`` of a call (never change it: logged calls must stay hits)."""
    return _hash([backend, model, _hash(messages), hashes, params])


def _given_up(error: BackendError, attempts: int) -> BackendError:
    """The error a failed call raises: a transient one says how often it was tried."""
    if not isinstance(error, TransientBackendError):
        return error
    given_up = TransientBackendError(
        f"gave up after {attempts} attempt(s): {error.message}",
        hint=error.hint
        or "check the server, then run the same command again: "
        "finished calls are kept and not repeated",
        source=error.source,
    )
    given_up.__cause__ = error
    return given_up


def image_hash(image: ImageInput) -> str:
    """SHA-256 of the image's RGB pixels and size: the same for the same pixels whatever the file
    format, and ~30x cheaper than re-encoding to PNG (it runs on every call, cached or not)."""
    rgb = load_image(image)
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


class CallLog:
    """Logs and caches the calls of one model (one role) into a workspace database.

    ``retries`` is the role's ``[models.<role>] retries``: a transient failure (refused, timed
    out, 5xx) is tried again that many times, so a call makes at most ``retries + 1`` attempts.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        model: ChatModel,
        *,
        role: str = "",
        run_id: int | None = None,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        lock: threading.Lock | None = None,
    ) -> None:
        self.db = db
        self.model = model
        self.role = role
        self.run_id = run_id
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.lock = lock or threading.Lock()  # shared when others use the same connection
        self.model_calls = 0
        self.cache_hits = 0

    def call(
        self,
        messages: list[Message],
        *,
        template: Template,
        images: Sequence[ImageInput] | None = None,
        schema: JsonSchema | None = None,
        temperature: float = 0.0,
        seed: int | None = 0,
        max_tokens: int = 512,
        repair: bool = True,
        image_keys: Sequence[str] | None = None,
        reuse: bool = False,
    ) -> CallResult:
        """Generate (or reuse) an answer; with ``schema``, return it parsed and validated.

        Raises InvalidOutput when the answer (and its one repair) fails the schema, and
        TransientBackendError / BackendError when the model cannot be reached or refuses.
        ``image_keys`` (one per image, e.g. ``file-sha256:...`` of an ingested record) replace
        the pixel hashes in the cache key, so a cache hit never decodes the images.
        ``reuse`` answers an identical *seeded* call from the log even at temperature > 0
        (synthesis samples with a fixed seed per task: a resumed run never pays for a call twice).
        """
        cacheable = temperature == 0 or (reuse and seed is not None)
        if image_keys is not None and len(image_keys) != len(images or []):
            raise ValueError("one image key per image")
        hashes = (
            list(image_keys)
            if image_keys is not None
            else [image_hash(image) for image in images or []]
        )
        first = self._one(
            messages, template, images, hashes, schema, temperature, seed, max_tokens, cacheable
        )
        ids = [first[1]]
        if schema is None:
            return CallResult(first[0], None, first[1], first[2], ids)
        parsed, problems = check_output(first[0], schema)
        if not problems:
            if not first[2]:
                self.record_parsed(first[1], parsed)
            return CallResult(first[0], parsed, first[1], first[2], ids)
        if not first[2]:  # a cached row was marked when it was first made
            self._mark(first[1], "invalid", "; ".join(problems))
        if repair:
            retry_messages = repair_messages(messages, first[0], problems, schema)
            second = self._one(
                retry_messages,
                template,
                images,
                hashes,
                schema,
                temperature,
                seed,
                max_tokens,
                cacheable,
            )
            ids.append(second[1])
            parsed, problems = check_output(second[0], schema)
            if not problems:
                if not second[2]:
                    self.record_parsed(second[1], parsed)
                return CallResult(second[0], parsed, second[1], second[2], ids)
            if not second[2]:
                self._mark(second[1], "invalid", "; ".join(problems))
        raise InvalidOutput(
            f"model output does not match the schema: {'; '.join(problems[:3])}",
            raw=first[0] if not repair else second[0],
            source=f"llm_calls {ids}",
            hint="use a stronger model for this role (`medsynth models doctor`), or raise "
            "max_tokens if the JSON was cut off",
        )

    def _one(
        self,
        messages: list[Message],
        template: Template,
        images: Sequence[ImageInput] | None,
        hashes: list[str],
        schema: JsonSchema | None,
        temperature: float,
        seed: int | None,
        max_tokens: int,
        cacheable: bool,
    ) -> tuple[str, int, bool]:
        """One model call (or cache hit): ``(text, call_id, cached)``."""
        params = call_params(temperature, seed, max_tokens, schema)
        key = cache_key(self.model.backend, self.model.model, messages, hashes, params)
        if cacheable:
            hit = self._cached(key)
            if hit is not None:
                self.cache_hits += 1
                return hit[1], hit[0], True
        started = time.perf_counter()
        request = {
            "images": images,
            "schema": schema,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }
        output, error, attempts = self._attempts(messages, request)
        row = self._row(messages, template, key, hashes, params, attempts, started)
        if output is None:
            assert error is not None
            row.update(status="error", error=str(error))
            self._insert(row)
            raise _given_up(error, attempts)
        row.update(
            status="ok",
            raw_output=str(output),
            prompt_tokens=output.prompt_tokens,
            completion_tokens=output.completion_tokens,
        )
        return str(output), self._insert(row), False

    def _cached(self, key: str) -> tuple[int, str] | None:
        """``(call_id, raw_output)`` of the first usable logged call with this key."""
        with self.lock:
            row = self.db.execute(
                "SELECT id, raw_output FROM llm_calls WHERE cache_key = ? AND status IN "
                "('ok', 'invalid') ORDER BY id LIMIT 1",
                [key],
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def _attempts(
        self, messages: list[Message], request: dict[str, Any]
    ) -> tuple[Generation | None, BackendError | None, int]:
        """Call the model, retrying transient failures with doubling backoff:
        ``(output or None, the last error or None, attempts made)``."""
        error: BackendError | None = None
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts = attempt + 1
            try:
                output = self.model.generate(messages, **request)
            except TransientBackendError as exc:
                error = exc
                if attempt < self.retries:
                    self.sleep(self.backoff_s * 2**attempt)
                continue
            except BackendError as exc:
                return None, exc, attempts
            self.model_calls += 1
            return output, None, attempts
        return None, error, attempts

    def _row(
        self,
        messages: list[Message],
        template: Template,
        key: str,
        hashes: list[str],
        params: dict[str, Any],
        attempts: int,
        started: float,
    ) -> dict[str, Any]:
        """The ``llm_calls`` row of a call (its outcome is added by the caller)."""
        return {
            "run_id": self.run_id,
            "role": self.role,
            "backend": self.model.backend,
            "model": self.model.model,
            "template": template.name,
            "template_version": template.version,
            "cache_key": key,
            "prompt_hash": _hash(messages),
            "image_hashes": json.dumps(hashes),
            "params": json.dumps(params, default=str),
            "messages": json.dumps(messages, default=str),
            "attempts": attempts,
            "duration_s": round(time.perf_counter() - started, 4),
            "created_at": utc_now(),
        }

    def _insert(self, row: dict[str, Any]) -> int:
        with self.lock, self.db.conn:
            cursor = self.db.conn.execute(
                f"INSERT INTO llm_calls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        return int(cursor.lastrowid or 0)

    def _mark(self, call_id: int, status: str, error: str) -> None:
        with self.lock, self.db.conn:
            self.db.conn.execute(
                "UPDATE llm_calls SET status = ?, error = ? WHERE id = ?", [status, error, call_id]
            )

    def record_parsed(self, call_id: int, parsed: Any) -> None:
        """Store the parsed output of a call (what the pipeline used)."""
        with self.lock, self.db.conn:
            self.db.conn.execute(
                "UPDATE llm_calls SET parsed_output = ? WHERE id = ?",
                [json.dumps(parsed, ensure_ascii=False), call_id],
            )
