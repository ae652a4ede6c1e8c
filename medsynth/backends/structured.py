"""JSON output: extract, parse and validate against a JSON schema; one repair prompt."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from medsynth.backends.base import JsonSchema, Message

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """The JSON value in ``text``: the whole text, a fenced block, or the first {...} span.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n```')
    {'a': 1}
    >>> extract_json('answer: {"disease": "flu", "organ": "lung"} done')
    {'disease': 'flu', 'organ': 'lung'}
    """
    text = text.strip()
    candidates = [text, *_FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
    raise ValueError(f"not JSON ({error.msg if error else 'empty output'})")


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Draft202012Validator:
    """One compiled validator per schema (building one costs more than validating)."""
    return Draft202012Validator(json.loads(schema_json))


def schema_errors(value: Any, schema: JsonSchema) -> list[str]:
    """Human-readable schema violations of ``value`` (empty when valid).

    >>> schema_errors({"a": 1}, {"type": "object", "required": ["b"]})
    ["$: 'b' is a required property"]
    """
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'$' + ''.join(f'[{p!r}]' for p in err.absolute_path)}: {err.message}"
        for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


def check_output(text: str, schema: JsonSchema) -> tuple[Any, list[str]]:
    """``(parsed, problems)``: problems is empty when ``text`` is schema-valid JSON."""
    try:
        value = extract_json(text)
    except ValueError as exc:
        return None, [str(exc)]
    return value, schema_errors(value, schema)


def repair_messages(
    messages: list[Message], raw: str, problems: list[str], schema: JsonSchema
) -> list[Message]:
    """The conversation plus the invalid answer and a request to fix it (one repair turn)."""
    return [
        *messages,
        {"role": "assistant", "content": raw},
        {
            "role": "user",
            "content": "That reply cannot be used: "
            + "; ".join(problems[:5])
            + ". Reply again with only one JSON object that follows this JSON schema, "
            "and nothing else:\n" + json.dumps(schema),
        },
    ]
