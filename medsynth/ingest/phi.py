"""A patient-data (PHI) check for the free text that ingest stores: captions and DICOM text tags.

Patterns, not a model: DICOM person names (``DOE^JOHN``), capitalised names next to a patient cue
(``patient``, ``Mr``, ``Dr``, ``referred by`` ...) or next to another finding (``Johnathan Doe
PHIMRN778899``), hospital names, record numbers (runs of 6+ digits, letters followed by 5+
digits, anything after ``MRN``/``ID``), dates in the usual written forms, phone numbers and
e-mail addresses. It is a
safety net that errs towards finding too much; it cannot promise to find every name in free text,
which is why DICOM free-text tags stay unread unless asked for. For DICOM the check also takes
the file's own identity values (``known``: name parts, IDs, physicians) and finds them in any case,
which catches the names with no cue that the patterns miss (``CT CHEST JOHN DOE``).

:func:`find_phi` returns the spans; :func:`redact` replaces them with ``[REDACTED]``. Neither
returns or logs the matched text itself, so a report can count findings without repeating them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

PhiMode = Literal["block", "warn"]
PHI_MODES: tuple[PhiMode, ...] = ("block", "warn")
REDACTED = "[REDACTED]"
KINDS = ("name", "record_number", "date", "phone", "email", "institution")
MIN_KNOWN = 3  # shorter known identifiers (initials, "MR") would match ordinary words

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WORD = r"[A-Z][a-z][A-Za-z'\-]*"  # a capitalised word: Johnathan, O'Neil, Smith-Jones
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    # DICOM PN: family^given^middle^prefix^suffix
    ("name", re.compile(r"\b[A-Za-z][A-Za-z'\-]*(?:\^[A-Za-z'\-.]*)+")),
    (
        "date",
        re.compile(
            r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"
            rf"\d{{1,2}}(?:st|nd|rd|th)?[ \-]{_MONTHS}\.?[ \-,]+\d{{2,4}}|"
            rf"{_MONTHS}\.?[ \-]\d{{1,2}}(?:st|nd|rd|th)?,?[ \-]\d{{4}}|"
            r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "phone",
        re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)|\d{3})[ .\-]\d{3}[ .\-]\d{4}\b"),
    ),
    (
        "record_number",
        re.compile(
            r"\b[A-Za-z]{1,10}[-#]?\d{5,}\b|\b\d{6,}\b",
            re.IGNORECASE,
        ),
    ),
)
_CUE = re.compile(  # the cue in any case, the name capitalised
    r"\b(?i:patient|pt\.?|name|mr\.?|mrs\.?|ms\.?|miss|dr\.?|doctor|prof\.?|physician|"
    r"referred\s+by|referring|attending|dictated\s+by|signed\s+by|surgeon|radiologist|"
    r"nurse)[:,]?\s+(?:(?i:dr|mr|mrs|ms|prof)\.?\s+)?"
    rf"({_WORD}(?:\s+{_WORD}){{0,2}})"
)
_INSTITUTION = re.compile(
    rf"\b(?:{_WORD}\s+){{1,4}}(?:Hospital|Clinic|Infirmary|Medical\s+Cent(?:er|re)|"
    r"Health(?:care)?\s+System)\b"
)
_RECORD_CUE = re.compile(  # the number after MRN / ID / accession (the cue word stays)
    r"\b(?i:MRN|ID|PID|patient\s+id|accession)\s*(?i:no\.?|number|#)?\s*[:#]?\s*"
    r"([A-Za-z0-9\-]*\d[A-Za-z0-9\-]*)"
)
_TITLE = re.compile(r"(?i:patient|mr|mrs|ms|miss|dr|doctor|prof)\.?\s+")
_NAME_RUN = re.compile(rf"{_WORD}(?:\s+{_WORD}){{1,2}}")
_ALLOWED = re.compile(r"\b(?:PMC|PMID:?\s?)\d+\b")  # publication ids are not patient data


@dataclass(frozen=True, slots=True)
class Finding:
    """One span of possible patient data (no copy of the text itself)."""

    kind: str
    start: int
    end: int


def _merge(spans: list[Finding]) -> list[Finding]:
    """Sorted, overlapping spans joined (the earlier span's kind wins)."""
    merged: list[Finding] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def _known_spans(text: str, known: Sequence[tuple[str, str]]) -> list[Finding]:
    """Whole-word, any-case occurrences of identifiers the input itself holds (a DICOM file's
    own patient name parts, IDs, physicians): they are found however the text is written,
    ``CT CHEST JOHN DOE`` included, which no name pattern can promise.

    >>> [(f.kind, f.start) for f in _known_spans("CT CHEST JOHN DOE", [("name", "Doe")])]
    [('name', 14)]
    """
    spans = []
    for kind, value in known:
        if len(value) < MIN_KNOWN:
            continue
        for match in re.finditer(rf"(?<![^\W_]){re.escape(value)}(?![^\W_])", text, re.I):
            spans.append(Finding(kind, match.start(), match.end()))
    return spans


def find_phi(text: str, known: Sequence[tuple[str, str]] = ()) -> list[Finding]:
    """Spans of ``text`` that look like patient data, in order, not overlapping; ``known`` adds
    ``(kind, value)`` identifiers that the input holds elsewhere (see :func:`_known_spans`)."""
    allowed = [(m.start(), m.end()) for m in _ALLOWED.finditer(text)]
    spans: list[Finding] = _known_spans(text, known)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(a <= match.start() and match.end() <= b for a, b in allowed):
                continue
            spans.append(Finding(kind, match.start(), match.end()))
    for match in _CUE.finditer(text):
        spans.append(Finding("name", match.start(1), match.end(1)))
    for match in _RECORD_CUE.finditer(text):
        spans.append(Finding("record_number", match.start(1), match.end(1)))
    for match in _INSTITUTION.finditer(text):
        spans.append(Finding("institution", match.start(), match.end()))
    # a run of capitalised words right before or after another finding: "Johnathan Doe MRN..."
    anchors = list(spans)
    for match in _NAME_RUN.finditer(text):
        for anchor in anchors:
            between = (
                text[match.end() : anchor.start]
                if match.end() <= anchor.start
                else text[anchor.end : match.start()]
                if anchor.end <= match.start()
                else "x"
            )
            if len(between) <= 3 and not between.strip(" ,;:-()"):
                title = _TITLE.match(text, match.start())  # "Patient Jane Roe": keep "Patient"
                start = title.end() if title else match.start()
                if start < match.end():
                    spans.append(Finding("name", start, match.end()))
                break
    return _merge(spans)


def count_kinds(findings: list[Finding]) -> Counter[str]:
    """Findings counted by kind."""
    return Counter(f.kind for f in findings)


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """``text`` with every finding replaced by ``[REDACTED]``."""
    spans = find_phi(text) if findings is None else findings
    for span in reversed(spans):
        text = text[: span.start] + REDACTED + text[span.end :]
    return text


def describe(counts: Counter[str]) -> str:
    """``2 name, 1 date`` (kinds only, never the text found)."""
    return ", ".join(f"{counts[kind]} {kind}" for kind in KINDS if counts[kind])
