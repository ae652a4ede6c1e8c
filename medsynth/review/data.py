"""Judge scores and reviews: every query on the ``judgements`` and ``reviews`` tables.

The TUI's Review screen, ``medsynth review`` (CSV sheets), the judge, the export filters and the
dataset card read and write these tables through this module only.

Which rows count:

- judge: per (sample, criterion) the latest ``judgements`` row (another judge model or prompt
  version adds rows; the newest one wins);
- reviews: per (sample, reviewer) the latest ``reviews`` row; earlier rows are the history. A
  sample is *rejected by a reviewer* when any reviewer's latest verdict is ``reject``, and
  *accepted* when some reviewer's latest verdict is ``accept`` and none is ``reject``.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from medsynth.errors import InputError
from medsynth.files import safe_child
from medsynth.store.runs import utc_now
from medsynth.synth.model import GENERATORS

CRITERIA: tuple[str, ...] = ("accuracy", "relevance", "completeness", "usefulness")
VERDICTS: tuple[str, ...] = ("accept", "reject")
SOURCES: tuple[str, ...] = ("tui", "cli", "csv")
ORDERS: tuple[str, ...] = ("random", "lowest", "generator")
Order = Literal["random", "lowest", "generator"]

_LATEST_JUDGEMENTS = (
    "SELECT sample_id, criterion, score FROM judgements WHERE id IN "
    "(SELECT max(id) FROM judgements GROUP BY sample_id, criterion)"
)
_REVIEWS = (
    "SELECT id, sample_id, reviewer, verdict, accuracy, relevance, completeness, usefulness, "
    "note, created_at, source FROM reviews"
)
_LATEST_REVIEW_IDS = "(SELECT max(id) FROM reviews GROUP BY sample_id, reviewer)"
_LATEST_REVIEWS = f"{_REVIEWS} WHERE id IN {_LATEST_REVIEW_IDS}"
_BATCH = 500


@dataclass
class Review:
    """One review of one sample by one person (``scores``: criterion -> 1..5, those given)."""

    sample_id: int
    reviewer: str
    verdict: str | None
    scores: dict[str, int]
    note: str
    created_at: str
    source: str


@dataclass
class SampleView:
    """Everything a reviewer needs to see for one sample.

    ``images`` are absolute and inside the dataset root (an image that escapes it is left out
    and named in ``warnings``); ``path`` is the KG path the sample was written from (multihop and
    hardneg: the path; reasoning: its facts, one a line; keyanswer: its parent's path; "" for the
    others); ``judge`` holds the latest judge score per criterion ({} if not judged) and
    ``judge_rationale`` the judge's reason; ``reviews`` every review of the sample, oldest first.
    """

    id: int
    record_id: int
    generator: str
    sample_type: str
    status: str
    question: str
    answer: str
    key_answer: str
    images: list[Path]
    context: str
    path: str
    path_entities: list[str]
    provenance: dict[str, Any]
    judge: dict[str, int]
    reviews: list[Review]
    judge_rationale: str = ""
    warnings: list[str] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------


def id_chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    """``ids`` in slices small enough for one ``IN (...)``."""
    for start in range(0, len(ids), _BATCH):
        yield list(ids[start : start + _BATCH])


def samples_of(
    db: sqlite_utils.Database, statuses: Sequence[str], generators: Sequence[str] | None = None
) -> list[tuple[int, str]]:
    """(id, generator) of the samples with one of ``statuses`` (and of ``generators``; None:
    any), in id order."""
    only = "" if generators is None else f"AND generator IN ({', '.join('?' * len(generators))}) "
    return db.execute(
        f"SELECT id, generator FROM samples WHERE status IN ({', '.join('?' * len(statuses))}) "
        f"{only}ORDER BY id",
        [*statuses, *(generators or [])],
    ).fetchall()


def judge_scores(
    db: sqlite_utils.Database, sample_ids: Sequence[int] | None = None
) -> dict[int, dict[str, int]]:
    """Latest judge score per criterion, by sample (all samples, or those in ``sample_ids``)."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if sample_ids is None:
        for sample_id, criterion, score in db.execute(_LATEST_JUDGEMENTS):
            found[sample_id][criterion] = score
        return dict(found)
    for chunk in id_chunks(sample_ids):
        marks = ", ".join("?" * len(chunk))
        for sample_id, criterion, score in db.execute(
            "SELECT sample_id, criterion, score FROM judgements WHERE id IN (SELECT max(id) FROM "
            f"judgements WHERE sample_id IN ({marks}) GROUP BY sample_id, criterion)",
            chunk,
        ):
            found[sample_id][criterion] = score
    return dict(found)


