"""Review sheets: samples out to a CSV file a clinician fills in on any machine, reviews back in.

A sheet holds one row per sample: its id, a fingerprint of what was reviewed, the generator, the
question, answer, key answer, the record's context, the KG path, the judge's scores, and empty
columns to fill in: ``reviewer``, ``verdict`` (accept / reject), ``accuracy``, ``relevance``,
``completeness``, ``usefulness`` (1-5) and ``note``. Images are not in the sheet (only the sample
id): whoever reviews away from the workspace sees the text alone, or is sent the images apart.

The file is UTF-8 with a byte-order mark (so spreadsheet programs read Chinese text right) and is
written owner-only (0600). Cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``) are written with a leading ``'``, which the import ignores.

On import every row is checked before anything is stored: an unknown sample id, a fingerprint
that no longer matches the sample (the sample changed, or the row was edited to point at another
one), edited question or answer text, a verdict other than accept / reject, or a score outside
1-5 is an error naming the row (as a spreadsheet numbers it: the header is row 1) and the fix.
The other rows are stored as reviews (source ``csv``); rows left blank are skipped, and a row
identical to that reviewer's latest review of the sample is not stored twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.files import open_private
from medsynth.review import data
from medsynth.review.data import CRITERIA, Order
from medsynth.workspace import Workspace

SAMPLE_COLUMNS = (
    "sample_id",
    "fingerprint",
    "generator",
    "sample_type",
    "question",
    "answer",
    "key_answer",
    "context",
    "kg_path",
)
JUDGE_COLUMNS = tuple(f"judge_{c}" for c in CRITERIA)
REVIEW_COLUMNS = ("reviewer", "verdict", *CRITERIA, "note")
COLUMNS = (*SAMPLE_COLUMNS, *JUDGE_COLUMNS, *REVIEW_COLUMNS)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_VERDICT_WORDS = {
    "accept": "accept",
    "accepted": "accept",
    "a": "accept",
    "yes": "accept",
    "reject": "reject",
    "rejected": "reject",
    "r": "reject",
    "no": "reject",
}


@dataclass
class ExportedSheet:
    """What :func:`export_csv` wrote."""

    path: Path
    samples: int
    sample_ids: list[int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return asdict(self) | {"path": str(self.path)}


@dataclass
class RowError:
    """One sheet row that was not stored: its row number, sample id (if readable) and why."""

    row: int
    sample_id: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"row {self.row} (sample {self.sample_id or '?'}): {self.message}; fix: {self.fix}"


@dataclass
class ImportReport:
    """What :func:`import_csv` stored and refused."""

    path: Path
    rows: int = 0
    stored: int = 0
    blank: int = 0  # rows with nothing filled in
    unchanged: int = 0  # same as the reviewer's latest review: not stored twice
    review_ids: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return asdict(self) | {"path": str(self.path)}


def fingerprint(sample_id: int, row: dict[str, Any]) -> str:
    """A stable 16-hex hash of what a reviewer judges: the sample id and its generator,
    question, answer, key answer and image list."""
    content = [
        sample_id,
        row.get("generator") or "",
        row.get("question") or "",
        row.get("answer") or "",
        row.get("key_answer") or "",
        row.get("images") or "[]",
    ]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]


def _cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet will not run as a formula.

    >>> _cell("=HYPERLINK(1)"), _cell(3), _cell(None)
    ("'=HYPERLINK(1)", '3', '')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str | None) -> str:
    """A cell as it was before :func:`_cell` (and spreadsheet whitespace) touched it."""
    text = (text or "").strip()
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]
    return text


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _open_private(path: Path, force: bool) -> int:
    if path.exists() and not force:
        raise InputError(
            "the file exists", source=str(path), hint="choose a new file name, or pass --force"
        )
    if path.is_symlink():
        raise InputError("is a symbolic link", source=str(path), hint="choose a plain file name")
    return open_private(path)


def export_csv(
    ws: Workspace,
    path: Path,
    sample_ids: list[int] | None = None,
    *,
    order: Order = "random",
    generator: str | None = None,
    limit: int = 50,
    seed: int = 0,
    reviewer: str | None = None,
    unreviewed_only: bool = True,
    force: bool = False,
) -> ExportedSheet:
    """Write a review sheet for ``sample_ids``, or for the review queue chosen by the other
    options (see :func:`medsynth.review.data.queue`); ``reviewer`` fills the reviewer column."""
    ids = (
        list(sample_ids)
        if sample_ids is not None
        else data.queue(
            ws.db,
            order=order,
            generator=generator,
            limit=limit,
            seed=seed,
            reviewer=reviewer,
            unreviewed_only=unreviewed_only,
        )
    )
    if not ids:
        raise InputError(
            "no sample to review",
            source=str(ws.root),
            hint="run `medsynth synth` first, or pass --all to include reviewed samples",
        )
    path = path.expanduser().resolve()
    judge = data.judge_scores(ws.db, ids)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for sample_id in ids:
        row = data.sample_row(ws.db, sample_id)
        scores = judge.get(sample_id, {})
        writer.writerow(
            [
                sample_id,
                fingerprint(sample_id, row),
                row["generator"],
                row["sample_type"],
                *(
                    _cell(v)
                    for v in (
                        row["question"],
                        row["answer"],
                        row["key_answer"],
                        row["record_context"],
                        data.path_text(ws.db, row),
                    )
                ),
                *(scores.get(c, "") for c in CRITERIA),
                _cell(reviewer or ""),
                *([""] * (len(REVIEW_COLUMNS) - 1)),
            ]
        )
    with os.fdopen(_open_private(path, force), "w", encoding="utf-8-sig", newline="") as handle:
        handle.write(buffer.getvalue())
    return ExportedSheet(path=path, samples=len(ids), sample_ids=ids)


def _parse_score(criterion: str, text: str) -> int | None:
    """A 1-5 score cell (empty: None); raises ValueError with the message."""
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{criterion} {text!r} is not a number") from None
    if number != int(number) or not 1 <= number <= 5:
        raise ValueError(f"{criterion} {text!r} is not a whole number from 1 to 5")
    return int(number)


def _check_row(
    ws: Workspace, number: int, cells: dict[str, str], reviewer: str | None
) -> tuple[int, str, str | None, dict[str, int], str] | RowError | None:
    """``(sample id, reviewer, verdict, scores, note)`` of a filled row, an error, or None for a
    blank row."""
    raw_id = _uncell(cells.get("sample_id"))
    verdict_text = _uncell(cells.get("verdict")).lower()
    note = _uncell(cells.get("note"))
    score_cells = {c: _uncell(cells.get(c)) for c in CRITERIA}
    if not verdict_text and not note and not any(score_cells.values()):
        return None

    def error(message: str, fix: str) -> RowError:
        return RowError(number, raw_id, message, fix)

    if not raw_id.isdigit():
        return error(f"sample id {raw_id!r} is not a number", "restore the sample_id cell")
    sample_id = int(raw_id)
    try:
        row = data.sample_row(ws.db, sample_id)
    except InputError:
        return error(
            "no such sample in this workspace",
            "import the sheet into the workspace it was exported from",
        )
    if _uncell(cells.get("fingerprint")) != fingerprint(sample_id, row):
        return error(
            "the fingerprint does not match the sample (it changed since the sheet was "
            "written, or the row's id or fingerprint was edited)",
            "export a new sheet for this sample and review it again",
        )
    for column in ("question", "answer"):
        if column in cells and not _same_text(_uncell(cells[column]), row[column] or ""):
            return error(
                f"the {column} text was edited in the sheet",
                "review the sample as it was written: restore the text, or leave the row blank",
            )
    verdict = _VERDICT_WORDS.get(verdict_text) if verdict_text else None
    if verdict_text and verdict is None:
        return error(f"verdict {verdict_text!r} is not accept or reject", "write accept or reject")
    scores: dict[str, int] = {}
    for criterion, text in score_cells.items():
        try:
            score = _parse_score(criterion, text)
        except ValueError as exc:
            return error(str(exc), "write a whole number from 1 (worst) to 5 (best), or nothing")
        if score is not None:
            scores[criterion] = score
    name = _uncell(cells.get("reviewer")) or (reviewer or "").strip()
    if not name:
        return error("no reviewer", "fill in the reviewer column, or pass --reviewer NAME")
    return sample_id, name, verdict, scores, note


def import_csv(ws: Workspace, path: Path, reviewer: str | None = None) -> ImportReport:
    """Read a filled-in review sheet and store its reviews (source ``csv``); ``reviewer`` names
    the reviewer of rows whose reviewer cell is empty. Rows with errors are reported, not
    stored; the rest are stored."""
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the sheet: {exc}",
            source=str(path),
            hint="give the CSV file written by `medsynth review export` (saved as UTF-8 CSV)",
        ) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in ("sample_id", "fingerprint", *REVIEW_COLUMNS) if c not in header]
    if missing:
        raise InputError(
            f"not a review sheet: no column {', '.join(missing)}",
            source=str(path),
            hint="keep the header row of the sheet `medsynth review export` wrote",
        )
    report = ImportReport(path=path.resolve())
    ready: list[tuple[int, str, str | None, dict[str, int], str]] = []
    for number, cells in enumerate(reader, 2):  # the header is row 1
        report.rows += 1
        checked = _check_row(ws, number, cells, reviewer)
        if checked is None:
            report.blank += 1
        elif isinstance(checked, RowError):
            report.errors.append(checked)
        else:
            ready.append(checked)
    for sample_id, name, verdict, scores, note in ready:
        latest = data.latest_review(ws.db, sample_id, name)
        if latest and (latest.verdict, latest.scores, latest.note) == (verdict, scores, note):
            report.unchanged += 1
            continue
        report.review_ids.append(
            data.save_review(ws.db, sample_id, name, verdict, scores, note, source="csv")
        )
    report.stored = len(report.review_ids)
    return report
