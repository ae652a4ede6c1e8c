"""Line reading shared by the KG importers: bytes in, decoded lines or bad rows out."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from medsynth.errors import InputError
from medsynth.kg.model import BadRow


def read_lines(path: Path, display: str) -> Iterator[tuple[int, str] | BadRow]:
    """Yield ``(line_number, text)`` for each non-blank line, or a :class:`BadRow` for lines
    that are not valid UTF-8. ``display`` is the name used in sources (``display:line``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read: {exc.strerror}",
            source=str(path),
            hint="check the path and its permissions",
        ) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text or not data:
        for number, line in enumerate(text.split("\n"), 1):
            if line and line[-1] == "\r":
                line = line[:-1]
            if line and not line.isspace():
                yield number, line
        return
    for number, raw in enumerate(data.split(b"\n"), 1):
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield BadRow(
                source=f"{display}:{number}",
                raw=raw.decode("utf-8", errors="backslashreplace"),
                reason=f"undecodable bytes (not UTF-8) at byte {exc.start}",
            )


def split_fields(line: str, delimiter: str) -> list[str]:
    """Split one line into stripped fields; comma and tab files follow CSV quoting rules."""
    if delimiter in {",", "\t"} and '"' in line:
        return [field.strip() for field in next(csv.reader([line], delimiter=delimiter))]
    return [field.strip() for field in line.split(delimiter)]
