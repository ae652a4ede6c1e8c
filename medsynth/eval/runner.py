"""``medsynth eval``: ask a model every selected question, store each prediction, score the run.

An eval run is identified by everything that defines it (question file, split, language, answer
type, limit, model and weights, prompt template and version, token limit, think prompt): the
same command again resumes it, asking only the questions without a stored prediction, and every
model call goes through the call log (temperature 0, so a repeated call is answered from it).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.backends.base import BackendError, ChatModel, TransientBackendError
from medsynth.backends.calllog import CallLog, CallResult, Template
from medsynth.backends.engine import run_bounded
from medsynth.config import ChatRole
from medsynth.errors import Cancelled, InputError
from medsynth.eval.loaders import AnswerType, EvalQuestion, EvalSet, load_eval_set
from medsynth.eval.metrics import score, summarize
from medsynth.eval.models import (
    FingerprintedModel,
    ModelChoice,
    load_model,
    parse_model_spec,
    spec_key,
)
from medsynth.files import sha256_file
from medsynth.prompts import render
from medsynth.store.runs import RunRecorder, record_reject, utc_now
from medsynth.workspace import Workspace

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


def _concurrency(model: ChatModel, batch_size: int) -> int:
    """Calls in flight: llama.cpp runs one at a time; transformers batches; servers take many."""
    inner = getattr(model, "inner", model)
    return 1 if getattr(inner, "backend", "") in ("llamacpp", "fake") else max(1, batch_size)


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
    ) -> None:
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
            TEMPLATE, question=question.question, with_image=self.with_image, think=self.think
        )
        images, keys = None, None
        if self.with_image:
            path, key = self._image(question)
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


def _eval_run_row(
    ws: Workspace,
    key: str,
    evalset: EvalSet,
    request: EvalRequest,
    choice: ModelChoice,
    model: ChatModel,
    template: Template,
    options: dict[str, Any],
    run_id: int | None,
) -> int:
    """The eval run with this key (made now if new); its name is updated when one is given."""
    now = utc_now()
    row = ws.db.execute("SELECT id, name FROM eval_runs WHERE key = ?", [key]).fetchone()
    with ws.db.conn:
        if row is not None:
            ws.db.conn.execute(
                "UPDATE eval_runs SET name = ?, status = 'running', run_id = ?, updated_at = ? "
                "WHERE id = ?",
                [request.name or row[1], run_id, now, row[0]],
            )
            return int(row[0])
        cursor = ws.db.conn.execute(
            "INSERT INTO eval_runs (key, name, dataset, data_file, split, language, answer_type, "
            "max_questions, model_spec, backend, model, images_seen, template, template_version, "
            "options, questions, status, run_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            [
                key,
                request.name,
                evalset.dataset,
                str(evalset.file),
                evalset.split,
                evalset.language,
                request.answer_type,
                request.limit,
                json.dumps(choice.as_dict(), sort_keys=True),
                model.backend,
                model.model,
                int(model.supports_images),
                template.name,
                template.version,
                json.dumps(options, sort_keys=True),
                len(evalset.questions),
                run_id,
                now,
                now,
            ],
        )
    return int(cursor.lastrowid or 0)


def _store(
    ws: Workspace,
    eval_run_id: int,
    question: EvalQuestion,
    result: CallResult,
    run_id: int | None,
) -> None:
    scores = score(result.text, question.answer, question.answer_type)
    closed = scores["closed_correct"]
    ws.db.conn.execute(
        "INSERT OR IGNORE INTO eval_predictions (eval_run_id, qid, image, question, answer, "
        "answer_type, question_type, prediction, scored_text, closed_correct, open_recall, "
        "exact_match, token_f1, call_id, cached, run_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            eval_run_id,
            question.qid,
            question.image,
            question.question,
            question.answer,
            question.answer_type,
            question.question_type,
            result.text,
            scores["scored_text"],
            None if closed is None else int(closed),
            scores["open_recall"],
            int(scores["exact_match"]),
            scores["token_f1"],
            result.call_id,
            int(result.cached),
            run_id,
            utc_now(),
        ],
    )


PREDICTION_COLUMNS = (
    "qid",
    "image",
    "question",
    "answer",
    "answer_type",
    "question_type",
    "prediction",
    "scored_text",
    "closed_correct",
    "open_recall",
    "exact_match",
    "token_f1",
    "call_id",
    "cached",
)


def predictions(ws: Workspace, eval_run_id: int) -> list[dict[str, Any]]:
    """Stored predictions of one eval run, by question id (numeric ids as numbers): answers
    are stored as they finish, which under concurrency is not the order they were asked."""
    sql = f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM eval_predictions WHERE eval_run_id = ? "
    return [
        dict(zip(PREDICTION_COLUMNS, row, strict=True))
        for row in ws.db.execute(sql + "ORDER BY CAST(qid AS INTEGER), qid, id", [eval_run_id])
    ]


def _ask_all(
    ws: Workspace,
    eval_run_id: int,
    evalset: EvalSet,
    pending: list[EvalQuestion],
    asker: _Asker,
    concurrency: int,
    run_id: int | None,
    progress: Progress | None,
) -> tuple[list[dict[str, str]], int]:
    """Ask the pending questions, storing each prediction as it comes; a question the model
    or its image fails is skipped (and a reject); an unreachable server stops the run."""
    lock = asker.log.lock  # the call log's lock guards every use of the connection
    skipped: list[dict[str, str]] = []
    finished = 0
    fatal: list[BaseException] = []  # the first error that stops the run
    # after a fatal error nothing new is asked, but the answers already on their way are
    # still stored (nothing finished is lost), then the error is raised
    stop = threading.Event()  # set with the first fatal error: queued questions are dropped
    for question, outcome in run_bounded(pending, asker, concurrency=concurrency, stop=stop):
        if fatal:
            if not isinstance(outcome, BaseException):
                with lock, ws.db.conn:
                    _store(ws, eval_run_id, question, outcome, run_id)
            continue
        if isinstance(outcome, TransientBackendError):
            fatal.append(outcome)
            stop.set()
            continue
        if isinstance(outcome, InputError | BackendError | OSError):
            reason = getattr(outcome, "message", str(outcome))
            skipped.append({"qid": question.qid, "reason": reason})
            with lock:
                record_reject(
                    ws.db,
                    stage="eval",
                    source=f"{evalset.file.name} qid {question.qid}",
                    raw=question.question,
                    reason=reason,
                    run_id=run_id,
                )
        elif isinstance(outcome, BaseException):
            fatal.append(outcome)
            stop.set()
            continue
        else:
            with lock, ws.db.conn:
                _store(ws, eval_run_id, question, outcome, run_id)
        finished += 1
        if progress is not None:
            progress(finished, len(pending))
    if fatal:
        raise fatal[0]
    return skipped, finished


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
    cfg = ws.config.eval
    max_tokens = request.max_tokens or cfg.max_tokens
    batch_size = request.batch_size or cfg.batch_size
    evalset = load_eval_set(
        request.dataset,
        request.path,
        split=request.split,
        language=request.language,
        answer_type=request.answer_type,
        limit=request.limit,
    )
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
    _, template = render(TEMPLATE, question="", with_image=with_image, think=request.think)
    request.max_tokens = max_tokens
    key = _run_key(evalset, request, spec_key(choice, loaded), template)
    options = {"max_tokens": max_tokens, "think": request.think, "batch_size": batch_size}
    warnings = [] if with_image else [TEXT_ONLY_WARNING]
    if choice.embedded and model is None:
        warnings.append(EMBEDDED_NOTE)
    config = {"request": {**request.__dict__, "path": str(request.path)}, "key": key}
    with RunRecorder(ws.db, "eval", config) as run:
        eval_run_id = _eval_run_row(
            ws, key, evalset, request, choice, loaded, template, options, run.run_id
        )
        for source, reason in evalset.problems:
            record_reject(
                ws.db, stage="eval", source=source, raw="", reason=reason, run_id=run.run_id
            )
        done = {
            row[0]
            for row in ws.db.execute(
                "SELECT qid FROM eval_predictions WHERE eval_run_id = ?", [eval_run_id]
            )
        }
        pending = [q for q in evalset.questions if q.qid not in done]
        log = CallLog(ws.db, loaded, role="eval", run_id=run.run_id, retries=choice.role.retries)
        asker = _Asker(
            log,
            evalset,
            template,
            with_image=with_image,
            think=request.think,
            max_tokens=max_tokens,
        )
        try:
            skipped, finished = _ask_all(
                ws,
                eval_run_id,
                evalset,
                pending,
                asker,
                _concurrency(loaded, batch_size),
                run.run_id,
                progress,
            )
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            if isinstance(exc, Cancelled):
                status = "cancelled"
            with ws.db.conn:
                ws.db.conn.execute(
                    "UPDATE eval_runs SET status = ?, updated_at = ? WHERE id = ?",
                    [status, utc_now(), eval_run_id],
                )
            raise
        selected = {q.qid for q in evalset.questions}
        rows = [r for r in predictions(ws, eval_run_id) if r["qid"] in selected]
        metrics = summarize(rows)
        status = "done" if len(rows) == len(selected) else "partial"
        with ws.db.conn:
            ws.db.conn.execute(
                "UPDATE eval_runs SET status = ?, metrics = ?, updated_at = ? WHERE id = ?",
                [status, json.dumps(metrics), utc_now(), eval_run_id],
            )
        name = ws.db.execute("SELECT name FROM eval_runs WHERE id = ?", [eval_run_id]).fetchone()
        summary = {
            "eval_run_id": eval_run_id,
            "name": name[0] or "",
            "status": status,
            "dataset": evalset.dataset,
            "file": str(evalset.file),
            "split": evalset.split,
            "language": evalset.language,
            "answer_type": request.answer_type,
            "questions": len(selected),
            "predicted": len(rows),
            "asked_now": finished - len(skipped),
            "resumed_from": len(done & selected),
            "skipped": skipped,
            "unusable_rows": [{"source": s, "reason": r} for s, r in evalset.problems],
            "model_spec": choice.spec,
            "backend": loaded.backend,
            "model": loaded.model,
            "images_seen": with_image,
            "template": f"{template.name} v{template.version}",
            "options": options,
            "model_calls": log.model_calls,
            "cache_hits": log.cache_hits,
            "seconds": round(time.perf_counter() - started, 2),
            "warnings": warnings,
            "metrics": metrics,
            "run_id": run.run_id,
        }
        run.summary = {k: summary[k] for k in ("eval_run_id", "status", "questions", "predicted")}
        run.summary["overall"] = metrics["overall"]
    return summary