def sample_generators(db: sqlite_utils.Database, sample_ids: Sequence[int]) -> dict[int, str]:
    """{id: generator} of those of ``sample_ids`` that exist."""
    found: dict[int, str] = {}
    for chunk in id_chunks(sample_ids):
        marks = ", ".join("?" * len(chunk))
        found.update(db.execute(f"SELECT id, generator FROM samples WHERE id IN ({marks})", chunk))
    return found


def mean_score(scores: dict[str, int]) -> float | None:
    """Mean of the criteria scored (None when none is).

    >>> mean_score({"accuracy": 4, "relevance": 5, "completeness": 3, "usefulness": 4})
    4.0
    >>> mean_score({}) is None
    True
    """
    values = [scores[c] for c in CRITERIA if c in scores]
    return sum(values) / len(values) if values else None


def _review(row: Sequence[Any]) -> Review:
    _, sample_id, reviewer, verdict, *scores, note, created_at, source = row
    return Review(
        sample_id=sample_id,
        reviewer=reviewer,
        verdict=verdict,
        scores={c: s for c, s in zip(CRITERIA, scores, strict=True) if s is not None},
        note=note or "",
        created_at=created_at,
        source=source,
    )


def latest_reviews(db: sqlite_utils.Database) -> list[Review]:
    """The review that counts per (sample, reviewer), in sample then reviewer order."""
    rows = db.execute(f"{_LATEST_REVIEWS} ORDER BY sample_id, reviewer").fetchall()
    return [_review(row) for row in rows]


def latest_review(db: sqlite_utils.Database, sample_id: int, reviewer: str) -> Review | None:
    """``reviewer``'s latest review of the sample, if any."""
    row = db.execute(
        f"{_LATEST_REVIEWS} AND sample_id = ? AND reviewer = ?", [sample_id, reviewer]
    ).fetchone()
    return _review(row) if row else None


def review_history(db: sqlite_utils.Database, sample_id: int) -> list[Review]:
    """Every review of one sample, oldest first."""
    rows = db.execute(f"{_REVIEWS} WHERE sample_id = ? ORDER BY id", [sample_id]).fetchall()
    return [_review(row) for row in rows]


def verdict_sets(db: sqlite_utils.Database) -> tuple[set[int], set[int]]:
    """(samples some reviewer's latest verdict rejects, samples some latest verdict accepts)."""
    rejected: set[int] = set()
    accepted: set[int] = set()
    for sample_id, verdict in db.execute(
        f"SELECT sample_id, verdict FROM reviews WHERE id IN {_LATEST_REVIEW_IDS} "
        "AND verdict IS NOT NULL"
    ):
        (rejected if verdict == "reject" else accepted).add(sample_id)
    return rejected, accepted


# --- the queue -------------------------------------------------------------------------------


def _draw(seed: int, sample_id: int) -> str:
    """A sample's place in a seeded random order (stable when other samples leave the queue)."""
    return hashlib.sha256(f"medsynth-review:{seed}:{sample_id}".encode()).hexdigest()


def queue(
    db: sqlite_utils.Database,
    *,
    order: Order = "random",
    generator: str | None = None,
    limit: int = 50,
    seed: int = 0,
    reviewer: str | None = None,
    unreviewed_only: bool = True,
) -> list[int]:
    """Ids of kept samples to review next.

    ``order``: ``random`` (seeded: the same seed gives the same order, and a sample's place does
    not change as others are reviewed), ``lowest`` (lowest mean judge score first; unjudged
    samples last, in id order) or ``generator`` (round-robin across generators, each in the
    seeded random order). ``unreviewed_only`` leaves out samples ``reviewer`` has reviewed (any
    reviewer, when ``reviewer`` is None).
    """
    if order not in ORDERS:
        raise InputError(f"unknown queue order {order!r}", hint=f"use one of {', '.join(ORDERS)}")
    if limit < 1:
        raise InputError(f"queue limit {limit} is below 1", hint="ask for at least one sample")
    rows = samples_of(db, ("kept",), None if generator is None else [generator])
    reviewer = reviewer.strip() if reviewer else None
    if unreviewed_only:
        done = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT sample_id FROM reviews WHERE (? IS NULL OR reviewer = ?)",
                [reviewer, reviewer],
            )
        }
        rows = [r for r in rows if r[0] not in done]
    if order == "lowest":
        means = {
            sample_id: mean_score(scores)
            for sample_id, scores in judge_scores(db, [r[0] for r in rows]).items()
        }
        ranked = sorted(rows, key=lambda r: (means.get(r[0]) is None, means.get(r[0]) or 0.0, r[0]))
        return [r[0] for r in ranked[:limit]]
    ranked = sorted(rows, key=lambda r: _draw(seed, r[0]))
    if order == "random":
        return [r[0] for r in ranked[:limit]]
    groups: dict[str, list[int]] = defaultdict(list)
    for sample_id, gen in ranked:
        groups[gen].append(sample_id)
    names = [g for g in GENERATORS if g in groups] + sorted(set(groups) - set(GENERATORS))
    picked: list[int] = []
    for turn in range(max((len(v) for v in groups.values()), default=0)):
        picked += [groups[g][turn] for g in names if turn < len(groups[g])]
        if len(picked) >= limit:
            break
    return picked[:limit]


