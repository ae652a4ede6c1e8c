"""What a real ``ollama serve`` accepts, so the fake server refuses what the real one would.

Checked against Ollama's ``docs/api.md`` and its Go types (``api/types.go``: ``ChatRequest``,
``Message``, ``Options``; ``server/routes.go``: ``ChatHandler``, ``ShowHandler``):

* a message's ``images`` are ``[]byte`` in Go, so JSON carries them as *bare* standard base64;
  a ``data:image/png;base64,...`` URI fails to decode and the request is refused with HTTP 400;
* ``options`` is a map checked field by field (``Options.FromMap``): an integer option given a
  string or a boolean, or a float option given a string, fails (HTTP 500: the error surfaces
  while the runner is scheduled); an unknown option name is only logged and ignored;
* ``format`` is ``"json"`` or a JSON schema object; anything else fails ("invalid format");
* ``keep_alive`` is a number of seconds or a Go duration string (``"5m"``, ``"1h30m"``);
* ``/api/show`` needs ``model`` (or the older ``name``): else HTTP 400 "model is required".

Where the real server *silently ignores* something (an unknown option such as ``max_tokens``,
an unknown top-level key), the fake is stricter on purpose and refuses it with HTTP 400, so a
client that drifts from the API fails a test instead of losing a setting without a word.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

# api.ChatRequest's JSON fields
CHAT_KEYS = {
    "model",
    "messages",
    "stream",
    "format",
    "keep_alive",
    "tools",
    "options",
    "think",
    "truncate",
    "shift",
    "logprobs",
    "top_logprobs",
}
# api.Message's JSON fields
MESSAGE_KEYS = {"role", "content", "thinking", "images", "tool_calls", "tool_name", "tool_call_id"}
ROLES = {"system", "user", "assistant", "tool"}
# api.Options (with api.Runner) by JSON name: the Go kind each must decode to
INT_OPTIONS = {
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "repeat_last_n",
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "draft_num_predict",
}
FLOAT_OPTIONS = {
    "top_p",
    "min_p",
    "typical_p",
    "temperature",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}
BOOL_OPTIONS = {"use_mmap"}
LIST_OPTIONS = {"stop"}
# Go's time.ParseDuration: one or more <number><unit>, optionally signed; "0" alone is allowed
_GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+)$")


@dataclass(frozen=True)
class ApiError(Exception):
    """An error reply: the HTTP status and Ollama's ``{"error": ...}`` text."""

    status: int
    error: str


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_image(image: Any, where: str) -> None:
    if not isinstance(image, str):
        raise ApiError(
            400, f"json: cannot unmarshal {type(image).__name__} into Go value of type []uint8"
        )
    cleaned = image.replace("\r", "").replace("\n", "")  # Go's decoder skips line breaks
    try:
        base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        bad = next(
            (i for i, c in enumerate(cleaned) if not (c.isalnum() or c in "+/=")), len(cleaned)
        )
        raise ApiError(400, f"illegal base64 data at input byte {bad} ({where})") from None


def check_messages(messages: Any) -> int:
    """Check ``messages`` as Go's ``[]api.Message`` decoding would; the number of images."""
    if messages is None:
        return 0
    if not isinstance(messages, list):
        raise ApiError(
            400, "json: cannot unmarshal into Go struct field .messages of type []Message"
        )
    images = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError(400, f"json: messages[{i}] is not an object")
        extra = set(message) - MESSAGE_KEYS
        if extra:
            raise ApiError(400, f"messages[{i}]: unknown fields {sorted(extra)} (strict fake)")
        if message.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}]: role must be one of {sorted(ROLES)}")
        if not isinstance(message.get("content", ""), str):
            raise ApiError(
                400, "json: cannot unmarshal into Go struct field Message.content of type string"
            )
        listed = message.get("images")
        if listed is None:
            continue
        if not isinstance(listed, list):
            raise ApiError(400, f"messages[{i}].images must be a list of base64 strings")
        for j, image in enumerate(listed):
            _check_image(image, f"messages[{i}].images[{j}]")
        images += len(listed)
    return images


def check_options(options: Any) -> None:
    """Check ``options`` as ``Options.FromMap`` does (unknown names refused: strict fake)."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise ApiError(400, "json: cannot unmarshal into Go struct field .options of type map")
    for key, value in options.items():
        if value is None:
            continue
        if key in INT_OPTIONS or key in FLOAT_OPTIONS:
            if not _is_number(value):
                kind = "integer" if key in INT_OPTIONS else "float32"
                raise ApiError(500, f'option "{key}" must be of type {kind}')
        elif key in BOOL_OPTIONS:
            if not isinstance(value, bool):
                raise ApiError(500, f'option "{key}" must be of type boolean')
        elif key in LIST_OPTIONS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(500, f'option "{key}" must be of type array')
        else:
            raise ApiError(
                400, f"unknown option {key!r} (Ollama would ignore it silently; strict fake)"
            )


def check_format(fmt: Any) -> None:
    """``format``: absent, ``"json"`` or a JSON schema object."""
    if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
        return
    raise ApiError(500, f'invalid format: {fmt!r}; expected "json" or a valid JSON Schema object')


def check_keep_alive(value: Any) -> None:
    """``keep_alive``: seconds as a number, or a Go duration string."""
    if value is None or _is_number(value):
        return
    if isinstance(value, str) and _GO_DURATION.match(value):
        return
    if isinstance(value, str):
        raise ApiError(400, f'time: invalid duration "{value}"')
    raise ApiError(400, f"Unsupported type: '{type(value).__name__}'")


def check_chat(body: Any) -> tuple[str, int]:
    """Check an ``/api/chat`` body as JSON binding does (HTTP 400); (the model tag, the number
    of images it carries)."""
    if not isinstance(body, dict):
        raise ApiError(400, "missing request body")
    extra = set(body) - CHAT_KEYS
    if extra:
        raise ApiError(
            400, f"unknown fields {sorted(extra)} (Ollama would ignore them silently; strict fake)"
        )
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required")
    if "stream" in body and not isinstance(body["stream"], bool | None):
        raise ApiError(400, "json: cannot unmarshal into Go struct field .stream of type bool")
    images = check_messages(body.get("messages"))
    check_keep_alive(body.get("keep_alive"))
    if body.get("options") is not None and not isinstance(body["options"], dict):
        raise ApiError(400, "json: cannot unmarshal into Go struct field .options of type map")
    return model, images


def check_run(body: dict[str, Any]) -> None:
    """What the real server checks once the model is found: options, then ``format``."""
    check_options(body.get("options"))
    check_format(body.get("format"))


def check_show(body: Any) -> str:
    """Check an ``/api/show`` body; the model tag (``model``, or the older ``name``)."""
    if not isinstance(body, dict):
        raise ApiError(400, "missing request body")
    tag = body.get("model") or body.get("name")
    if not isinstance(tag, str) or not tag:
        raise ApiError(400, "model is required")
    return tag
