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
from dataclasses import dataclass, field
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


@dataclass
class _Answer:
    """One answer from the model or the log, checked against the call's schema (if any)."""

    text: str
    call_id: int
    cached: bool
    parsed: Any = None
    problems: list[str] = field(default_factory=list)


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
    return _key(backend, model, _hash(messages), hashes, params)


def _key(
    backend: str, model: str, prompt_hash: str, hashes: list[str], params: dict[str, Any]
) -> str:
    """:func:`cache_key` from the messages' hash (``llm_calls.prompt_hash``)."""
    return _hash([backend, model, prompt_hash, hashes, params])


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


def _checked(answer: _Answer, schema: JsonSchema | None) -> _Answer:
    """``answer`` with its output parsed and checked against ``schema`` (when there is one)."""
    if schema is not None:
        answer.parsed, answer.problems = check_output(answer.text, schema)
    return answer


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
        ids = [first.call_id]
        if not first.problems:
            return CallResult(first.text, first.parsed, first.call_id, first.cached, ids)
        assert schema is not None  # only a schema finds problems
        last = first
        if repair:
            retry_messages = repair_messages(messages, first.text, first.problems, schema)
            last = self._one(
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
            ids.append(last.call_id)
            if not last.problems:
                return CallResult(last.text, last.parsed, last.call_id, last.cached, ids)
        raise InvalidOutput(
            f"model output does not match the schema: {'; '.join(last.problems[:3])}",
            raw=last.text,
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
    ) -> _Answer:
        """One model call (or cache hit), checked against ``schema``.

        A call the model answered is logged in one statement, with its verdict (``ok`` and the
        parsed output, or ``invalid`` and the problems): one write per call, and the stage lock
        is held for that statement alone."""
        params = call_params(temperature, seed, max_tokens, schema)
        prompt_hash = _hash(messages)
        key = _key(self.model.backend, self.model.model, prompt_hash, hashes, params)
        if cacheable:
            hit = self._cached(key)
            if hit is not None:
                self.cache_hits += 1
                return _checked(_Answer(hit[1], hit[0], True), schema)
        started = time.perf_counter()
        request = {
            "images": images,
            "schema": schema,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }
        output, error, attempts = self._attempts(messages, request)
        row = self._row(messages, template, key, prompt_hash, hashes, params, attempts, started)
        if output is None:
            assert error is not None
            row.update(status="error", error=str(error))
            self._insert(row)
            raise _given_up(error, attempts)
        answer = _checked(_Answer(str(output), 0, False), schema)
        row.update(
            status="invalid" if answer.problems else "ok",
            raw_output=answer.text,
            prompt_tokens=output.prompt_tokens,
            completion_tokens=output.completion_tokens,
        )
        if answer.problems:
            row["error"] = "; ".join(answer.problems)
        elif schema is not None:
            row["parsed_output"] = json.dumps(answer.parsed, ensure_ascii=False)
        answer.call_id = self._insert(row)
        return answer

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
        prompt_hash: str,
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
            "prompt_hash": prompt_hash,
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

    def record_parsed(self, call_id: int, parsed: Any) -> None:
        """Store the parsed output of a call (what the pipeline used)."""
        encoded = json.dumps(parsed, ensure_ascii=False)
        with self.lock, self.db.conn:
            self.db.conn.execute(
                "UPDATE llm_calls SET parsed_output = ? WHERE id = ?", [encoded, call_id]
            )
