"""Batched greedy generation for transformers models during evaluation.

:class:`BatchedHF` is a chat model: each ``generate`` call (from one of several threads, through
the call log, so cached questions never reach it) waits in a queue; one worker thread takes up
to ``batch_size`` waiting requests, pads them on the left and runs them through ``generate``
together. Whatever cannot be batched (sampling, a failing batch) runs alone. Streamed calls go to
the wrapped model as they are (:class:`~medsynth.backends.base.DelegatingModel`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medsynth.backends.base import (
    BackendError,
    DelegatingModel,
    Generation,
    ImageInput,
    JsonSchema,
    Message,
)


@dataclass
class _Request:
    messages: list[Message]
    images: list[ImageInput]
    max_tokens: int
    done: threading.Event = field(default_factory=threading.Event)
    result: Generation | None = None
    error: BaseException | None = None


class BatchedHF(DelegatingModel):
    """Wraps an :class:`~medsynth.backends.hf.HFChat` (or a model with the same parts): up to
    ``batch_size`` calls run as one batch, so that many are usefully in flight."""

    inner: Any  # the wrapped HFChat: its tokenizer, processor and hf_model are used directly

    def __init__(self, chat: Any, *, batch_size: int = 8, wait_s: float = 0.05) -> None:
        super().__init__(chat)
        self.max_batch = max(1, batch_size)
        self.max_concurrency = max(1, batch_size)
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.batches: list[int] = []  # size of every batch run (for reports and tests)
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

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
        """Greedy answers are batched with other waiting calls; sampling runs alone."""
        if temperature > 0 or self.batch_size <= 1:
            result: Generation = self.inner.generate(
                messages,
                images=images,
                schema=schema,
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens,
            )
            return result
        request = _Request(messages, list(images or []), max_tokens)
        self._ensure_worker()
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._serve, name="medsynth-batch", daemon=True
                )
                self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get(timeout=self.wait_s))
                except queue.Empty:
                    break
            for group in self._groups(batch):
                self._run(group)

    @staticmethod
    def _groups(batch: list[_Request]) -> list[list[_Request]]:
        """Requests with the same token limit and image count go together."""
        groups: dict[tuple[int, int], list[_Request]] = {}
        for request in batch:
            groups.setdefault((request.max_tokens, len(request.images)), []).append(request)
        return list(groups.values())

    def _run(self, group: list[_Request]) -> None:
        try:
            results = self._generate_batch(group) if len(group) > 1 else None
        except (BackendError, RuntimeError, ValueError, TypeError):
            results = None  # fall back to one at a time
        for index, request in enumerate(group):
            try:
                request.result = (
                    results[index]
                    if results is not None
                    else self.inner.generate(
                        request.messages, images=request.images, max_tokens=request.max_tokens
                    )
                )
            except BaseException as exc:
                request.error = exc
            self.batches.append(len(group) if results is not None else 1)
            request.done.set()

    def _generate_batch(self, group: list[_Request]) -> list[Generation]:
        import torch

        chat = self.inner
        conversations = [chat.conversation(r.messages, r.images) for r in group]
        tokenizer = chat.tokenizer
        pad_id = tokenizer.pad_token_id
        if pad_id is None:
            pad_id = tokenizer.eos_token_id
            tokenizer.pad_token_id = pad_id
        side = tokenizer.padding_side
        tokenizer.padding_side = "left"
        try:
            inputs = chat.processor.apply_chat_template(
                conversations,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
                padding=True,
            )
        finally:
            tokenizer.padding_side = side
        inputs = chat.to_device(inputs)
        width = int(inputs["input_ids"].shape[1])
        options = chat.generation_options(0.0, None, group[0].max_tokens, pad_id=pad_id)
        with torch.inference_mode():
            output = chat.hf_model.generate(**inputs, **options)
        prompt_lengths = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, prompt_tokens in zip(output, prompt_lengths, strict=True):
            new = row[width:]
            kept = new[new != pad_id] if pad_id is not None else new
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            results.append(Generation(text, int(prompt_tokens), int(kept.shape[0])))
        return results
