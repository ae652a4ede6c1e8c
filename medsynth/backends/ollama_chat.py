"""Chat through an Ollama server (``ollama serve``) with the official ``ollama`` client.

Ollama runs the model; we send ``/api/chat`` requests (Ollama's ``docs/api.md``). A JSON schema
goes in ``format`` (Ollama constrains decoding to it); images go in the last user message's
``images`` list as PNG bytes, which the client sends as bare base64 (a ``data:`` URI is refused
by the server); temperature, seed, the token limit (``num_predict``) and the context length
(``num_ctx``: without it Ollama uses its own default and silently cuts longer prompts) go in
``options``; ``keep_alive``, when given, goes at the top level. Whether the model reads images
comes from ``/api/show``'s ``capabilities`` (``"vision"``): :attr:`OllamaChat.supports_images`
asks once, so callers fall back to text for a text-only model instead of sending pixels it
refuses. ``stream`` sends ``"stream": true`` and reads Ollama's NDJSON lines; the last one
(``done: true``) carries the token counts. ``timeout_s`` bounds every wait for the server
(connecting, and each read of a streamed reply).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from medsynth.backends.base import (
    SERVER_CONCURRENCY,
    BackendError,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
    Response,
    TransientBackendError,
    Usage,
    image_png_bytes,
)

if TYPE_CHECKING:
    import ollama

DEFAULT_HOST = "http://127.0.0.1:11434"
PROBE_S = 10.0  # longest wait for /api/show when asking what the model can do

T = TypeVar("T")


# what Ollama answers (HTTP 500) when a model without a vision projector is sent images:
# older runners, the llama-server runner, the new engine
NO_VISION_ERRORS = ("missing data required for image input", "image input is not supported")


class OllamaChat:
    """A model served by Ollama, named by its tag (``qwen2.5vl:7b``)."""

    backend = "ollama"
    supports_schema = True
    max_concurrency = SERVER_CONCURRENCY  # the server queues (OLLAMA_NUM_PARALLEL) what it gets
    max_batch = 1

    def __init__(
        self,
        model: str,
        *,
        host: str = "",
        timeout_s: float = 180.0,
        num_ctx: int | None = None,
        keep_alive: float | str | None = None,
    ) -> None:
        import ollama

        self.model = model
        self.host = host or DEFAULT_HOST
        self.timeout_s = timeout_s
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        self._vision: bool | None = None  # from /api/show, asked once
        # the client for that question, made when first asked, with a short timeout
        self._probe: ollama.Client | None = None

    @property
    def supports_images(self) -> bool:
        """Whether the model reads images: ``"vision"`` in ``/api/show``'s ``capabilities``.
        Asked once; when the server cannot say (unreachable, or too old to list
        capabilities) the images are sent and the server decides."""
        if self._vision is None:
            try:
                capabilities = self.capabilities()
            except BackendError:
                return True  # not cached: the next call asks again
            self._vision = True if capabilities is None else "vision" in capabilities
        return self._vision

    @supports_images.setter
    def supports_images(self, value: bool) -> None:
        self._vision = value

    def capabilities(self, tag: str | None = None) -> list[str] | None:
        """``/api/show``'s ``capabilities`` of ``tag`` (this model by default); None when the
        server does not report them (an older Ollama)."""
        tag = tag or self.model
        if self._probe is None:  # a short wait: asked where a caller decides what to send
            import ollama

            self._probe = ollama.Client(host=self.host, timeout=min(self.timeout_s, PROBE_S))
        probe = self._probe
        info = self._call(lambda: probe.show(tag), tag=tag)
        listed = getattr(info, "capabilities", None)
        return None if listed is None else [str(c) for c in listed]

    def _refuse_blind_images(self, images: Sequence[ImageInput]) -> None:
        if images and not self.supports_images:
            raise BackendError(
                f"Ollama model {self.model!r} cannot read images (no 'vision' in its capabilities)",
                hint=_vision_hint(self.model),
                source=self.host,
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
        """One non-streaming ``/api/chat`` call; the reply text with Ollama's token counts."""
        self._refuse_blind_images(images or ())
        payload = _with_images(messages, images or ())
        options = _options(temperature, seed, max_tokens, self.num_ctx)
        response = self._call(
            lambda: self._client.chat(
                model=self.model,
                messages=payload,
                format=schema or None,
                options=options,
                stream=False,
                keep_alive=self.keep_alive,
            )
        )
        return Generation(
            response.message.content or "", response.prompt_eval_count, response.eval_count
        )

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """One streaming ``/api/chat`` call (NDJSON): the pieces as they come, then the counts
        of Ollama's final ``done`` line."""
        self._refuse_blind_images(images or ())
        payload = _with_images(messages, images or ())
        options = _options(temperature, seed, max_tokens, self.num_ctx)
        return Response(self._pieces(payload, options))

    def _pieces(
        self, payload: list[Message], options: dict[str, Any]
    ) -> Generator[str, None, Usage]:
        usage = Usage()
        with self._errors():
            parts = self._client.chat(
                model=self.model,
                messages=payload,
                options=options,
                stream=True,
                keep_alive=self.keep_alive,
            )
            try:
                for part in parts:
                    if part.message.content:
                        yield part.message.content
                    if part.done:
                        usage = Usage(part.prompt_eval_count, part.eval_count)
            finally:  # a reply closed early: drop the connection now
                close = getattr(parts, "close", None)
                if callable(close):
                    close()
        return usage

    def list_models(self) -> list[str]:
        """Tags of the models this Ollama server has pulled."""
        listing = self._call(self._client.list)
        return [m.model for m in listing.models if m.model]

    def show(self, tag: str | None = None) -> dict[str, Any]:
        """Size, format, context length and capabilities of a pulled model (for ``medsynth
        models doctor``); ``capabilities`` is None when the server does not report them."""
        tag = tag or self.model
        info = self._call(lambda: self._client.show(tag), tag=tag)
        listing = self._call(self._client.list)
        size = next((m.size for m in listing.models if m.model == tag), None)
        details = info.details.model_dump(exclude_none=True) if info.details else {}
        model_info = dict(info.modelinfo or {})
        arch = model_info.get("general.architecture")
        context = model_info.get(f"{arch}.context_length") if arch else None
        listed = getattr(info, "capabilities", None)
        return {
            "model": tag,
            "size_bytes": int(size) if size is not None else None,
            "format": details.get("format"),
            "family": details.get("family"),
            "parameter_size": details.get("parameter_size"),
            "quantization_level": details.get("quantization_level"),
            "context_length": int(context) if isinstance(context, int | float) else None,
            "capabilities": None if listed is None else [str(c) for c in listed],
        }

    def _call(self, fn: Callable[[], T], *, tag: str | None = None) -> T:
        """Run a client call, turning client and transport errors into backend errors."""
        with self._errors(tag):
            return fn()

    @contextmanager
    def _errors(self, tag: str | None = None) -> Iterator[None]:
        """Client and transport errors inside the block become backend errors."""
        import httpx
        import ollama

        tag = tag or self.model
        running = f"is `ollama serve` running at {self.host}? check with `medsynth models doctor`"
        try:
            yield
        except ollama.ResponseError as exc:
            status, error = exc.status_code, str(exc.error)
            if status == 404 and "model" in error.lower():
                raise BackendError(
                    f"Ollama has no model {tag!r} ({error})",
                    hint=f"run `ollama pull {tag}` on a connected machine and copy "
                    "~/.ollama/models here, or set the role's `model` in medsynth.toml to a "
                    "tag that `ollama list` shows",
                    source=self.host,
                ) from exc
            if any(text in error for text in NO_VISION_ERRORS):
                raise BackendError(
                    f"Ollama model {tag!r} cannot read images ({error})",
                    hint=_vision_hint(tag),
                    source=self.host,
                ) from exc
            if status >= 500 or status in (408, 429):
                raise TransientBackendError(
                    f"Ollama failed (HTTP {status}): {error}",
                    hint=f"read the log of `ollama serve` at {self.host} (out of memory? a "
                    "broken model file?); check with `medsynth models doctor`",
                    source=self.host,
                ) from exc
            raise BackendError(
                f"Ollama refused the request (HTTP {status}): {error}",
                hint=f"check that {self.host} is an Ollama server and the model tag is right; "
                "check with `medsynth models doctor`",
                source=self.host,
            ) from exc
        except httpx.TimeoutException as exc:
            raise TransientBackendError(
                f"Ollama did not answer within {self.timeout_s:g} s",
                hint=f"{running} A first call loads the model: raise timeout_s if it is slow",
                source=self.host,
            ) from exc
        except ConnectionError as exc:
            # the client turns httpx.ConnectError into a builtin ConnectionError with a
            # generic "please download Ollama" text: replace it
            raise TransientBackendError(
                "cannot connect to Ollama (connection refused or host unreachable)",
                hint=running,
                source=self.host,
            ) from exc
        except httpx.TransportError as exc:
            raise TransientBackendError(
                f"the connection to Ollama failed: {exc!r}", hint=running, source=self.host
            ) from exc
        except ollama.RequestError as exc:
            raise BackendError(f"bad request for Ollama: {exc.error}", source=self.host) from exc


