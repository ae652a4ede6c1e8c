"""``--model``: a role of ``medsynth.toml`` or an inline spec, loaded as a chat model.

Specs (paths relative to the current folder)::

    base_model | generator | vision_generator | verifier     a [models.<role>] section
    llamacpp:embedded   llamacpp:/m/model.gguf[,mmproj=/m/proj.gguf][,chat_handler=...]
    hf:/m/folder[,adapter=/m/adapter][,load_in_4bit=true]
    ollama:TAG[@http://127.0.0.1:11434]     openai:NAME@http://127.0.0.1:8000/v1

The loaded model's name carries a fingerprint of its weights (adapter files hashed, model files
by size and time), so the call cache never answers a retrained adapter with its old outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from medsynth.backends.base import ChatModel, DelegatingModel
from medsynth.backends.registry import CHAT_ROLES, build_chat_model, is_embedded, role_config
from medsynth.config import ChatRole, Config
from medsynth.errors import ConfigError

BACKENDS = ("llamacpp", "hf", "ollama", "openai")
SPEC_HINT = (
    "use a role (base_model, generator, vision_generator, verifier) or a spec: "
    "llamacpp:embedded, llamacpp:/path.gguf, hf:/folder[,adapter=/adapter], "
    "ollama:TAG@http://127.0.0.1:11434, openai:NAME@http://127.0.0.1:8000/v1"
)
_PATH_KEYS = ("adapter", "mmproj")
_URL = re.compile(r"^(?P<name>.*?)@(?P<url>https?://.+)$")


@dataclass(frozen=True)
class ModelChoice:
    """What ``--model`` named: the spec as written, the role it stands for, and that role."""

    spec: str
    role_name: str  # the medsynth.toml role, or "inline"
    role: ChatRole

    @property
    def embedded(self) -> bool:
        """Whether this is the tiny embedded SmolLM2 (text only, poor medically)."""
        return is_embedded(self.role)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with every eval run and chat session)."""
        fields = self.role.model_dump(exclude_defaults=True)
        fields["backend"] = self.role.backend
        fields["model"] = self.role.model
        return {"spec": self.spec, "role": self.role_name, "settings": fields}

    def hosts(self) -> list[str]:
        """Server host names this model talks to (for the network guard)."""
        urls = [self.role.host, *self.role.servers]
        return [urlparse(url).hostname or "" for url in urls if url]


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def parse_model_spec(spec: str, config: Config) -> ModelChoice:
    """The chat role ``spec`` names (a config role, or an inline backend spec)."""
    spec = spec.strip()
    if spec in CHAT_ROLES:
        role = role_config(config, spec)
        if not role.model and role.backend == "hf":
            raise ConfigError(
                f"[models.{spec}] names no model folder",
                source="medsynth.toml",
                hint=f"set [models.{spec}] model = '/path/to/folder', or pass e.g. "
                "--model hf:/path/to/folder or --model llamacpp:embedded",
            )
        return ModelChoice(spec, spec, role)
    if spec == "embedded":
        return ModelChoice(spec, "inline", ChatRole(backend="llamacpp", model="embedded"))
    backend, sep, rest = spec.partition(":")
    if not sep or backend not in BACKENDS or not rest.strip():
        raise ConfigError(f"cannot read model spec {spec!r}", hint=SPEC_HINT)
    head, *options = rest.split(",")
    fields: dict[str, Any] = {"backend": backend}
    if backend in ("ollama", "openai"):
        found = _URL.match(head)
        if found:
            head = found.group("name")
            fields["host"] = found.group("url")
        elif backend == "openai":
            raise ConfigError(
                f"model spec {spec!r} names no server", hint="write openai:NAME@http://HOST:PORT/v1"
            )
    elif head.strip() and not (backend == "llamacpp" and head.strip() == "embedded"):
        head = str(Path(head.strip()).expanduser().resolve())
    fields["model"] = head.strip()
    try:
        for option in options:
            key, eq, value = option.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or not key:
                raise ValueError(f"option {option!r} is not KEY=VALUE")
            if key in _PATH_KEYS:
                value = str(Path(value).expanduser().resolve())
            fields[key] = _flag(value) if key == "load_in_4bit" else value
        role = ChatRole.model_validate(fields)
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"cannot read model spec {spec!r}: {exc}", hint=SPEC_HINT) from exc
    return ModelChoice(spec, "inline", role)


def _stat_print(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def _content_print(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(role: ChatRole) -> str:
    """12 hex digits naming the weights a local role loads ('' for servers): peft adapter files
    are hashed whole (they are small and retrained in place); model files by size and time."""
    parts: list[str] = []
    if role.backend == "hf" and role.model:
        folder = Path(role.model).expanduser()
        files = [p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".json")]
        parts.append(_stat_print(files))
        if role.adapter:
            adapter = Path(role.adapter).expanduser()
            parts.append(_content_print([p for p in adapter.glob("adapter_*") if p.is_file()]))
    elif role.backend == "llamacpp":
        from medsynth.backends.llamacpp import resolve_gguf

        files = [resolve_gguf(role.model)]
        if role.mmproj:
            files.append(Path(role.mmproj).expanduser())
        parts.append(_stat_print([p for p in files if p.is_file()]))
    if not parts:
        return ""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


class FingerprintedModel(DelegatingModel):
    """A chat model whose ``model`` name carries its weights' fingerprint (for the call log);
    everything else is the inner model's."""

    def __init__(self, inner: ChatModel, fingerprint: str) -> None:
        super().__init__(inner)
        self.model = f"{inner.model}#{fingerprint}" if fingerprint else inner.model


def load_model(choice: ModelChoice) -> FingerprintedModel:
    """Load the chosen model (nothing is downloaded)."""
    inner = build_chat_model(choice.role, role_name=choice.role_name)
    return FingerprintedModel(inner, weights_fingerprint(choice.role))


def spec_key(choice: ModelChoice, model: ChatModel) -> str:
    """A stable text naming the model and its settings (part of an eval run's identity)."""
    settings = choice.role.model_dump(exclude={"timeout_s", "retries", "concurrency", "servers"})
    return json.dumps({"model": model.model, "settings": settings}, sort_keys=True)
