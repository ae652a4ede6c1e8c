"""``medsynth eval``: ask a model every selected question, store each prediction, score the run.

An eval run is identified by everything that defines it (question file, split, language, answer
type, limit, model and weights, prompt template and version, token limit, think prompt): the
same command again resumes it, asking only the questions without a stored prediction, and every
model call goes through the call log (temperature 0, so a repeated call is answered from it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.backends.base import ChatModel, concurrency_of
from medsynth.backends.calllog import CallLog, CallResult, Template
from medsynth.config import ChatRole
from medsynth.errors import InputError
from medsynth.eval import queries as data
from medsynth.eval.ablation import Ablated
from medsynth.eval.loaders import AnswerType, EvalQuestion, EvalSet, load_eval_set
from medsynth.eval.metrics import prediction_row, summarize
from medsynth.eval.models import (
    FingerprintedModel,
    ModelChoice,
    load_model,
    parse_model_spec,
    spec_key,
)
from medsynth.files import sha256_file
from medsynth.prompts import render
from medsynth.stage import Stage, recoverable
from medsynth.store.runs import RunRecorder, record_reject, run_status
from medsynth.workspace import Workspace


def predictions(ws: Workspace, eval_run_id: int) -> list[dict[str, Any]]:
    """Stored predictions of one eval run, by question id (:func:`queries.predictions`)."""
    return data.predictions(ws.db, eval_run_id)


TEMPLATE = "eval_vqa"
Progress = Callable[[int, int], Any]
TEXT_ONLY_WARNING = (
    "this model reads text only: the images were NOT seen, so every answer is a guess from "
    "the question alone"
)
EMBEDDED_NOTE = (
    "the embedded SmolLM2-135M is a pipeline smoke test, not a medical model: expect scores "
    "near chance"
)


@dataclass
class EvalRequest:
    """What to evaluate (the options of ``medsynth eval``)."""

    dataset: str
    path: Path
    model: str = "base_model"
    split: str = "test"
    language: str = "en"
    answer_type: AnswerType = "all"
    limit: int | None = None
    name: str = ""
    max_tokens: int | None = None
    think: bool = False
    batch_size: int | None = None
    image_ablation: str = ""  # "" | blank | shuffled | noise (medsynth.eval.ablation)
    choices: bool = False  # closed questions put as multiple choice (PubMedVision's way)


def _batched(model: FingerprintedModel, batch_size: int) -> FingerprintedModel:
    """Transformers models get the batching wrapper (greedy calls are padded together)."""
    from medsynth.eval.batching import BatchedHF

    if model.backend != "hf" or batch_size <= 1 or not hasattr(model.inner, "hf_model"):
        return model
    batched = BatchedHF(model.inner, batch_size=batch_size)
    wrapped = FingerprintedModel(batched, "")
    wrapped.model = model.model
    return wrapped


def _run_key(evalset: EvalSet, request: EvalRequest, model_key: str, template: Template) -> str:
    data = {
        "dataset": evalset.dataset,
        "file": str(evalset.file),
        "split": evalset.split,
        "language": evalset.language,
        "answer_type": request.answer_type,
        "limit": request.limit,
        "model": model_key,
        "template": [template.name, template.version],
        "max_tokens": request.max_tokens,
        "think": request.think,
    }
    if request.image_ablation:  # only when set: the keys of earlier runs stay as they were
        data["image_ablation"] = request.image_ablation
    if request.choices:
        data["choices"] = True
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class _Asker:
    """Asks one question through the call log (any thread)."""

    def __init__(
        self,
        log: CallLog,
        evalset: EvalSet,
        template: Template,
        *,
        with_image: bool,
        think: bool,
        max_tokens: int,
        ablation: Ablated | None = None,
    ) -> None:
        self.ablation = ablation
        self.log = log
        self.evalset = evalset
        self.template = template
        self.with_image = with_image
        self.think = think
        self.max_tokens = max_tokens
        self._hashes: dict[Path, str] = {}

    def _image(self, question: EvalQuestion) -> tuple[Path, str]:
        path = self.evalset.image_path(question)
        if path not in self._hashes:
            if not path.is_file():
                raise InputError(
                    "missing image",
                    source=question.image,
                    hint=f"expected under {self.evalset.root}",
                )
            self._hashes[path] = f"file-sha256:{sha256_file(path)}"
        return path, self._hashes[path]

    def __call__(self, question: EvalQuestion) -> CallResult:
        messages, _ = render(
            TEMPLATE,
            question=question.question,
            with_image=self.with_image,
            think=self.think,
            choices=question.choices,
        )
        images, keys = None, None
        if self.with_image:
            path, key = self._image(question)
            if self.ablation is not None:
                path, key = self.ablation.instead_of(path, question.qid)
            images, keys = [path], [key]
        return self.log.call(
            messages,
            template=self.template,
            images=images,
            image_keys=keys,
            temperature=0.0,
            seed=0,
            max_tokens=self.max_tokens,
        )


def _run_fields(
    evalset: EvalSet,
    request: EvalRequest,
    choice: ModelChoice,
    model: ChatModel,
    template: Template,
    options: dict[str, Any],
    run_id: int | None,
) -> dict[str, Any]:
    """What a new ``eval_runs`` row records about the run."""
    return {
        "dataset": evalset.dataset,
        "data_file": str(evalset.file),
        "split": evalset.split,
        "language": evalset.language,
        "answer_type": request.answer_type,
        "max_questions": request.limit,
        "model_spec": json.dumps(choice.as_dict(), sort_keys=True),
        "backend": model.backend,
        "model": model.model,
        "images_seen": int(model.supports_images),
        "template": template.name,
        "template_version": template.version,
        "options": json.dumps(options, sort_keys=True),
        "questions": len(evalset.questions),
        "run_id": run_id,
    }


def _ask_all(
    ws: Workspace,
    stage: Stage,
    eval_run_id: int,
    evalset: EvalSet,
    pending: list[EvalQuestion],
    asker: _Asker,
    progress: Progress | None,
) -> tuple[list[dict[str, str]], int]:
    """Ask the pending questions, storing each prediction as it comes; a question the model
    or its image fails is skipped (and a reject); an unreachable server stops the run, once
    the answers already on their way are stored."""
    skipped: list[dict[str, str]] = []
    finished = 0

    def store(question: EvalQuestion, result: CallResult) -> None:
        with stage.lock:
            row = prediction_row(
                eval_run_id, question, result.text, result.call_id, result.cached, stage.run_id
            )
            data.add_prediction(ws.db, row)

    def fail(question: EvalQuestion, error: BaseException) -> None:
        reason = getattr(error, "message", str(error))
        skipped.append({"qid": question.qid, "reason": reason})
        with stage.lock:
            record_reject(
                ws.db,
                stage="eval",
                source=f"{evalset.file.name} qid {question.qid}",
                raw=question.question,
                reason=reason,
                run_id=stage.run_id,
            )

    def after(_question: EvalQuestion) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(finished, len(pending))

    def skippable(error: BaseException) -> bool:  # an unreadable image too
        return recoverable(error) or isinstance(error, OSError)

    stage.run(pending, asker, store=store, fail=fail, is_recoverable=skippable, after=after)
    return skipped, finished


@dataclass
class _Plan:
    """An eval run made ready: the questions, the model, the prompt and the run's key."""

    evalset: EvalSet
    choice: ModelChoice
    model: ChatModel
    template: Template
    key: str
    options: dict[str, Any]
    warnings: list[str]


