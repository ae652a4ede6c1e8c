"""``medsynth ingest``: read a dataset, verify and hash its images, run the filters, store records.

Resumable and idempotent: items are handled in input order and records are inserted with
``INSERT OR IGNORE`` keyed by (dataset, key), committed every ``batch_size`` records, so a kill
loses at most the batch in flight. A re-run skips stored keys but replays their effect on the
duplicate filters (kept hashes and contexts, in the same order), so it ends with exactly the
records an uninterrupted run gives.

Patient data: the text of captioned formats (pubmedvision, folder, dicom) passes the PHI check
(:mod:`medsynth.ingest.phi`) before anything is stored. ``block`` rejects the item, ``warn``
stores the text with ``[REDACTED]`` in place of each finding; either way the report counts the
findings by kind and nothing stored (records, rejects, run summaries) repeats what was found.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medsynth.errors import InputError
from medsynth.ingest import filters as F
from medsynth.ingest.datasets import IngestReport
from medsynth.ingest.images import ImageInfo, inspect_image, store_png
from medsynth.ingest.phi import PHI_MODES, PhiMode, count_kinds, describe, find_phi, redact
from medsynth.ingest.queries import STAGE, dataset_id, dataset_totals, stored_records
from medsynth.ingest.sources import BadItem, Format, RawItem, Source, open_source
from medsynth.store.db import insert_rows
from medsynth.store.runs import RunRecorder, record_reject, utc_now
from medsynth.workspace import Workspace

Progress = Callable[[int, int], Any]  # (items seen, items total; 0 when not known in advance)
CHUNK = 64  # items decided together (their contexts are embedded in one call)
DICOM_FOLDER = ("images", "dicom")


@dataclass
class _Pending:
    item: RawItem
    infos: list[ImageInfo]
    stored: tuple[str, list[str]] | None = None  # (status, phashes) of a record already stored
    failure: str | None = None
    vector: npt.NDArray[np.float32] | None = None


class _Ingester:
    def __init__(
        self,
        ws: Workspace,
        report: IngestReport,
        source: Source,
        settings: F.FilterSettings,
        run_id: int | None,
        batch_size: int,
        progress: Progress | None = None,
        phi: PhiMode | None = None,
    ) -> None:
        self.ws, self.db, self.report, self.source = ws, ws.db, report, source
        self.phi = phi
        self.settings, self.enabled = settings, set(settings.enabled)
        self.run_id, self.batch_size = run_id, batch_size
        self.progress = progress
        self.vocabulary = F.Vocabulary.from_workspace(ws.db)
        report.vocabulary_terms = len(self.vocabulary)
        texts = F.TEXT_DUPLICATE in self.enabled  # stored contexts are needed only then
        self.stored = stored_records(self.db, report.dataset_id, texts)
        self.seen: set[str] = set()
        self.phashes, self.texts = F.PhashIndex(), F.TextIndex()
        self.rows: list[dict[str, Any]] = []
        self.bad: list[BadItem] = []
        self.backlog: list[RawItem] = []  # stored kept records not embedded yet

    def run(self) -> None:
        chunk: list[_Pending] = []
        for seen, item in enumerate(self.source.items, 1):
            if isinstance(item, BadItem):
                self.reject(item)
            elif (pending := self.prepare(item)) is not None:
                chunk.append(pending)
            if len(chunk) >= max(1, min(CHUNK, self.batch_size - len(self.rows))):
                self.decide(chunk)
                chunk = []
            if len(self.rows) >= self.batch_size or len(self.bad) >= self.batch_size:
                self.flush()
            if self.progress is not None:
                # sources are read lazily, so the total is not known in advance (0); a progress
                # callback that raises (a cancel) stops here: flushed batches stay written
                self.progress(seen, 0)
        self.decide(chunk)
        self.flush()

    def reject(self, bad: BadItem) -> None:
        if self.phi is not None and bad.raw:  # a raw row quotes the text: never store PHI
            bad = BadItem(bad.source, bad.reason, redact(bad.raw), bad.hint)
        self.report.rejects.append(bad)
        self.bad.append(bad)

    def prepare(self, item: RawItem) -> _Pending | None:
        if item.key in self.seen:
            self.reject(
                BadItem(
                    item.source,
                    f"duplicate key {item.key!r} (an earlier item)",
                    item.raw,
                    hint="remove the repeated row or file",
                )
            )
            return None
        self.seen.add(item.key)
        if item.key in self.stored:
            status, phashes, context = self.stored[item.key]
            item.context = context
            return _Pending(item, [], stored=(status, phashes))
        if self.phi is not None and not self.check_phi(item):
            return None
        try:
            if item.render is not None:
                folder = self.ws.path(*DICOM_FOLDER)
                infos = [store_png(im, folder, "/".join(DICOM_FOLDER)) for im in item.render()]
            else:
                root, limit = self.source.root, self.ws.config.images.max_pixels
                infos = [inspect_image(root, path, limit) for path in item.images]
        except InputError as exc:
            # the reject names the row (or file) of the item, and says which image failed
            reason = exc.message
            if item.render is None and exc.source and exc.source != item.source:
                reason = f"image {exc.source}: {exc.message}"
            self.reject(BadItem(item.source, reason, item.raw, hint=exc.hint))
            return None
        found = self.vocabulary.find(item.context)
        item.meta["medical_terms"] = found
        if len(infos) > 1:
            item.meta["sizes"] = [[i.width, i.height] for i in infos]
        failure = None
        if F.RESOLUTION in self.enabled:
            failure = F.resolution_failure([(i.width, i.height) for i in infos], self.settings)
        if failure is None and F.MEDICAL_TERMS in self.enabled:
            failure = F.terms_failure(found, self.settings)
        return _Pending(item, infos, failure=failure)

    def check_phi(self, item: RawItem) -> bool:
        """Apply the PHI check to the item's text; False when it is rejected (``block``)."""
        findings = find_phi(item.context, item.identity)
        tags = item.meta.get("tags")
        tag_findings = (
            {k: find_phi(v, item.identity) for k, v in tags.items() if isinstance(v, str)}
            if isinstance(tags, dict)
            else {}
        )
        if not findings and not any(tag_findings.values()):
            return True
        counts = count_kinds(findings) or sum(
            (count_kinds(f) for f in tag_findings.values()), start=count_kinds([])
        )
        self.report.phi_records += 1
        self.report.phi_found.update(counts)
        if self.phi == "block":
            self.reject(
                BadItem(
                    item.source,
                    f"possible patient data in the text ({describe(counts)}); not stored",
                    redact(item.raw),
                    hint="remove it from the source, or ingest with --phi warn to keep the "
                    "text with [REDACTED] in its place",
                )
            )
            return False
        item.context = redact(item.context, findings)
        if isinstance(tags, dict):
            item.meta["tags"] = {k: redact(v, tag_findings.get(k)) for k, v in tags.items()}
        item.meta["phi_redacted"] = dict(counts)
        return True

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        from medsynth.backends.encoders import text_encoder

        return text_encoder(self.ws.config.models.text_encoder).encode_text(texts)

    def decide(self, chunk: list[_Pending]) -> None:
        new = [p for p in chunk if p.stored is None and p.failure is None]
        if F.TEXT_DUPLICATE in self.enabled and new:
            for p, vector in zip(new, self.encode([p.item.context for p in new]), strict=True):
                p.vector = vector
        for p in chunk:
            if p.stored is not None:
                self.report.records_existing += 1
                if p.stored[0] == "kept":
                    self.phashes.add(p.stored[1], p.item.key)
                    if F.TEXT_DUPLICATE in self.enabled:
                        self.backlog.append(p.item)
                continue
            phashes = [i.phash for i in p.infos]
            if p.failure is None and F.IMAGE_DUPLICATE in self.enabled:
                near = self.phashes.nearest(phashes)
                if near is not None and near[0] <= self.settings.dedup_phash_distance:
                    p.failure = (
                        f"{F.IMAGE_DUPLICATE}: perceptual hash {near[0]} bit(s) from {near[1]}"
                    )
            if p.failure is None and p.vector is not None:
                self.embed_backlog()
                similar = self.texts.nearest(p.vector)
                if similar is not None and similar[0] >= self.settings.dedup_text_threshold:
                    p.failure = f"{F.TEXT_DUPLICATE}: cosine {similar[0]:.3f} to {similar[1]}"
            if p.failure is None:
                self.phashes.add(phashes, p.item.key)
                if p.vector is not None:
                    self.texts.add(p.vector, p.item.key)
                self.report.kept_new += 1
            else:
                self.report.filtered_new[p.failure.split(":", 1)[0]] += 1
            self.rows.append(self.row(p))

    def embed_backlog(self) -> None:
        """Embed the kept records found already stored (a resumed run), in input order, only
        once a new context needs comparing: re-running a finished dataset loads no model."""
        if self.backlog:
            vectors = self.encode([item.context for item in self.backlog])
            for item, vector in zip(self.backlog, vectors, strict=True):
                self.texts.add(vector, item.key)
            self.backlog = []

    def row(self, p: _Pending) -> dict[str, Any]:
        """A ``records`` row (filtered items are kept too, with the reason)."""
        item, infos = p.item, p.infos
        return {
            "dataset_id": self.report.dataset_id,
            "key": item.key,
            "images": json.dumps([i.path for i in infos]),
            "image_sha256": json.dumps([i.sha256 for i in infos]),
            "phash": json.dumps([i.phash for i in infos]),
            "width": infos[0].width if infos else None,
            "height": infos[0].height if infos else None,
            "context": item.context,
            "context_derived": int(item.context_derived),
            "meta": json.dumps(item.meta, ensure_ascii=False, sort_keys=True, default=str),
            "status": "filtered" if p.failure else "kept",
            "filter_reason": p.failure,
            "run_id": self.run_id,
            "created_at": utc_now(),
        }

    def flush(self) -> None:
        if not self.rows and not self.bad:
            return
        with self.db.conn:
            if self.rows:
                new = insert_rows(self.db.conn, "records", self.rows, conflict="IGNORE")
                self.report.records_new += new
            for bad in self.bad:
                raw = json.dumps({"dataset": self.report.dataset, "raw": bad.raw}, sort_keys=True)
                record_reject(
                    self.db,
                    stage=STAGE,
                    source=bad.source,
                    raw=raw,
                    reason=bad.stored_reason(),
                    run_id=self.run_id,
                )
        self.rows, self.bad = [], []