# --- one sample ------------------------------------------------------------------------------


def sample_row(db: sqlite_utils.Database, sample_id: int) -> dict[str, Any]:
    """A samples row with its record's context, images and hashes and its dataset's root and
    name (InputError when there is no such sample)."""
    cursor = db.execute(
        "SELECT s.*, r.context AS record_context, r.images AS record_images, "
        "r.image_sha256 AS record_sha256, d.root AS dataset_root, d.name AS dataset "
        "FROM samples s LEFT JOIN records r ON r.id = s.record_id "
        "LEFT JOIN datasets d ON d.id = r.dataset_id WHERE s.id = ?",
        [sample_id],
    )
    row = cursor.fetchone()
    if row is None:
        raise InputError(
            f"no sample {sample_id}",
            hint="take sample ids from the review queue (`medsynth review queue`) or "
            "`medsynth synth show`",
        )
    return dict(zip([c[0] for c in cursor.description], row, strict=True))


def json_value(raw: str | None, default: Any) -> Any:
    """A JSON column's value, or ``default`` when it is empty, malformed or of another type."""
    try:
        value = json.loads(raw) if raw else default
    except json.JSONDecodeError:
        return default
    return value if isinstance(value, type(default)) else default


def path_text(db: sqlite_utils.Database, row: dict[str, Any]) -> str:
    """The KG path a sample was written from, as text (see :class:`SampleView`)."""
    from medsynth.synth.queries import triples_text

    meta = json_value(row.get("meta"), {})
    if isinstance(meta.get("path"), str) and meta["path"]:
        return str(meta["path"])
    parent = meta.get("parent")
    if isinstance(parent, str) and "#" in parent:
        task_key, _, position = parent.rpartition("#")
        found = db.execute(
            "SELECT meta FROM samples WHERE task_key = ? AND position = ?",
            [task_key, int(position) if position.isdigit() else -1],
        ).fetchone()
        parent_path = json_value(found[0] if found else None, {}).get("path")
        if isinstance(parent_path, str) and parent_path:
            return parent_path
    triple_ids = [t for t in json_value(row.get("path_triples"), []) if isinstance(t, int)]
    return "\n".join(f"{h} -[{r}]-> {t}" for _, h, r, t in triples_text(db, triple_ids))


def sample_images(row: dict[str, Any]) -> tuple[list[Path], list[str]]:
    """A sample's images, absolute and checked to stay in the dataset root, and warnings for
    those left out."""
    root_text = row.get("dataset_root")
    names = [n for n in json_value(row.get("images"), []) if isinstance(n, str)]
    if not root_text:
        return [], ([f"sample {row['id']}: its record or dataset is missing"] if names else [])
    root = Path(root_text).resolve()
    images, warnings = [], []
    for number, name in enumerate(names, 1):
        try:
            images.append(safe_child(root, root / name))
        except InputError as exc:
            warnings.append(f"image {number} of {len(names)} left out: {exc.message}")
    return images, warnings


def sample_view(db: sqlite_utils.Database, sample_id: int) -> SampleView:
    """One sample with its images, record context, KG path, provenance, judge scores and reviews.

    Raises InputError when there is no such sample.
    """
    row = sample_row(db, sample_id)
    images, warnings = sample_images(row)
    rationale = db.execute(
        "SELECT rationale FROM judgements WHERE sample_id = ? ORDER BY id DESC LIMIT 1",
        [sample_id],
    ).fetchone()
    return SampleView(
        id=row["id"],
        record_id=row["record_id"],
        generator=row["generator"],
        sample_type=row["sample_type"],
        status=row["status"],
        question=row["question"] or "",
        answer=row["answer"] or "",
        key_answer=row["key_answer"] or "",
        images=images,
        context=row["record_context"] or "",
        path=path_text(db, row),
        path_entities=[e for e in json_value(row["path_entities"], []) if isinstance(e, str)],
        provenance={
            "model": row["model"] or "",
            "template": row["template"] or "",
            "template_version": row["template_version"] or "",
            "seed": row["seed"],
            "call_ids": [c for c in json_value(row["call_ids"], []) if isinstance(c, int)],
            "run_id": row["run_id"],
            "task_key": row["task_key"],
            "dataset": row["dataset"] or "",
        },
        judge=judge_scores(db, [sample_id]).get(sample_id, {}),
        reviews=review_history(db, sample_id),
        judge_rationale=(rationale[0] or "") if rationale else "",
        warnings=warnings,
    )


