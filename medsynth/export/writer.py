"""The export run: select the samples, check each row, write images and data files as they come,
then the dataset card and, last, the manifest (see :mod:`medsynth.export`)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from medsynth.errors import FolderNotEmptyError, InputError
from medsynth.export import card, queries
from medsynth.export.formats import FORMATS, RENDER, ExportSample, dataset_info, grpo_eligible
from medsynth.export.images import IMAGES_DIR, ImageStore, SkipSample
from medsynth.files import open_private, private_dir, write_private
from medsynth.review.summary import SELECT_KEYS, left_out_text, select_samples
from medsynth.store.runs import RunRecorder, record_reject
from medsynth.synth.model import GENERATORS
from medsynth.workspace import Workspace

_KNOWN_FILES = {
    *FORMATS.values(),
    *(name.replace(".", "_eval.", 1) for name in FORMATS.values()),
    "dataset_info.json",
    "dataset_card.md",
    "manifest.json",
}
_OUR_IMAGE = re.compile(r"^[0-9a-f]{16}\.(png|jpg)$")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """A selected sample the export could not write, and why (the reason names no file)."""

    sample_id: int
    reason: str


@dataclass
class ExportReport:
    """What one export wrote."""

    out: Path
    format: str
    files: list[str] = field(default_factory=list)  # relative to ``out``, manifest last
    samples: int = 0
    train: int = 0
    eval: int = 0
    images: int = 0
    selected: int = 0  # rows matching generators + status
    not_eligible: int = 0  # selected rows this format cannot use (trl-grpo: no key answer)
    skipped: list[Skipped] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)  # by reviews and judge scores
    by_generator: dict[str, int] = field(default_factory=dict)
    by_sample_type: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return asdict(self) | {"out": str(self.out)}


# --- files -----------------------------------------------------------------------------------


class _Sink:
    """One output file: a JSON list (one record a line) or JSON Lines, written as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.jsonl = path.suffix == ".jsonl"
        self.handle: IO[str] = os.fdopen(open_private(path), "w", encoding="utf-8")
        self.count = 0
        if not self.jsonl:
            self.handle.write("[")

    def write(self, record: dict[str, Any]) -> None:
        text = json.dumps(record, ensure_ascii=False)
        if self.jsonl:
            self.handle.write(text + "\n")
        else:
            self.handle.write(("," if self.count else "") + "\n" + text)
        self.count += 1

    def close(self) -> None:
        if not self.jsonl:
            self.handle.write("\n]\n" if self.count else "]\n")
        self.handle.close()


def _prepare_out(ws: Workspace, out: Path, force: bool) -> Path:
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", source=str(out), hint="choose a new folder")
    if ws.root.is_relative_to(out):
        raise InputError(
            "the export folder holds the workspace",
            source=str(out),
            hint=f"export into a new folder, e.g. {ws.root / 'exports' / 'NAME'}",
        )
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise FolderNotEmptyError(
                "the export folder is not empty",
                source=str(out),
                hint="choose a new folder, or pass --force to replace the export in it",
            )
        for child in out.iterdir():  # only what an export writes; anything else stays
            if child.name in _KNOWN_FILES and (child.is_file() or child.is_symlink()):
                child.unlink()
        images = out / IMAGES_DIR
        if images.is_dir() and not images.is_symlink():
            for child in images.iterdir():
                if _OUR_IMAGE.match(child.name) and (child.is_file() or child.is_symlink()):
                    child.unlink()
    private_dir(out)
    if (out / IMAGES_DIR).is_symlink():
        raise InputError("images/ is a symbolic link", source=str(out), hint="remove it")
    private_dir(out / IMAGES_DIR)
    return out


# --- selection -------------------------------------------------------------------------------


def _generators(ws: Workspace, generators: list[str] | None) -> list[str]:
    if not generators:
        return list(GENERATORS)
    present = queries.present_generators(ws.db)
    wanted = [g.strip() for item in generators for g in item.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in GENERATORS and g not in present]
    if unknown or not wanted:
        raise InputError(
            f"unknown generator(s): {', '.join(unknown) or '(none given)'}",
            hint=f"choose among {', '.join(GENERATORS)}",
        )
    return list(dict.fromkeys(wanted))


def _json_list(raw: str | None, kind: type, column: str) -> list[Any]:
    if raw is None or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SkipSample(f"malformed JSON in {column}", f"{column}: {exc}") from exc
    if not isinstance(value, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in value
    ):
        raise SkipSample(f"{column} is not a list of {kind.__name__}", f"{column}: {raw[:200]}")
    return value