CAPTIONED_FORMATS = ("pubmedvision", "folder")
PHI_FORMATS = ("pubmedvision", "folder", "dicom")  # formats whose text a person wrote


def _format_options(
    fmt: Format,
    path: Path,
    source: Source,
    language: str,
    split: str,
    frames: str,
    text_tags: tuple[str, ...],
    keep_filenames: bool,
) -> dict[str, Any]:
    """What defines a dataset of ``fmt`` besides its filters (recorded with the dataset)."""
    by_format: dict[str, dict[str, Any]] = {
        "slake": {"language": language, "split": split},
        "vqa-rad": {"split": split},
        "dicom": {
            "frames": frames,
            "source": str(source.root),
            "text_tags": list(text_tags),
            "keep_filenames": keep_filenames,
        },
        "pubmedvision": {"file": str(path.expanduser().resolve())},
    }
    return by_format.get(fmt, {})


def _phi_mode(fmt: Format, phi: PhiMode | None) -> PhiMode | None:
    """The PHI check's mode for ``fmt`` (None: the format's text is not written by a person)."""
    if phi is not None and phi not in PHI_MODES:
        raise InputError(f"bad --phi {phi!r}", hint="use block or warn")
    if fmt not in PHI_FORMATS:
        return None
    return phi or ("block" if fmt == "dicom" else "warn")


