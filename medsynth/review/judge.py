"""``judge``: the verifier model scores every kept sample on PubMedVision's expert rubric.

Four criteria, 1-5 each: accuracy, relevance, completeness, usefulness (prompt
``judge_rubric.jinja``). The judge sees the question, the answer, the record's context and the
KG path the sample came from, and the record's images when its model reads images. Every call
goes through the call log with a JSON schema, a fixed seed per sample and temperature 0, so a
re-run or a run resumed after a kill asks the model nothing it has answered before; a sample's
four scores are written in one transaction, and samples already scored by this model and prompt
version are skipped. Output that fails the schema after one repair becomes a reject naming the
sample (stage ``judge``) and the sample is tried again on the next run; a server that is down
stops the run with everything finished kept.

Seed and concurrency come from ``[synth]`` (``seed``, ``concurrency``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from medsynth.backends.base import ChatModel, InvalidOutput
from medsynth.backends.calllog import CallLog, CallResult, Template
from medsynth.errors import InputError
from medsynth.files import safe_child
from medsynth.prompts import render
from medsynth.review import data
from medsynth.review.data import CRITERIA
from medsynth.stage import Stage
from medsynth.store.runs import RunRecorder, record_reject
from medsynth.synth.model import task_seed
from medsynth.workspace import Workspace

ROLE: Final = "verifier"
TEMPLATE = "judge_rubric"
CONTEXT_MAX_CHARS = 1500
ANSWER_MAX_CHARS = 3000
RATIONALE_MAX_CHARS = 200
MAX_TOKENS = 160
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{c: {"type": "integer", "enum": [1, 2, 3, 4, 5]} for c in CRITERIA},
        "rationale": {"type": "string", "maxLength": RATIONALE_MAX_CHARS},
    },
    "required": [*CRITERIA, "rationale"],
    "additionalProperties": False,
}
Progress = Callable[[int, int], Any]


@dataclass
class JudgeReport:
    """What one ``judge`` run did."""

    run_id: int | None = None
    model: str = ""
    template: str = ""
    kept: int = 0  # kept samples of the chosen generators
    already_judged: int = 0  # skipped: scored before by this model and prompt version
    judged: int = 0  # scored by this run
    failed: int = 0  # output invalid or image unreadable: rejects, tried again next run
    by_generator: dict[str, int] = field(default_factory=dict)  # judged now
    means: dict[str, float | None] = field(default_factory=dict)  # of the scores given now
    model_calls: int = 0
    cache_hits: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return asdict(self) | {"seconds": round(self.seconds, 3)}


@dataclass
class _Item:
    sample_id: int
    generator: str
    messages: list[Any]
    images: list[Path] | None
    keys: list[str] | None
    seed: int


def model_name(model: ChatModel) -> str:
    """``backend:model`` with a file path shortened to its name (as samples record models)."""
    return f"{model.backend}:{Path(str(model.model)).name}"


def judge(
    ws: Workspace,
    *,
    generators: Sequence[str] | None = None,
    limit: int | None = None,
    models: dict[str, ChatModel] | None = None,
    progress: Progress | None = None,
    tick: Callable[[], Any] | None = None,
) -> JudgeReport:
    """Score the kept samples (of ``generators``; at most ``limit`` not yet judged) on the rubric;
    resumable.

    ``models`` replaces the configured ``verifier`` (tests); ``progress(done, total)`` follows
    the samples to judge and ``tick()`` runs after each one is stored: both may raise (the TUI's
    cancel, :class:`medsynth.errors.Cancelled`), and everything finished stays written.
    """
    from medsynth.backends.registry import EMBEDDED_WARNING, is_embedded, role_config
    from medsynth.synth.service import load_models, parse_generators

    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit} is below 1", hint="pass a positive number")
    chosen = parse_generators(generators)
    section = role_config(ws.config, ROLE)
    config = {
        "generators": chosen,
        "limit": limit,
        "seed": ws.config.synth.seed,
        "concurrency": ws.config.synth.concurrency,
        "models": {ROLE: section.model_dump()},
    }
    report = JudgeReport()
    started = time.perf_counter()
    with RunRecorder(ws.db, "judge", config) as run:
        report.run_id = run.run_id
        model = (models or {}).get(ROLE) or load_models(ws, {ROLE})[ROLE]
        stage = Stage(ws.db, run.run_id, concurrency=ws.config.synth.concurrency)
        log = stage.log(ROLE, model, retries=section.retries)
        _, template = render(TEMPLATE, **_values({}, with_image=False))
        report.model, report.template = model_name(model), f"{template.name}/{template.version}"
        job = _Judging(ws, stage, log, report, template)
        kept = data.samples_of(ws.db, ("kept",), chosen)
        done = data.judged_ids(ws.db, report.model, template.version)
        todo = [(i, g) for i, g in kept if i not in done]
        report.kept, report.already_judged = len(kept), len(kept) - len(todo)
        todo = todo[:limit] if limit is not None else todo
        job.run(todo, progress, tick)
        report.model_calls, report.cache_hits = log.model_calls, log.cache_hits
        if models is None and is_embedded(section):
            report.warnings.append(EMBEDDED_WARNING)
        if not getattr(model, "supports_images", False):
            report.warnings.append(
                "the verifier model cannot read images: samples were judged from their text, "
                "the record's notes and the KG path alone"
            )
        if not kept:
            report.warnings.append("no kept samples: run `medsynth synth` first")
        report.seconds = time.perf_counter() - started
        run.summary = report.as_dict()
    return report


def _values(sample: dict[str, Any], *, with_image: bool) -> dict[str, Any]:
    """The prompt's values for one sample view (text cut to size)."""
    return {
        "question": str(sample.get("question", "")).strip(),
        "answer": str(sample.get("answer", "")).strip()[:ANSWER_MAX_CHARS],
        "key_answer": str(sample.get("key_answer", "")).strip(),
        "context": " ".join(str(sample.get("context", "")).split())[:CONTEXT_MAX_CHARS],
        "path": str(sample.get("path", "")).strip(),
        "system": " ".join(str(sample.get("system", "")).split())[:600],
        "with_image": with_image,
    }


