"""Build the model a role in ``medsynth.toml`` names (heavy libraries load only here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from medsynth.backends.base import ChatModel
from medsynth.backends.calllog import DEFAULT_RETRIES
from medsynth.config import ChatRole, Config
from medsynth.errors import ConfigError

ChatRoleName = Literal["generator", "vision_generator", "verifier", "base_model"]
CHAT_ROLES: tuple[ChatRoleName, ...] = ("generator", "vision_generator", "verifier", "base_model")
DEFAULT_OLLAMA = "http://127.0.0.1:11434"


def role_config(config: Config, role: ChatRoleName) -> ChatRole:
    """The ``[models.<role>]`` section."""
    section: ChatRole = getattr(config.models, role)
    return section


def role_retries(config: Config, role: str) -> int:
    """``[models.<role>] retries`` of a chat role (the default for names that are no role)."""
    if role in CHAT_ROLES:
        return role_config(config, role).retries
    return DEFAULT_RETRIES


def build_chat_model(role: ChatRole, *, role_name: str = "") -> ChatModel:
    """A chat model for ``role`` (nothing is downloaded: files, folders or named servers only)."""
    where = f"medsynth.toml [models.{role_name or '?'}]"
    if role.backend == "llamacpp":
        from medsynth.backends.llamacpp import load_llamacpp, resolve_gguf

        return load_llamacpp(
            resolve_gguf(role.model),
            n_ctx=role.context,
            mmproj=Path(role.mmproj).expanduser() if role.mmproj else None,
            chat_handler=role.chat_handler,
        )
    if role.backend == "ollama":
        from medsynth.backends.ollama_chat import OllamaChat

        return OllamaChat(
            role.model,
            host=role.host or DEFAULT_OLLAMA,
            timeout_s=role.timeout_s,
            num_ctx=role.context,
        )
    if role.backend == "openai":
        from medsynth.backends.openai_compat import OpenAIChat, ServerPool

        urls = role.servers or ([role.host] if role.host else [])
        if not urls:
            raise ConfigError(
                "no server URL for the openai backend",
                source=where,
                hint="set host = 'http://127.0.0.1:8000/v1' (or servers = [...])",
            )
        servers = [OpenAIChat(role.model, url, timeout_s=role.timeout_s) for url in urls]
        if len(servers) == 1 and role.concurrency == 1:
            return servers[0]
        return ServerPool(servers, concurrency=role.concurrency)
    if role.backend == "hf":
        from medsynth.backends.hf import HFChat

        return HFChat(
            Path(role.model).expanduser(),
            adapter=Path(role.adapter).expanduser() if role.adapter else None,
            load_in_4bit=role.load_in_4bit,
        )
    raise ConfigError(
        f"unknown backend {role.backend!r}", source=where, hint="use llamacpp, ollama, openai or hf"
    )


def chat_model(config: Config, role: ChatRoleName) -> ChatModel:
    """The chat model of one role."""
    return build_chat_model(role_config(config, role), role_name=role)


def is_embedded(role: ChatRole) -> bool:
    """Whether the role uses the tiny embedded SmolLM2 (fine for pipelines, poor medically)."""
    return role.backend == "llamacpp" and role.model in ("", "embedded")


EMBEDDED_WARNING = (
    "the embedded SmolLM2-135M model runs the whole pipeline on any CPU, but its medical content "
    "is poor: point [models.generator] / [models.vision_generator] / [models.verifier] at a "
    "stronger local model for real data (`medsynth models doctor` shows how)"
)