def ingest(
    ws: Workspace,
    path: Path,
    fmt: Format,
    *,
    name: str | None = None,
    language: str = "en",
    split: str = "train",
    frames: str = "middle",
    root: Path | None = None,
    filters: bool | None = None,
    batch_size: int = 200,
    progress: Progress | None = None,
    phi: PhiMode | None = None,
    dicom_text_tags: str | tuple[str, ...] = (),
    keep_filenames: bool = False,
) -> IngestReport:
    """Ingest ``path`` in ``fmt`` into the workspace as dataset ``name`` (see module doc).

    ``filters`` defaults to on for captioned formats (pubmedvision, folder) and off for formats
    whose context is derived from annotations (slake, vqa-rad, dicom): PubMedVision's filters
    judge captions, and templated question-answer text looks near-duplicate to any embedding.
    ``progress(items_seen, 0)`` is called after each input item (the total is not known before
    the source is read); an exception it raises stops the run with finished batches kept.
    ``phi`` is the PHI check's mode for pubmedvision, folder and dicom text (default ``block``
    for dicom, ``warn`` for the others); ``dicom_text_tags`` (comma-separated) are the DICOM
    free-text tags to read; ``keep_filenames`` keys DICOM records by file name (see ``dicom.py``).
    """
    from medsynth.ingest.dicom import parse_text_tags

    if filters is None:
        filters = fmt in CAPTIONED_FORMATS
    phi_mode = _phi_mode(fmt, phi)
    text_tags = parse_text_tags(dicom_text_tags)
    if batch_size < 1:
        raise InputError("--batch-size must be at least 1", hint="the default is 200")
    started = time.perf_counter()
    source = open_source(
        path,
        fmt,
        language=language,
        split=split,
        frames=frames,
        root=root,
        max_pixels=ws.config.images.max_pixels,
        dicom_text_tags=text_tags,
        keep_filenames=keep_filenames,
    )
    settings = F.FilterSettings.from_config(ws.config.ingest) if filters else F.FilterSettings.off()
    options: dict[str, Any] = {"filters": settings.as_dict() if filters else None}
    options |= _format_options(
        fmt, path, source, language, split, frames, text_tags, keep_filenames
    )
    if phi_mode is not None:
        options["phi"] = phi_mode
    dataset_root = ws.root if fmt == "dicom" else source.root
    name = name or source.default_name
    config = {"path": str(path), "format": fmt, "name": name, "options": options}
    with RunRecorder(ws.db, "ingest", config) as run:
        report = IngestReport(
            dataset=name,
            dataset_id=dataset_id(ws, name, fmt, dataset_root, options),
            format=fmt,
            root=str(dataset_root),
            files=source.files,
            filters=options["filters"],
            vocabulary_terms=0,
            phi_mode=phi_mode,
        )
        job = _Ingester(ws, report, source, settings, run.run_id, batch_size, progress, phi_mode)
        job.run()
        report.totals = dataset_totals(ws, report.dataset_id, name)
        report.seconds = time.perf_counter() - started
        summary = report.as_dict()
        summary["rejects"] = summary["rejects"][:50]
        summary["rejects_total"] = len(report.rejects)
        run.summary = summary
    return report