def _sample(row: dict[str, Any], images: ImageStore, fmt: str) -> ExportSample:
    """Check one row and put its images into the export; raises ``SkipSample``."""
    if row["dataset_root"] is None:
        raise SkipSample("record or dataset missing", f"record {row['record_id']}")
    raw_images = _json_list(row["images"], str, "images")
    triples = _json_list(row["path_triples"], int, "path_triples")
    entities = _json_list(row["path_entities"], str, "path_entities")
    text = {k: (row[k] or "").strip() for k in ("question", "answer", "key_answer", "ground_truth")}
    if not text["question"]:
        raise SkipSample("empty question")
    if fmt != "trl-grpo" and not text["answer"]:
        raise SkipSample("empty answer")
    root = Path(row["dataset_root"]).resolve()
    pending = []
    for number, raw in enumerate(raw_images, 1):
        try:
            pending.append(images.prepare(root, raw))
        except SkipSample as skip:
            label = f"image {number} of {len(raw_images)}"
            raise SkipSample(f"{label}: {skip.reason}", f"{label}: {skip.detail}") from skip
    return ExportSample(
        id=row["id"],
        record_id=row["record_id"],
        generator=row["generator"],
        sample_type=row["sample_type"],
        question=text["question"],
        answer=text["answer"],
        key_answer=text["key_answer"],
        ground_truth=text["ground_truth"],
        system=(row["system"] or "").strip(),
        images=[images.commit(p) for p in pending],
        path_triples=triples,
        path_entities=entities,
        model=row["model"] or "",
        template=row["template"] or "",
        template_version=row["template_version"] or "",
        seed=row["seed"],
        run_id=row["run_id"],
    )


