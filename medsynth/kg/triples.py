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


def _entity_type(value: Any) -> EntityType | str | None:
    """A valid type, None for empty, or the offending text."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    return text if text in ENTITY_TYPES else f"!{text}"


def _row_to_triple(row: dict[str, Any], source: str, raw: str, language: str) -> RawTriple | BadRow:
    values = {key: str(row.get(key) or "").strip() for key in REQUIRED}
    for key in REQUIRED:
        if not values[key]:
            return BadRow(source, raw, f"empty {key}")
    types: list[EntityType | None] = []
    for key in ("head_type", "tail_type"):
        kind = _entity_type(row.get(key))
        if isinstance(kind, str) and kind.startswith("!"):
            return BadRow(
                source, raw, f"unknown {key} {kind[1:]!r} (use one of {', '.join(ENTITY_TYPES)})"
            )
        types.append(kind)  # type: ignore[arg-type]
    return RawTriple(
        values["head"],
        values["relation"],
        values["tail"],
        source,
        str(row.get("language") or language).strip() or language,
        types[0],
        types[1],
        explicit_types=True,
    )


def parse_delimited(
    path: Path, display: str, delimiter: str, language: str
) -> tuple[list[RawTriple], list[BadRow]]:
    """Parse a CSV/TSV triple file whose first line is a header naming the columns."""
    triples: list[RawTriple] = []
    bad: list[BadRow] = []
    header: list[str] | None = None
    for item in read_lines(path, display):
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        number, line = item
        fields = split_fields(line, delimiter)
        if header is None:
            header = [f.lower() for f in fields]
            missing = [key for key in REQUIRED if key not in header]
            if missing:
                raise InputError(
                    f"header row lacks column(s) {', '.join(missing)}",
                    source=f"{display}:1",
                    hint="the first line must name the columns: head, relation, tail "
                    "[, head_type, tail_type, language]",
                )
            continue
        source = f"{display}:{number}"
        if len(fields) != len(header):
            bad.append(BadRow(source, line, f"expected {len(header)} fields, found {len(fields)}"))
            continue
        result = _row_to_triple(dict(zip(header, fields, strict=True)), source, line, language)
        (bad if isinstance(result, BadRow) else triples).append(result)  # type: ignore[arg-type]
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
        result = _row_to_triple(row, source, line, language)
        (bad if isinstance(result, BadRow) else triples).append(result)  # type: ignore[arg-type]
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
