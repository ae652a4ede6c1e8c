"""Parser for generic triple files: CSV, TSV or JSONL with ``head``, ``relation``, ``tail``.

Optional columns: ``head_type``, ``tail_type`` (disease/organ/system/other) and ``language``.
A folder is read file by file (``*.csv``, ``*.tsv``, ``*.jsonl``, ``*.ndjson``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.kg.model import ENTITY_TYPES, BadRow, EntityType, ParsedKG, RawTriple
from medsynth.kg.readers import read_lines, split_fields

DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
JSON_SUFFIXES = {".jsonl", ".ndjson"}
REQUIRED = ("head", "relation", "tail")


COLUMNS = ("head", "relation", "tail", "head_type", "tail_type", "language")
_TYPES: dict[str, EntityType | None] = {"": None, **{t: t for t in ENTITY_TYPES}}


def _entity_type(value: str) -> EntityType | BadRow | None:
    """The type named by ``value`` (None when empty); a BadRow placeholder when unknown."""
    kind = _TYPES.get(value, _MISSING)
    if kind is _MISSING:
        kind = _TYPES.get(value.lower(), _MISSING)
    if kind is _MISSING:
        return BadRow("", value, "")
    return kind


_MISSING: Any = object()


def _build(
    values: list[str], cols: list[int], source: str, raw: str, language: str, explicit: bool
) -> RawTriple | BadRow:
    """One triple from stripped field values; ``cols`` gives each of COLUMNS' position or -1."""
    head, relation, tail = values[cols[0]], values[cols[1]], values[cols[2]]
    if not (head and relation and tail):
        empty = "head" if not head else "relation" if not relation else "tail"
        return BadRow(source, raw, f"empty {empty}")
    types: list[EntityType | None] = [None, None]
    for slot, key in ((0, "head_type"), (1, "tail_type")):
        position = cols[3 + slot]
        if position >= 0:
            kind = _entity_type(values[position])
            if isinstance(kind, BadRow):
                return BadRow(
                    source,
                    raw,
                    f"unknown {key} {kind.raw.lower()!r} (use one of {', '.join(ENTITY_TYPES)})",
                )
            types[slot] = kind
    lang = (values[cols[5]] or language) if cols[5] >= 0 else language
    return RawTriple(head, relation, tail, source, lang, types[0], types[1], explicit)


def parse_delimited(
    path: Path, display: str, delimiter: str, language: str
) -> tuple[list[RawTriple], list[BadRow]]:
    """Parse a CSV/TSV triple file whose first line is a header naming the columns.

    The loop is written out flat: it runs once per row of files with millions of rows.
    """
    triples: list[RawTriple] = []
    bad: list[BadRow] = []
    lines = read_lines(path, display)
    header: list[str] | None = None
    for item in lines:
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        header = [f.lower() for f in split_fields(item[1], delimiter)]
        break
    if header is None:
        return triples, bad
    missing = [key for key in REQUIRED if key not in header]
    if missing:
        raise InputError(
            f"header row lacks column(s) {', '.join(missing)}",
            source=f"{display}:1",
            hint="the first line must name the columns: head, relation, tail "
            "[, head_type, tail_type, language]",
        )
    cols = [header.index(c) if c in header else -1 for c in COLUMNS]
    ih, ir, it, iht, itt, il = cols
    explicit = iht >= 0 or itt >= 0
    width = len(header)
    known_types = dict(_TYPES)
    append = triples.append
    for item in lines:
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        number, line = item
        fields = line.split(delimiter) if '"' not in line else split_fields(line, delimiter)
        source = f"{display}:{number}"
        if len(fields) != width:
            bad.append(BadRow(source, line, f"expected {width} fields, found {len(fields)}"))
            continue
        head, relation, tail = fields[ih].strip(), fields[ir].strip(), fields[it].strip()
        head_type = tail_type = None
        if explicit:
            head_type = known_types.get(fields[iht].strip(), _MISSING) if iht >= 0 else None
            tail_type = known_types.get(fields[itt].strip(), _MISSING) if itt >= 0 else None
            if head_type is _MISSING or tail_type is _MISSING or not (head and relation and tail):
                result = _build([f.strip() for f in fields], cols, source, line, language, True)
                if isinstance(result, BadRow):
                    bad.append(result)
                else:
                    append(result)
                continue
        elif not (head and relation and tail):
            empty = "head" if not head else "relation" if not relation else "tail"
            bad.append(BadRow(source, line, f"empty {empty}"))
            continue
        lang = (fields[il].strip() or language) if il >= 0 else language
        append(RawTriple(head, relation, tail, source, lang, head_type, tail_type, explicit))
    return triples, bad


def parse_jsonl(path: Path, display: str, language: str) -> tuple[list[RawTriple], list[BadRow]]:
    """Parse a JSON-lines triple file: one object per line."""
    triples: list[RawTriple] = []
    bad: list[BadRow] = []
    for item in read_lines(path, display):
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        number, line = item
        source = f"{display}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(source, line, f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(row, dict):
            bad.append(BadRow(source, line, "expected a JSON object with head, relation, tail"))
            continue
        values = [str(row.get(key) or "").strip() for key in COLUMNS]
        explicit = bool(values[3] or values[4])
        result = _build(values, list(range(len(COLUMNS))), source, line, language, explicit)
        if isinstance(result, BadRow):
            bad.append(result)
        else:
            triples.append(result)
    return triples, bad


def parse_triples(path: Path, language: str = "en") -> ParsedKG:
    """Parse a triple file, or every triple file in a folder."""
    if not path.exists():
        raise InputError("no such file or folder", source=str(path), hint="check the path")
    suffixes = set(DELIMITERS) | JSON_SUFFIXES
    files = (
        [path]
        if path.is_file()
        else sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() in suffixes)
    )
    if not files:
        raise InputError(
            "no triple files (.csv, .tsv, .jsonl) here",
            source=str(path),
            hint="point at a file or folder of head/relation/tail files",
        )
    parsed = ParsedKG(triples=[], aliases=[], bad_rows=[], files=[])
    for file in files:
        display = file.name
        suffix = file.suffix.lower()
        if suffix in JSON_SUFFIXES:
            triples, bad = parse_jsonl(file, display, language)
        elif suffix in DELIMITERS:
            triples, bad = parse_delimited(file, display, DELIMITERS[suffix], language)
        else:
            raise InputError(
                f"unknown triple file type {suffix!r}",
                source=str(file),
                hint="use .csv, .tsv or .jsonl",
            )
        parsed.files.append(display)
        parsed.triples.extend(triples)
        parsed.bad_rows.extend(bad)
    return parsed
