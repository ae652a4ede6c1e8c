"""Prompt templates shipped as package data: ``NAME.jinja`` files with a version header.

The first line of each file is ``{# version: N #}``; the rest is a Jinja2 template whose
``system`` and ``user`` blocks become the chat messages. Formatting prompts is kept apart from
parsing the model's output (see :mod:`medsynth.backends.structured`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from typing import Any

import jinja2

from medsynth.backends.base import Message
from medsynth.backends.calllog import Template

_VERSION = re.compile(r"^\{#\s*version:\s*(\S+)\s*#\}")
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


@lru_cache(maxsize=64)
def _load(name: str) -> tuple[jinja2.Template, str]:
    text = (files("medsynth.prompts") / f"{name}.jinja").read_text(encoding="utf-8")
    match = _VERSION.match(text)
    if not match:
        raise ValueError(f"prompt {name}.jinja lacks its '{{# version: N #}}' first line")
    return _ENV.from_string(text), match.group(1)


def render(name: str, **values: Any) -> tuple[list[Message], Template]:
    """The chat messages of prompt ``name`` filled with ``values``, and its template id."""
    template, version = _load(name)
    messages: list[Message] = []
    for role in ("system", "user"):
        block = template.blocks.get(role)
        if block is not None:
            text = "".join(block(template.new_context(values, shared=False))).strip()
            if text:
                messages.append({"role": role, "content": text})
    return messages, Template(name, version)


_TAG = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)


@lru_cache(maxsize=64)
def fixed_wording(name: str) -> tuple[str, ...]:
    """The fixed text of prompt ``name``: what is left between its Jinja tags, chunk by chunk
    (the quality gate rejects outputs that copy a run of it).

    >>> any("the location, the observations" in c for c in fixed_wording("synth_reasoning"))
    True
    """
    text = (files("medsynth.prompts") / f"{name}.jinja").read_text(encoding="utf-8")
    return tuple(c.strip() for c in _TAG.split(text) if c.strip())