def _plan(ws: Workspace, request: EvalRequest, model: ChatModel | None) -> _Plan:
    """Load the questions and the model; the run's key says what defines it."""
    cfg = ws.config.eval
    request.max_tokens = request.max_tokens or cfg.max_tokens
    batch_size = request.batch_size or cfg.batch_size
    evalset = load_eval_set(
        request.dataset,
        request.path,
        split=request.split,
        language=request.language,
        answer_type=request.answer_type,
        limit=request.limit,
        image_cache=ws.path("cache") / "eval-images",
    )
    if request.choices:
        from medsynth.eval.choice_sets import as_choices

        evalset.questions = as_choices(evalset.questions)
    if not evalset.questions:
        raise InputError(
            "no questions selected",
            source=str(evalset.file),
            hint="check --split, --language and --answer-type",
        )
    if model is None:
        choice = parse_model_spec(request.model, ws.config)
        loaded: ChatModel = _batched(load_model(choice), batch_size)
    else:
        choice = ModelChoice(request.model or model.model, "given", ChatRole())
        loaded = model
    with_image = bool(loaded.supports_images)
    if request.image_ablation and not with_image:
        raise InputError(
            f"--image-ablation {request.image_ablation} needs a model that sees images",
            source=choice.spec,
            hint="pick a vision model (an mmproj, a VLM folder or server), or drop the option",
        )
    _, template = render(TEMPLATE, question="", with_image=with_image, think=request.think)
    warnings = [] if with_image else [TEXT_ONLY_WARNING]
    if choice.embedded and model is None:
        warnings.append(EMBEDDED_NOTE)
    return _Plan(
        evalset,
        choice,
        loaded,
        template,
        _run_key(evalset, request, spec_key(choice, loaded), template),
        {
            "max_tokens": request.max_tokens,
            "think": request.think,
            "batch_size": batch_size,
            "image_ablation": request.image_ablation,
            "choices": request.choices,
        },
        warnings,
    )


