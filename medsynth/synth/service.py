"""``synth``: run the chosen generators over grounded records, resumably, then mark duplicates
(and, when asked, contamination with evaluation sets).

Generators run in three stages (see ``STAGES``), all as one stream of tasks: a record's
next stage starts as soon as its tasks of the stage before are written
(:mod:`~medsynth.synth.flow`), so no task waits for another record or generator. Each
generator plans tasks per record; a task's samples and its ``synth_tasks`` row are written in one
transaction, so a killed run loses at most the tasks in flight, and their model calls are
answered from the call log when the run is started again (every call is seeded per task). Failed
tasks (invalid model output, unreadable images) become rejects and are tried again on the next
run; a transient backend failure stops the run with everything finished kept.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from medsynth.backends.base import ChatModel, InvalidOutput
from medsynth.config import SynthConfig
from medsynth.errors import ConfigError, InputError
from medsynth.ingest.datasets import find_dataset, selection_end
from medsynth.store import overview
from medsynth.store.db import insert_rows
from medsynth.store.runs import RunRecorder, record_reject, utc_now
from medsynth.synth import checks, queries
from medsynth.synth.context import iter_records
from medsynth.synth.flow import Item, TaskFlow
from medsynth.synth.gate import detector_of
from medsynth.synth.hardneg import HardNegatives
from medsynth.synth.keyanswer import KeyAnswers
from medsynth.synth.model import GENERATORS, Draft, Later, RecordContext, SynthReport, Task
from medsynth.synth.multihop import Multihop
from medsynth.synth.pubmedvision import Describe, Instruct
from medsynth.synth.quality import screen
from medsynth.synth.reasoning import Reasoning
from medsynth.synth.runtime import Generator, Runtime
from medsynth.workspace import Workspace

# A record's tasks of one stage start when its tasks of the stage before are written (keyanswer
# reads multihop's samples, instruct reuses describe's logged call, reasoning may read key answers
# and negatives); records do not wait for each other (:mod:`medsynth.synth.flow`).
STAGES = (("multihop", "hardneg", "describe"), ("keyanswer", "instruct"), ("reasoning",))
Progress = Callable[[str, int, int], Any]  # generator, records planned, records total
# ready later-stage tasks kept per call in flight before new records wait (bounds memory)
BACKLOG_PER_SLOT = 8


def make_generator(name: str) -> Generator:
    """A generator by name."""
    classes: dict[str, Callable[[], Generator]] = {
        "multihop": Multihop,
        "hardneg": HardNegatives,
        "keyanswer": KeyAnswers,
        "describe": Describe,
        "instruct": Instruct,
        "reasoning": Reasoning,
    }
    return classes[name]()


def parse_generators(names: Sequence[str] | None) -> list[str]:
    """Generators in pipeline order (None or "all": every one); unknown names are errors."""
    if not names or list(names) == ["all"]:
        return list(GENERATORS)
    wanted = {n.strip() for name in names for n in name.split(",") if n.strip()}
    unknown = sorted(wanted - set(GENERATORS))
    if unknown:
        raise ConfigError(
            f"unknown generator(s): {', '.join(unknown)}",
            hint=f"choose from {', '.join(GENERATORS)} (or all)",
        )
    return [g for g in GENERATORS if g in wanted]


def load_models(ws: Workspace, roles: set[str]) -> dict[str, ChatModel]:
    """One model per role; roles with the same settings share one loaded model."""
    from medsynth.backends.registry import build_chat_model, role_config

    loaded: dict[str, ChatModel] = {}
    by_settings: dict[str, ChatModel] = {}
    for role in sorted(roles):
        section = role_config(ws.config, cast(Any, role))
        key = json.dumps(section.model_dump(), sort_keys=True)
        if key not in by_settings:
            by_settings[key] = build_chat_model(section, role_name=role)
        loaded[role] = by_settings[key]
    return loaded


class Writer:
    """Stores task outcomes; one transaction per task."""

    def __init__(self, rt: Runtime, report: SynthReport) -> None:
        self.rt = rt
        self.report = report

    def done(self, task: Task, drafts: list[Draft]) -> None:
        """A finished task: its samples (kept, or rejected with reasons) and its ledger row."""
        now = utc_now()
        rows = [self._row(task, position, d, now) for position, d in enumerate(drafts)]
        for d in drafts:
            if d.problems:
                self.report.rejected[task.generator] += 1
                for problem in d.problems:
                    self.report.reject_reasons[f"{task.generator}: {_category(problem)}"] += 1
                for detector in {detector_of(p) for p in d.problems} - {""}:
                    self.report.detectors[detector] += 1
            else:
                self.report.kept[task.generator] += 1
        with self.rt.lock, self.rt.db.conn:
            insert_rows(self.rt.db.conn, "samples", rows, conflict="IGNORE")
            self._ledger(task, "done", len(rows), "", now)
        self.report.tasks[task.generator] += 1

    def _row(self, task: Task, position: int, d: Draft, now: str) -> dict[str, Any]:
        """A draft as a ``samples`` row."""
        return {
            "task_key": task.key,
            "position": position,
            "record_id": task.record_id,
            "generator": task.generator,
            "sample_type": d.sample_type,
            "question": d.question,
            "answer": d.answer,
            "key_answer": d.key_answer,
            "ground_truth": d.ground_truth,
            "path_triples": json.dumps(d.path_triples),
            "path_entities": json.dumps(d.path_entities, ensure_ascii=False),
            "images": json.dumps(d.images, ensure_ascii=False),
            "system": d.system,
            "meta": json.dumps(d.meta, ensure_ascii=False, default=str),
            "template": d.template,
            "template_version": d.template_version,
            "model": d.model,
            "seed": task.seed,
            "call_ids": json.dumps(d.call_ids),
            "question_key": checks.question_key(d.question),
            "status": "rejected" if d.problems else "kept",
            "reason": "; ".join(d.problems),
            "contamination": "[]",
            "run_id": self.rt.run_id,
            "created_at": now,
        }

    def failed(self, task: Task, reason: str, raw: str) -> None:
        """A task that produced nothing: a reject now, tried again on the next run."""
        now = utc_now()
        with self.rt.lock, self.rt.db.conn:
            record_reject(
                self.rt.db,
                stage="synth",
                source=f"record {task.record_id} task {task.key}",
                raw=raw,
                reason=reason,
                run_id=self.rt.run_id,
            )
            self._ledger(task, "failed", 0, reason, now)
        self.report.tasks_failed[task.generator] += 1
        self.report.reject_reasons[f"{task.generator}: {_category(reason)}"] += 1

    def _ledger(self, task: Task, status: str, samples: int, reason: str, now: str) -> None:
        row = {
            "task_key": task.key,
            "record_id": task.record_id,
            "generator": task.generator,
            "unit": task.unit,
            "seed": task.seed,
            "status": status,
            "samples": samples,
            "reason": reason,
            "run_id": self.rt.run_id,
            "created_at": now,
        }
        insert_rows(self.rt.db.conn, "synth_tasks", [row], conflict="REPLACE")


def _category(reason: str) -> str:
    """A reason without its specifics (counts group by it)."""
    if detector_of(reason):
        return detector_of(reason)
    return (
        reason.split("(")[0].split(":")[0].strip()
        if reason.startswith("checker")
        else (reason.split(" (")[0].strip())
    )


def synthesize(
    ws: Workspace,
    generators: Sequence[str] | None = None,
    *,
    dataset: str | None = None,
    limit: int | None = None,
    options: SynthConfig | None = None,
    models: dict[str, ChatModel] | None = None,
    contamination: Sequence[Path] = (),
    progress: Progress | None = None,
    tick: Callable[[], Any] | None = None,
) -> SynthReport:
    """Run the generators over grounded records (all datasets or one); resumable.

    ``progress(generator, records planned, records total)`` follows planning; ``tick()`` runs
    after every finished task (its samples written): both may raise to stop the run (the TUI's
    cancel), and everything finished stays written."""
    from medsynth.backends.registry import EMBEDDED_WARNING, is_embedded, role_config

    opts = options or ws.config.synth
    order = parse_generators(generators)
    instances = [make_generator(name) for name in order]
    roles = {role for gen in instances for role in gen.roles}
    dataset_id = find_dataset(ws, dataset)
    end = selection_end(ws, dataset_id, limit)  # the first N kept records, as in `ground`
    total = queries.count_records(ws.db, dataset_id, end)
    config = {
        "generators": order,
        "dataset": dataset,
        "limit": limit,
        "synth": opts.model_dump(),
        "contamination": [str(p) for p in contamination],
        "models": {r: role_config(ws.config, cast(Any, r)).model_dump() for r in sorted(roles)},
    }
    report = SynthReport()
    if total == 0:
        report.warnings.append(
            "no grounded records: run `medsynth ingest` and `medsynth ground` first"
        )
    started = time.perf_counter()
    with RunRecorder(ws.db, "synth", config) as run:
        report.run_id = run.run_id
        rt = Runtime(ws, run.run_id, opts, models if models is not None else load_models(ws, roles))
        instances = _refuse_blind(instances, rt, report)
        writer = Writer(rt, report)
        records = iter_records(ws.db, dataset_id, end, ws.config.images.max_pixels)
        _run(instances, rt, writer, records, total, progress, tick)
        report.duplicates = mark_duplicates(ws, opts.duplicate_similarity)
        if contamination:
            from medsynth.synth.contamination import flag_contamination

            report.contaminated = flag_contamination(ws, contamination)
        for role, log in rt.logs.items():
            report.model_calls[role] = log.model_calls
            report.cache_hits[role] = log.cache_hits
        if models is None and any(is_embedded(role_config(ws.config, cast(Any, r))) for r in roles):
            report.warnings.append(EMBEDDED_WARNING)
        if "vision_generator" in roles and not rt.sees_images("vision_generator"):
            report.warnings.append(
                "the vision_generator model cannot read images: samples were written from "
                "the record text alone (set mmproj, or use a vision model)"
            )
        report.seconds = time.perf_counter() - started
        run.summary = report.as_dict()
    return report


UNBLINDED = ("describe", "instruct")  # PubMedVision's reformatting: the model must see the image


def _refuse_blind(instances: list[Generator], rt: Runtime, report: SynthReport) -> list[Generator]:
    """``describe`` and ``instruct`` left out, with the reason, when the vision_generator reads
    text only and ``allow_blind`` is off; every other generator runs."""
    unblinded = [g.name for g in instances if g.name in UNBLINDED]
    if not unblinded or rt.options.allow_blind or rt.sees_images("vision_generator"):
        return instances
    model = rt.model_name("vision_generator")
    message = (
        f"{', '.join(unblinded)} refused: the vision_generator model ({model}) reads text "
        "only, and PubMedVision's reformatting is written by a model that sees the image. "
        "Fix: set [models.vision_generator] mmproj or use a vision model, or pass "
        "--allow-blind ([synth] allow_blind = true) to write them from the text alone, marked "
        "blinded"
    )
    report.refused.update({name: message for name in unblinded})
    report.warnings.append(message)
    return [g for g in instances if g.name not in UNBLINDED]


def _run(
    instances: list[Generator],
    rt: Runtime,
    writer: Writer,
    records: Iterator[RecordContext],
    total: int,
    progress: Progress | None,
    tick: Callable[[], Any] | None = None,
) -> None:
    """Run every chosen generator over the records as one stream of tasks across the stages
    (:mod:`~medsynth.synth.flow`): the model servers never wait for a stage to drain."""
    names = [g.name for g in instances]
    with rt.lock:
        done = queries.done_task_keys(rt.db, names)
    planned: Counter[str] = Counter()

    def on_planned(name: str) -> None:
        planned[name] += 1
        if progress is not None:
            progress(name, planned[name], total)

    stages = [[g for g in instances if g.name in stage] for stage in STAGES]
    flow = TaskFlow(
        stages,
        rt,
        records,
        done,
        backlog=BACKLOG_PER_SLOT * rt.options.concurrency,
        planned=on_planned,
        lock=rt.lock,
    )

    def work(item: Item) -> list[Draft] | Later:
        gen, task, ctx, later = item
        result = later.finish() if later is not None else gen.run(task, ctx, rt)
        return result if isinstance(result, Later) else screen(result, gen.name, ctx, rt)

    def store(item: Item, result: list[Draft] | Later) -> None:
        if isinstance(result, Later):
            flow.later(item, result)
            return
        writer.done(item[1], result)
        flow.finished(item)
        if tick is not None:
            tick()

    def fail(item: Item, error: BaseException) -> None:
        task = item[1]
        if isinstance(error, InvalidOutput):
            writer.failed(task, error.message, error.raw)
        elif isinstance(error, InputError):
            writer.failed(task, error.message, error.source or "")
        else:
            writer.failed(task, f"generation failed: {getattr(error, 'message', error)}", "")
        flow.finished(item)
        if tick is not None:
            tick()

    flow.prefetch(rt.stage.concurrency)
    rt.stage.run(flow, work, store=store, fail=fail)


def sample_counts(ws: Workspace) -> dict[str, dict[str, int]]:
    """Samples in the workspace by generator and status."""
    return overview.sample_counts(ws.db)


def mark_duplicates(ws: Workspace, threshold: float) -> int:
    """Mark near-duplicate questions about the same record and of the same sample type (the
    later one, in task order) as ``duplicate``; reasoning variants share their question on
    purpose and are compared by their whole answer. Recomputed from scratch: deterministic."""
    db = ws.db
    marks: list[tuple[str, int]] = []
    with db.conn:
        queries.unmark_duplicates(db)
        rows = queries.kept_for_dedup(db)
        group: tuple[int, str] | None = None
        kept: list[tuple[int, str, str]] = []
        for sample_id, record_id, sample_type, key, answer in rows:
            if (record_id, sample_type) != group:
                group, kept = (record_id, sample_type), []
            twin = None
            for other_id, other_key, other_answer in kept:
                if sample_type == "reasoning":
                    if answer == other_answer:
                        twin = (other_id, 1.0)
                        break
                    continue
                score = checks.similarity(key or "", other_key or "")
                if score >= threshold:
                    twin = (other_id, score)
                    break
            if twin is None:
                kept.append((sample_id, key or "", answer or ""))
            else:
                marks.append(
                    (f"near-duplicate of sample {twin[0]} (similarity {twin[1]:.2f})", sample_id)
                )
        queries.mark_duplicate_samples(db, marks)
    return len(marks)