# --- writing ---------------------------------------------------------------------------------


def check_review(
    reviewer: str, verdict: str | None, scores: dict[str, int], note: str, source: str
) -> list[str]:
    """What is wrong with a review, each with its fix (empty when it can be stored).

    >>> check_review("Dr A", "accept", {"accuracy": 5}, "", "tui")
    []
    >>> check_review("", "maybe", {"accuracy": 6}, "", "tui")[0]
    'no reviewer name: give the reviewer name (who signs this review)'
    """
    problems = []
    if not reviewer.strip():
        problems.append("no reviewer name: give the reviewer name (who signs this review)")
    if verdict is not None and verdict not in VERDICTS:
        problems.append(f"verdict {verdict!r} is not accept or reject: use accept, reject or none")
    for criterion, score in scores.items():
        if criterion not in CRITERIA:
            problems.append(f"unknown criterion {criterion!r}: score only {', '.join(CRITERIA)}")
        elif isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            problems.append(
                f"{criterion} score {score!r} is not a whole number from 1 to 5: "
                "give 1 (worst) to 5 (best), or leave it out"
            )
    if source not in SOURCES:
        problems.append(f"unknown review source {source!r}: use one of {', '.join(SOURCES)}")
    if verdict is None and not scores and not note.strip():
        problems.append("the review is empty: accept or reject, score a criterion or write a note")
    return problems


def save_review(
    db: sqlite_utils.Database,
    sample_id: int,
    reviewer: str,
    verdict: str | None,
    scores: dict[str, int],
    note: str,
    source: str = "tui",
) -> int:
    """Store one review (it becomes ``reviewer``'s latest for the sample); returns its id.

    Raises InputError, naming what to fix, for an empty reviewer name, a verdict other than
    accept / reject / None, a score outside 1..5 or for an unknown criterion, an empty review, or
    an unknown sample.
    """
    problems = check_review(reviewer, verdict, scores, note, source)
    if problems:
        raise InputError(
            problems[0].split(": ", 1)[0],
            source=f"review of sample {sample_id}",
            hint="; ".join(p.split(": ", 1)[-1] for p in problems),
        )
    if db.execute("SELECT 1 FROM samples WHERE id = ?", [sample_id]).fetchone() is None:
        sample_row(db, sample_id)  # raises with the fix
    row: dict[str, Any] = {
        "sample_id": sample_id,
        "reviewer": reviewer.strip(),
        "verdict": verdict,
        **{c: scores.get(c) for c in CRITERIA},
        "note": note.strip(),
        "source": source,
        "created_at": utc_now(),
    }
    with db.conn:
        table = db.table("reviews").insert(row)
    return int(table.last_pk or 0)


def save_judgement(
    db: sqlite_utils.Database,
    sample_id: int,
    scores: dict[str, int],
    rationale: str,
    *,
    model: str,
    template: str,
    template_version: str,
    call_id: int | None,
    run_id: int | None,
) -> int:
    """Store the judge's scores of one sample (one row per criterion, one transaction; a
    criterion already scored by this model and template version is kept). Returns rows added."""
    shared = {
        "sample_id": sample_id,
        "rationale": rationale,
        "model": model,
        "template": template,
        "template_version": template_version,
        "call_id": call_id,
        "run_id": run_id,
        "created_at": utc_now(),
    }
    rows = [{**shared, "criterion": c, "score": int(scores[c])} for c in CRITERIA]
    with db.conn:
        before = db.execute("SELECT count(*) FROM judgements").fetchone()[0]
        db.table("judgements").insert_all(rows, ignore=True)
        after = db.execute("SELECT count(*) FROM judgements").fetchone()[0]
    return int(after - before)


def judged_ids(db: sqlite_utils.Database, model: str, template_version: str) -> set[int]:
    """Samples that ``model`` has scored on every criterion with this template version."""
    return {
        r[0]
        for r in db.execute(
            "SELECT sample_id FROM judgements WHERE model = ? AND template_version = ? "
            "GROUP BY sample_id HAVING count(DISTINCT criterion) = ?",
            [model, template_version, len(CRITERIA)],
        )
    }


def review_stats(db: sqlite_utils.Database) -> dict[str, Any]:
    """Reviews in numbers: samples reviewed, verdicts and acceptance rate, mean reviewer and
    judge score per criterion, and agreement between judge and reviewers (Spearman per
    criterion, Cohen's kappa on accept / reject); see :mod:`medsynth.review.summary`."""
    from medsynth.review.summary import review_numbers

    return review_numbers(db)