class _Judging:
    """One judge run in progress: builds each sample's call, asks, stores, counts."""

    def __init__(
        self, ws: Workspace, stage: Stage, log: CallLog, report: JudgeReport, template: Template
    ):
        self.ws = ws
        self.stage = stage
        self.log = log
        self.report = report
        self.template = template
        self.lock = stage.lock  # one lock for every use of the connection (the log's too)
        self.sees_images = bool(getattr(log.model, "supports_images", False))
        self.seed = ws.config.synth.seed
        self.totals: dict[str, list[int]] = {c: [] for c in CRITERIA}
        self.counts: Counter[str] = Counter()

    def items(self, todo: list[tuple[int, str]]) -> Iterator[_Item | tuple[int, str, str]]:
        """Each sample's call (or ``(id, reason, detail)`` when it cannot be built)."""
        for sample_id, generator in todo:
            with self.lock:
                row = data.sample_row(self.ws.db, sample_id)
                path = data.path_text(self.ws.db, row)
            images: list[Path] | None = None
            keys: list[str] | None = None
            if self.sees_images:
                try:
                    images, keys = _record_image_keys(row)
                except InputError as exc:
                    yield sample_id, exc.message, exc.source
                    continue
            values = _values(
                {
                    **row,
                    "context": row["record_context"] or "",
                    "path": path,
                    "system": row["system"] or "",
                },
                with_image=bool(images),
            )
            messages, _ = render(TEMPLATE, **values)
            seed = task_seed(self.seed, f"judge:{row['task_key']}#{row['position']}")
            yield _Item(sample_id, generator, messages, images or None, keys, seed)

    def ask(self, item: _Item | tuple[int, str, str]) -> CallResult | tuple[int, str, str]:
        if not isinstance(item, _Item):
            return item
        return self.log.call(
            item.messages,
            template=self.template,
            images=item.images,
            image_keys=item.keys if item.images else None,
            schema=SCHEMA,
            temperature=0.0,
            seed=item.seed,
            max_tokens=MAX_TOKENS,
        )

    def run(
        self, todo: list[tuple[int, str]], progress: Progress | None, tick: Callable[[], Any] | None
    ) -> None:
        finished = 0

        def after(_item: _Item | tuple[int, str, str]) -> None:
            nonlocal finished
            finished += 1
            if progress is not None:
                progress(finished, len(todo))
            if tick is not None:
                tick()

        # a sample the judge cannot score is a reject and the run goes on; a server that is
        # down stops it, once the answers on their way are stored
        self.stage.run(self.items(todo), self.ask, store=self.store, fail=self.fail, after=after)
        self.report.by_generator = dict(sorted(self.counts.items()))
        self.report.means = {
            c: round(sum(v) / len(v), 2) if v else None for c, v in self.totals.items()
        }

    def store(self, item: _Item | tuple[int, str, str], result: Any) -> None:
        """Write one sample's scores, or its reject."""
        if not isinstance(item, _Item):
            sample_id, reason, detail = item
            self.reject(sample_id, f"image: {reason}", detail)
        elif isinstance(result, CallResult):
            scores = {c: int(result.parsed[c]) for c in CRITERIA}
            rationale = " ".join(str(result.parsed["rationale"]).split())[:RATIONALE_MAX_CHARS]
            with self.lock:
                data.save_judgement(
                    self.ws.db,
                    item.sample_id,
                    scores,
                    rationale,
                    model=self.report.model,
                    template=self.template.name,
                    template_version=self.template.version,
                    call_id=result.call_id,
                    run_id=self.report.run_id,
                )
            self.report.judged += 1
            self.counts[item.generator] += 1
            for criterion, score in scores.items():
                self.totals[criterion].append(score)

    def fail(self, item: _Item | tuple[int, str, str], error: BaseException) -> None:
        """A sample the judge could not score: a reject with the reason."""
        sample_id = item.sample_id if isinstance(item, _Item) else item[0]
        if isinstance(error, InvalidOutput):
            self.reject(sample_id, error.message, error.raw)
        elif isinstance(error, InputError):
            self.reject(sample_id, error.message, error.source or "")
        else:
            self.reject(sample_id, f"judging failed: {getattr(error, 'message', error)}", "")

    def reject(self, sample_id: int, reason: str, raw: str) -> None:
        with self.lock, self.ws.db.conn:
            record_reject(
                self.ws.db,
                stage="judge",
                source=f"sample {sample_id}",
                raw=raw,
                reason=reason,
                run_id=self.report.run_id,
            )
        self.report.failed += 1


def _record_image_keys(row: dict[str, Any]) -> tuple[list[Path], list[str] | None]:
    """The sample's record's images (checked) and their call-log keys (``file-sha256:...``, None
    when a hash is missing); raises InputError for an image that escapes the dataset root."""
    root = Path(str(row.get("dataset_root") or "")).resolve()
    names = [n for n in data.json_value(row.get("record_images"), []) if isinstance(n, str)]
    paths = [safe_child(root, root / name) for name in names]
    hashes = [h for h in data.json_value(row.get("record_sha256"), []) if isinstance(h, str)]
    keys = [f"file-sha256:{h}" for h in hashes] if len(hashes) == len(paths) else None
    return paths, (keys if keys is not None and all(hashes) else None)
