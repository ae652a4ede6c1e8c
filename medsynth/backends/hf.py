"""Chat with a local transformers model folder (vision-language or text-only), optionally with a
peft adapter on top and 4-bit weights on CUDA.

Nothing is fetched: every ``from_pretrained`` call passes ``local_files_only=True``. Output is
free text (``supports_schema`` is False): callers validate JSON themselves
(:mod:`medsynth.backends.structured`).
"""

from __future__ import annotations

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
    load_image,
)
from medsynth.backends.encoders import quiet_model_loading
from medsynth.errors import ConfigError

FOLDER_HINT = (
    "copy the whole model folder (config.json, *.safetensors, tokenizer and processor files) "
    "here from a connected machine (`huggingface-cli download ORG/NAME --local-dir DIR`), "
    "or build the tiny test models with `just tiny-models`; `medsynth models doctor` checks it"
)


def is_vision_config(config: Any) -> bool:
    """True when transformers maps this config to an image-text-to-text model."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def as_parts(content: Any) -> list[dict[str, Any]]:
    """Message content as a list of typed parts (what multimodal chat templates expect)."""
    if isinstance(content, list):
        return [dict(part) for part in content]
    return [{"type": "text", "text": str(content)}]


class HFChat:
    """A transformers chat model loaded from a local folder."""

    backend = "hf"
    supports_schema = False
    max_concurrency = 1  # one generate at a time on this process's model
    max_batch = 1  # eval's batching wrapper (medsynth.eval.batching) batches calls

    def __init__(
        self,
        folder: Path,
        *,
        adapter: Path | None = None,
        load_in_4bit: bool = False,
        device: str | None = None,
    ) -> None:
        folder = Path(folder).expanduser()
        if not (folder / "config.json").is_file():
            raise ConfigError(
                "no transformers model folder here (config.json is missing)",
                source=str(folder),
                hint=FOLDER_HINT,
            )
        if adapter is not None:
            adapter = Path(adapter).expanduser()
            if not (adapter / "adapter_config.json").is_file():
                raise ConfigError(
                    "no peft adapter here (adapter_config.json is missing)",
                    source=str(adapter),
                    hint="point `adapter` at a folder written by `medsynth train` "
                    "(or peft's save_pretrained), or leave it empty",
                )
        quiet_model_loading()
        import torch
        from transformers import AutoConfig

        self.folder = folder
        self.adapter = adapter
        self.model = str(folder) if adapter is None else f"{folder}+{adapter}"
        self.notes: list[str] = []
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        self.supports_images = is_vision_config(config)

        kwargs: dict[str, Any] = {"local_files_only": True}
        # bf16 on a GPU (also the 4-bit compute dtype), float32 on the CPU
        self.dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        self.quantised = False
        if load_in_4bit and self.device.startswith("cuda") and torch.cuda.is_available():
            kwargs["quantization_config"] = self._nf4_config()
            kwargs["device_map"] = {"": self.device}
            self.quantised = True
        else:
            if load_in_4bit:
                self.notes.append(
                    "load_in_4bit needs a CUDA GPU; loaded full-precision weights on "
                    f"{self.device} instead"
                )
            kwargs["dtype"] = self.dtype

        self.hf_model: Any
        if self.supports_images:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.processor: Any = AutoProcessor.from_pretrained(folder, local_files_only=True)
            self.tokenizer: Any = self.processor.tokenizer
            self.hf_model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.processor = self.tokenizer
            self.hf_model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        if not self.quantised:
            self.hf_model.to(self.device)
        if adapter is not None:
            from peft import PeftModel

            self.hf_model = PeftModel.from_pretrained(self.hf_model, str(adapter))
        self.hf_model.eval()

    @staticmethod
    def _nf4_config() -> Any:
        """bitsandbytes NF4 with double quantisation and bf16 compute."""
        import torch
        from transformers import BitsAndBytesConfig

        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "load_in_4bit needs the bitsandbytes package",
                hint="pip install bitsandbytes, or set load_in_4bit = false",
            ) from exc
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )

    def conversation(
        self, messages: list[Message], images: Sequence[ImageInput]
    ) -> list[dict[str, Any]]:
        """Messages in the processor's format; images join the last user turn, before its text."""
        if not self.supports_images:
            if images:
                raise BackendError(
                    "this model reads text only but images were given",
                    source=self.model,
                    hint="use an image-text-to-text model folder for vision prompts",
                )
            return [{"role": m["role"], "content": str(m["content"])} for m in messages]
        result = [{"role": m["role"], "content": as_parts(m["content"])} for m in messages]
        if not images:
            return result
        for message in reversed(result):
            if message["role"] == "user":
                pictures = [{"type": "image", "image": load_image(i)} for i in images]
                message["content"] = pictures + message["content"]
                return result
        raise BackendError(
            "images were given but no user message carries them",
            hint="put the question in a user message",
        )

    def prompt_inputs(self, conversation: list[dict[str, Any]]) -> Any:
        """Token ids (and pixels) of the prompt on the model's device, ready for ``generate``."""
        if getattr(self.processor, "chat_template", None) is None and not getattr(
            self.tokenizer, "chat_template", None
        ):
            raise BackendError(
                "the model folder has no chat template",
                source=str(self.folder),
                hint="use an instruction-tuned model folder (with chat_template.jinja or a "
                "chat_template entry in tokenizer_config.json)",
            )
        inputs = self.processor.apply_chat_template(
            conversation,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        return self.to_device(inputs)

    def to_device(self, inputs: Any) -> Any:
        """Prompt tensors on the model's device: pixels in the model's dtype, ids as integers."""
        if self.supports_images:
            return inputs.to(self.hf_model.device, dtype=self.dtype)
        return inputs.to(self.hf_model.device)

    def generation_options(
        self, temperature: float, seed: int | None, max_tokens: int, pad_id: int | None = None
    ) -> dict[str, Any]:
        """``generate`` keyword arguments: greedy when ``temperature`` is 0, else seeded
        sampling (the seed is applied here); the pad token when the tokenizer has one."""
        options: dict[str, Any] = {"max_new_tokens": max_tokens}
        if temperature > 0:
            import torch

            options.update(do_sample=True, temperature=temperature)
            if seed is not None:
                torch.manual_seed(seed)
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        pad = self.tokenizer.pad_token_id if pad_id is None else pad_id
        if pad is not None:
            options["pad_token_id"] = pad
        return options

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
        """Greedy when ``temperature`` is 0, else seeded sampling; only new tokens are decoded.

        ``schema`` is not enforced here (no constrained decoding): the caller validates.
        """
        import torch

        inputs = self.prompt_inputs(self.conversation(messages, list(images or [])))
        prompt_tokens = int(inputs["input_ids"].shape[1])
        options = self.generation_options(temperature, seed, max_tokens)
        try:
            with torch.inference_mode():
                output = self.hf_model.generate(**inputs, **options)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"generation failed: {exc}", source=self.model) from exc
        new_tokens = output[0, prompt_tokens:]
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
        return Generation(text, prompt_tokens, int(new_tokens.shape[0]))

    def stream(
        self,
        messages: list[Message],
        *,
        images: Sequence[ImageInput] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 512,
    ) -> Response:
        """The reply in pieces as they are generated (transformers' ``TextIteratorStreamer``;
        generation runs on a helper thread); the token counts once it ends."""
        inputs = self.prompt_inputs(self.conversation(messages, list(images or [])))
        return Response(self._pieces(inputs, temperature, seed, max_tokens))

    def _pieces(
        self, inputs: Any, temperature: float, seed: int | None, max_tokens: int
    ) -> Generator[str, None, Usage]:
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        options = self.generation_options(temperature, seed, max_tokens) | {"streamer": streamer}
        failure: list[BaseException] = []
        outputs: list[Any] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    outputs.append(self.hf_model.generate(**inputs, **options))
            except BaseException as exc:  # reported below, after the streamer is released
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="medsynth-chat-generate", daemon=True)
        thread.start()
        yield from streamer
        thread.join()
        if failure:
            raise BackendError(f"generation failed: {failure[0]}", source=self.model)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        return Usage(prompt_tokens, int(outputs[0].shape[1]) - prompt_tokens)