def _vision_hint(tag: str) -> str:
    return (
        f"use a vision model for this role (`medsynth models use ollama:qwen2.5vl:7b --roles "
        f"vision_generator`, after `ollama pull qwen2.5vl:7b` on a connected machine), or keep "
        f"{tag} for the text-only roles; `medsynth models doctor` shows each role's capabilities"
    )


def _options(
    temperature: float, seed: int | None, max_tokens: int, num_ctx: int | None = None
) -> dict[str, Any]:
    """Ollama's ``options`` (names and types of its ``Options``): temperature, token limit
    (``num_predict``), context length (``num_ctx``) and the seed, when given."""
    options: dict[str, Any] = {"temperature": float(temperature), "num_predict": int(max_tokens)}
    if seed is not None:
        options["seed"] = int(seed)
    if num_ctx is not None:
        options["num_ctx"] = int(num_ctx)
    return options


def _with_images(messages: list[Message], images: Sequence[ImageInput]) -> list[Message]:
    """Copies of ``messages``; the images, as PNG bytes (which the client sends as bare
    base64), join the last user message."""
    result = [{**m, "content": str(m.get("content", ""))} for m in messages]
    if not images:
        return result
    for message in reversed(result):
        if message["role"] == "user":
            encoded = [image_png_bytes(image) for image in images]
            message["images"] = [*message.get("images", []), *encoded]
            return result
    raise BackendError(
        "images were given but no user message carries them",
        hint="put the question in a user message",
    )
