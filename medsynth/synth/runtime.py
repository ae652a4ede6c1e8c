"""What generators share during a run: the logged model roles, options, one database lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from medsynth.backends.base import ChatModel, JsonSchema, Message
from medsynth.backends.calllog import CallLog, CallResult, Template
from medsynth.backends.openai_compat import ServerPool
from medsynth.backends.registry import role_retries
from medsynth.config import SynthConfig
from medsynth.stage import Stage
from medsynth.synth.model import Draft, Later, RecordContext, Task
from medsynth.workspace import Workspace


def spare_workers(models: Mapping[str, ChatModel], concurrency: int) -> int:
    """Workers beyond ``concurrency`` when every model is a server pool, which holds its own
    calls in flight to its slots: a spare worker has its next request ready (prompt written,
    call log looked up) and sends it the moment a slot frees, while the worker whose call just
    came back writes it down. The servers never get more calls at once than they were given.

    >>> spare_workers({}, 64), spare_workers({"generator": object()}, 64)  # type: ignore[dict-item]
    (0, 0)
    """
    if concurrency <= 1 or not models:
        return 0
    if not all(isinstance(model, ServerPool) for model in models.values()):
        return 0
    return max(2, concurrency // 4)


class Runtime:
    """Model roles behind call logs (one lock for the connection), and the synthesis options."""

    def __init__(
        self,
        ws: Workspace,
        run_id: int | None,
        options: SynthConfig,
        models: Mapping[str, ChatModel],
    ) -> None:
        self.ws = ws
        self.db = ws.db
        self.options = options
        self.run_id = run_id
        workers = options.concurrency + spare_workers(models, options.concurrency)
        self.stage = Stage(ws.db, run_id, concurrency=workers)
        self.lock = self.stage.lock  # one lock for every use of the connection
        for role, model in models.items():
            self.stage.log(role, model, retries=role_retries(ws.config, role))
        self.logs: dict[str, CallLog] = self.stage.logs
        self.state: dict[str, Any] = {}  # per-generator caches (indexes, encoders)

    def sees_images(self, role: str) -> bool:
        """Whether the role's model is sent images."""
        return bool(getattr(self.logs[role].model, "supports_images", False))

    def model_name(self, role: str) -> str:
        """``backend:model`` of a role, file paths shortened to their name."""
        model = self.logs[role].model
        return f"{model.backend}:{Path(str(model.model)).name}"

    def call(
        self,
        role: str,
        messages: list[Message],
        template: Template,
        *,
        seed: int,
        schema: JsonSchema,
        ctx: RecordContext | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        extra_images: Sequence[tuple[Path, str]] = (),
    ) -> CallResult:
        """A schema-checked, logged call; the record's images go along when the role sees them,
        followed by ``extra_images`` ((file, call-log key) pairs: a region's crop).

        Seeded calls are reused from the log on a re-run, whatever the temperature.
        """
        images: list[Path] | None = None
        keys: list[str] | None = None
        if ctx is not None and self.sees_images(role) and ctx.images:
            images = list(ctx.image_paths())
            if len(ctx.image_sha256) == len(images) and all(ctx.image_sha256):
                keys = [f"file-sha256:{h}" for h in ctx.image_sha256]
            if extra_images:
                images += [path for path, _ in extra_images]
                keys = None if keys is None else keys + [key for _, key in extra_images]
        return self.logs[role].call(
            messages,
            template=template,
            images=images,
            image_keys=keys,
            schema=schema,
            temperature=self.options.temperature if temperature is None else temperature,
            seed=seed,
            max_tokens=max_tokens or self.options.max_tokens,
            reuse=True,
        )

    def provenance(self, draft: Draft, role: str, template: Template, result: CallResult) -> Draft:
        """Stamp a draft with the template, model and calls that made it."""
        draft.template, draft.template_version = template.name, template.version
        draft.model = self.model_name(role)
        draft.call_ids = [*draft.call_ids, *result.call_ids]
        return draft


class Generator(Protocol):
    """A sample generator: plans tasks per record (main thread, may read the database under
    ``rt.lock``), then runs each task (any thread, model calls only). A task with a second,
    dependent call returns :class:`Later` from ``run``: the runner schedules the rest."""

    name: str
    roles: tuple[str, ...]

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]: ...

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft] | Later: ...