def run_eval(
    ws: Workspace,
    request: EvalRequest,
    *,
    progress: Progress | None = None,
    model: ChatModel | None = None,
) -> dict[str, Any]:
    """Evaluate (or resume); returns the run's summary with its metrics.

    ``model`` replaces loading ``request.model`` (tests pass scripted models this way).
    """
    started = time.perf_counter()
    plan = _plan(ws, request, model)
    evalset, loaded = plan.evalset, plan.model
    config = {"request": {**request.__dict__, "path": str(request.path)}, "key": plan.key}
    with RunRecorder(ws.db, "eval", config) as run:
        fields = _run_fields(
            evalset, request, plan.choice, loaded, plan.template, plan.options, run.run_id
        )
        eval_run_id = data.open_run(ws.db, plan.key, request.name, fields)
        for source, reason in evalset.problems:
            record_reject(
                ws.db, stage="eval", source=source, raw="", reason=reason, run_id=run.run_id
            )
        done = data.answered(ws.db, eval_run_id)
        pending = [q for q in evalset.questions if q.qid not in done]
        choice = plan.choice
        stage = Stage(
            ws.db, run.run_id, concurrency=concurrency_of(loaded, int(plan.options["batch_size"]))
        )
        log = stage.log("eval", loaded, retries=choice.role.retries)
        asker = _Asker(
            log,
            evalset,
            plan.template,
            with_image=bool(loaded.supports_images),
            think=request.think,
            max_tokens=int(request.max_tokens or 0),
            ablation=Ablated.of(ws, evalset, request.image_ablation),
        )
        try:
            skipped, finished = _ask_all(ws, stage, eval_run_id, evalset, pending, asker, progress)
        except BaseException as exc:
            data.set_status(ws.db, eval_run_id, run_status(exc))
            raise
        summary = _finish(ws, plan, request, eval_run_id, done)
        summary.update(
            asked_now=finished - len(skipped),
            skipped=skipped,
            model_calls=log.model_calls,
            cache_hits=log.cache_hits,
            seconds=round(time.perf_counter() - started, 2),
            run_id=run.run_id,
        )
        run.summary = {k: summary[k] for k in ("eval_run_id", "status", "questions", "predicted")}
        run.summary["overall"] = summary["metrics"]["overall"]
    return summary


def _finish(
    ws: Workspace, plan: _Plan, request: EvalRequest, eval_run_id: int, done: set[str]
) -> dict[str, Any]:
    """Score the stored answers of the selected questions; the run's summary."""
    evalset, loaded = plan.evalset, plan.model
    selected = {q.qid for q in evalset.questions}
    rows = [r for r in data.predictions(ws.db, eval_run_id) if r["qid"] in selected]
    metrics = summarize(rows)
    status = "done" if len(rows) == len(selected) else "partial"
    data.set_status(ws.db, eval_run_id, status, metrics)
    return {
        "eval_run_id": eval_run_id,
        "name": data.run_name(ws.db, eval_run_id),
        "status": status,
        "dataset": evalset.dataset,
        "file": str(evalset.file),
        "split": evalset.split,
        "language": evalset.language,
        "answer_type": request.answer_type,
        "questions": len(selected),
        "predicted": len(rows),
        "resumed_from": len(done & selected),
        "unusable_rows": [{"source": s, "reason": r} for s, r in evalset.problems],
        "model_spec": plan.choice.spec,
        "backend": loaded.backend,
        "model": loaded.model,
        "images_seen": bool(loaded.supports_images),
        "template": f"{plan.template.name} v{plan.template.version}",
        "options": plan.options,
        "warnings": plan.warnings,
        "metrics": metrics,
    }