def held_out(record_id: int, fraction: float, seed: int | None) -> bool:
    """Whether a record goes to the evaluation split: a hash of (seed, record) below
    ``fraction``, so a record stays on the same side across exports with the same seed."""
    digest = hashlib.sha256(f"medsynth-split:{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


# --- the export ------------------------------------------------------------------------------


def export_samples(
    ws: Workspace,
    out: Path,
    fmt: str,
    *,
    generators: list[str] | None = None,
    include_contaminated: bool = False,
    link: bool = False,
    limit: int | None = None,
    seed: int | None = None,
    force: bool = False,
    split_eval: float | None = None,
    progress: Progress | None = None,
    min_score: float | None = None,
    reviewed_only: bool = False,
) -> ExportReport:
    """Write the kept samples (of ``generators``; contaminated ones too on request) to ``out`` in
    format ``fmt`` (see :data:`FORMATS`), with images, dataset card and manifest.

    Samples go in id order, or shuffled with ``seed``; ``limit`` caps the samples written;
    ``split_eval`` holds out about that fraction of records into ``*_eval`` files;
    ``progress(rows looked at, rows selected)`` is called after each row. Samples a reviewer
    rejected are left out; ``min_score`` and ``reviewed_only``: see ``review.data.select_samples``.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    if split_eval is not None and not 0.0 < split_eval < 1.0:
        raise InputError(
            f"--split-eval {split_eval} is not a fraction", hint="pass a number between 0 and 1"
        )
    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit} is below 1", hint="pass a positive number")
    chosen = _generators(ws, generators)
    statuses = ["kept", "contaminated"] if include_contaminated else ["kept"]
    selection = {
        "generators": chosen,
        "statuses": statuses,
        "include_contaminated": include_contaminated,
        "link": link,
        "limit": limit,
        "seed": seed,
        "split_eval": split_eval,
        "min_score": min_score,
        "reviewed_only": reviewed_only,
    }
    ids = _selected_ids(ws, selection)
    if seed is not None:
        random.Random(seed).shuffle(ids)
    out = _prepare_out(ws, out, force)
    job = _Export(ws, out, fmt, selection)
    job.report.selected = len(ids)
    with RunRecorder(ws.db, "export", {"out": str(out), "format": fmt, **selection}) as run:
        job.report.run_id = run.run_id
        job.write_samples(ids, progress)
        job.finish()
        run.summary = {k: v for k, v in job.report.as_dict().items() if k != "skipped"}
        run.summary["skipped"] = len(job.report.skipped)
    return job.report


def _selected_ids(ws: Workspace, sel: dict[str, Any]) -> list[int]:
    ids, sel["left_out"] = select_samples(ws.db, **{k: sel[k] for k in SELECT_KEYS})
    if not ids:
        raise InputError(
            f"no {' or '.join(sel['statuses'])} samples from {', '.join(sel['generators'])}"
            + left_out_text(sel["left_out"]),
            source=str(ws.root),
            hint="run `medsynth synth` first, or choose other --generators or review options",
        )
    return ids


class _Export:
    """One export in progress: its output files, images, counts and skipped rows."""

    def __init__(self, ws: Workspace, out: Path, fmt: str, selection: dict[str, Any]) -> None:
        self.ws = ws
        self.out = out
        self.fmt = fmt
        self.selection = selection
        self.report = ExportReport(out=out, format=fmt, left_out=selection["left_out"])
        self.stats = card.ExportStats()
        self.images = ImageStore(out / IMAGES_DIR, ws.config.images.max_pixels, selection["link"])
        self.details: list[tuple[int, str, str]] = []  # skipped: id, reason, detail with paths
        name = FORMATS[fmt]
        self.data_files = [name]
        if selection["split_eval"] is not None:
            self.data_files.append(name.replace(".", "_eval.", 1))

    def write_samples(self, ids: list[int], progress: Progress | None) -> None:
        """Check, render and write the rows of ``ids`` in order, up to the limit."""
        limit, split = self.selection["limit"], self.selection["split_eval"]
        report = self.report
        sinks = [_Sink(self.out / name) for name in self.data_files]
        try:
            for done, row in enumerate(queries.export_rows(self.ws.db, ids), 1):
                if limit is not None and report.samples >= limit:
                    break
                if self.fmt == "trl-grpo" and not grpo_eligible(row):
                    report.not_eligible += 1
                elif sample := self._sample(row):
                    to_eval = split is not None and held_out(
                        sample.record_id, split, self.selection["seed"]
                    )
                    sinks[1 if to_eval else 0].write(RENDER[self.fmt](sample))
                    self.stats.add(sample, held_out=to_eval)
                    report.samples += 1
                if progress is not None:
                    progress(done, len(ids))
        finally:
            for sink in sinks:
                sink.close()

    def _sample(self, row: dict[str, Any]) -> ExportSample | None:
        try:
            return _sample(row, self.images, self.fmt)
        except SkipSample as skip:
            self.report.skipped.append(Skipped(row["id"], skip.reason))
            self.details.append((row["id"], skip.reason, skip.detail))
            return None

    def finish(self) -> None:
        """Counts, warnings, rejects, then dataset_info.json, the card and the manifest."""
        report, stats, out = self.report, self.stats, self.out
        report.train, report.eval = stats.train, stats.eval
        report.images = len(self.images.names)
        report.by_generator = dict(sorted(stats.by_generator.items()))
        report.by_sample_type = dict(sorted(stats.by_sample_type.items()))
        if self.fmt == "sharegpt":
            self.data_files.append("dataset_info.json")
            with_eval = self.selection["split_eval"] is not None
            write_private(out / "dataset_info.json", dataset_info(with_eval))
        if report.samples == 0:
            report.warnings.append("no sample could be exported: see the skipped list")
        if self.selection["split_eval"] is not None and (stats.eval == 0 or stats.train == 0):
            report.warnings.append(
                f"the evaluation split holds {stats.eval} of {report.samples} sample(s): "
                "too few records for this fraction"
            )
        with self.ws.db.conn:
            for sample_id, reason, detail in self.details:
                record_reject(
                    self.ws.db,
                    stage="export",
                    source=f"sample {sample_id}",
                    raw=detail,
                    reason=reason,
                    run_id=report.run_id,
                )
        counts = {
            "selected": report.selected,
            "not_eligible": report.not_eligible,
            "samples": report.samples,
            "train": report.train,
            "eval": report.eval,
            "eval_records": len(stats.eval_records),
            "images": report.images,
            "skipped": len(report.skipped),
        }
        manifest = card.build_manifest(
            self.ws,
            fmt=self.fmt,
            export_run_id=report.run_id,
            selection=self.selection,
            data_files=self.data_files,
            counts=counts,
            stats=stats,
            skipped=[{"sample_id": s.sample_id, "reason": s.reason} for s in report.skipped],
            warnings=report.warnings,
        )
        write_private(out / "dataset_card.md", card.render_card(manifest).encode())
        files = [*self.data_files, "dataset_card.md"]
        files += [f"{IMAGES_DIR}/{name}" for name in sorted(self.images.names)]
        manifest["files"] = [card.file_entry(out, f) for f in files]
        write_private(out / "manifest.json", card.manifest_json(manifest))
        report.files = [*self.data_files, "dataset_card.md", "manifest.json"]
