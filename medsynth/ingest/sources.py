"""Readers, one per input format, yielding raw items (or bad items with the file and reason).

A reader never touches the database and never decodes images (DICOM aside, lazily): it turns a
dataset's own layout into :class:`RawItem` (key, image paths relative to the dataset root, context
text) so that the service can verify, filter and store them the same way for every format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from PIL import Image

from medsynth.errors import InputError
from medsynth.files import IMAGE_SUFFIXES, safe_child

Format = Literal["pubmedvision", "folder", "slake", "vqa-rad", "dicom"]
FORMATS: tuple[Format, ...] = ("pubmedvision", "folder", "slake", "vqa-rad", "dicom")
IMAGE_FIELDS = ("images", "image", "image_paths", "image_path", "img", "figure")
CONTEXT_FIELDS = ("caption", "context", "inline_mentions", "inline_mention", "mentions", "text")


@dataclass
class RawItem:
    """One would-be record, before its images are verified and the filters run."""

    key: str  # unique within the dataset
    images: list[str]  # relative to the dataset root (empty when ``render`` makes them)
    context: str
    context_derived: bool
    meta: dict[str, Any]
    source: str  # the file (or row) a reject names
    render: Callable[[], list[Image.Image]] | None = field(default=None, repr=False)
    raw: str = field(default="", repr=False)  # the input row, kept with a reject of this item
    # identifiers the input holds elsewhere (a DICOM file's own patient name, IDs), looked for by
    # the PHI check in the text that is stored; memory only, never written
    identity: list[tuple[str, str]] = field(default_factory=list, repr=False)


@dataclass(frozen=True, slots=True)
class BadItem:
    """An input that cannot become a record."""

    source: str
    reason: str
    raw: str = ""
    hint: str = ""  # how to fix it, stored with the reason

    def stored_reason(self) -> str:
        """The reason with its fix, as the rejects table keeps it."""
        return f"{self.reason} (fix: {self.hint})" if self.hint else self.reason


Item = RawItem | BadItem


@dataclass
class Source:
    """An opened dataset: where it lives, its default name, its items (read lazily)."""

    root: Path  # resolved; image paths and reject sources are relative to it
    default_name: str
    items: Iterator[Item]
    files: list[str]  # index files read (JSON), for the report


def read_text(root: Path, relative: str) -> str:
    """UTF-8 text of ``root / relative`` (BOM stripped); InputError when it escapes the root,
    is missing or is not UTF-8."""
    path = safe_child(root, root / relative)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})",
            source=relative,
            hint="save the file as UTF-8",
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", source=relative) from exc


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def pubmedvision_item(row: Any, source: str) -> Item:
    """A PubMedVision-style row: image path(s) and caption / inline mentions / context."""
    if not isinstance(row, dict):
        return BadItem(source, "row is not a JSON object", json.dumps(row)[:2000])
    raw = json.dumps(row, ensure_ascii=False, sort_keys=True)[:2000]
    image_field = next((f for f in IMAGE_FIELDS if f in row), None)
    images = _texts(row[image_field]) if image_field else []
    if not images:
        return BadItem(
            source,
            "no image path (expected 'image' or 'images')",
            raw,
            hint='give the row an "image" (or "images") field with paths under --root',
        )
    parts: list[str] = []
    for name in CONTEXT_FIELDS:
        parts += [p for p in _texts(row.get(name)) if p not in parts]
    if not parts:
        return BadItem(
            source,
            "empty context (no caption, context or inline mentions)",
            raw,
            hint='give the row a non-empty "caption" or "context"',
        )
    images = [PurePosixPath(p.replace("\\", "/")).as_posix() for p in images]
    used = {image_field, *CONTEXT_FIELDS}
    meta = {
        k: v
        for k, v in row.items()
        if k not in used and isinstance(v, str | int | float | bool) and v != ""
    }
    meta["source_row"] = source
    return RawItem("|".join(images), images, "\n".join(parts), False, meta, source, raw=raw)


def read_pubmedvision(file: Path) -> Iterator[Item]:
    """Rows of a JSON list (or ``{"data": [...]}``) or of a JSONL file."""
    if file.suffix.lower() == ".jsonl":
        with file.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                source = f"{file.name}:{number}"
                if not line.strip():
                    continue
                try:
                    row = json.loads(line.decode("utf-8-sig"))
                except UnicodeDecodeError:
                    yield BadItem(source, "line is not UTF-8 text")
                    continue
                except json.JSONDecodeError as exc:
                    yield BadItem(
                        source, f"invalid JSON: {exc.msg}", line[:2000].decode(errors="replace")
                    )
                    continue
                yield pubmedvision_item(row, source)
        return
    rows = load_json(file)
    if isinstance(rows, dict):
        rows = next((v for k, v in rows.items() if k in ("data", "rows", "items")), None)
    if not isinstance(rows, list):
        raise InputError(
            "expected a JSON list of rows (or JSONL)",
            source=str(file),
            hint='rows like {"id": ..., "image": [...], "caption": ..., "inline_mentions": ...}',
        )
    for index, row in enumerate(rows):
        yield pubmedvision_item(row, f"{file.name}[{index}]")


def load_json(file: Path) -> Any:
    """A whole JSON file; InputError when it cannot be read or parsed."""
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise InputError("file not found", source=str(file)) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"not valid JSON: {exc}", source=str(file), hint="fix or re-download the file"
        ) from exc


def read_folder(root: Path) -> Iterator[Item]:
    """Images with a sidecar caption ``<same stem>.txt`` anywhere under ``root``."""
    images: list[str] = []
    captions: dict[str, str] = {}  # path without suffix -> caption file
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            relative = (Path(folder) / name).relative_to(root).as_posix()
            stem, suffix = os.path.splitext(relative)
            if suffix.lower() in IMAGE_SUFFIXES:
                images.append(relative)
            elif suffix.lower() == ".txt":
                captions[stem] = relative
    stems = {os.path.splitext(p)[0] for p in images}
    for stem, caption in sorted(captions.items()):
        if stem not in stems:
            yield BadItem(
                caption,
                "caption without an image (no image file with the same name)",
                hint="add the image next to it or remove the caption",
            )
    for relative in images:
        caption_file = captions.get(os.path.splitext(relative)[0])
        if caption_file is None:
            yield BadItem(
                relative,
                "no caption (expected a .txt file with the same name)",
                hint="add the caption as a UTF-8 .txt file next to the image",
            )
            continue
        try:
            text = read_text(root, caption_file).strip()
        except InputError as exc:
            yield BadItem(caption_file, exc.message, hint=exc.hint)
            continue
        if not text:
            yield BadItem(caption_file, "empty caption", hint="write the caption into the file")
            continue
        meta = {"caption_file": caption_file}
        yield RawItem(relative, [relative], text, False, meta, relative)


def open_source(
    path: Path,
    fmt: Format,
    *,
    language: str = "en",
    split: str = "train",
    frames: str = "middle",
    root: Path | None = None,
    max_pixels: int = 89_478_485,
    dicom_text_tags: tuple[str, ...] = (),
    keep_filenames: bool = False,
) -> Source:
    """Open ``path`` as ``fmt``; InputError when the layout is not what ``fmt`` expects.
    ``dicom_text_tags`` and ``keep_filenames`` are DICOM's privacy options (see ``dicom.py``)."""
    from medsynth.ingest.annotated import read_slake, read_vqa_rad, slake_file, vqa_rad_file

    path = path.expanduser()
    if not path.exists():
        raise InputError("no such file or folder", source=str(path), hint="check the path")
    if fmt == "pubmedvision":
        if not path.is_file():
            raise InputError(
                "expected a JSON or JSONL file", source=str(path), hint="point at the rows file"
            )
        base = (root or path.parent).expanduser().resolve()
        return Source(base, path.stem, read_pubmedvision(path.resolve()), [path.name])
    if fmt == "slake":
        base, file = slake_file(path, split)
        items = read_slake(base, file, language)
        return Source(base, f"slake-{split}-{language}", items, [file.name])
    if fmt == "vqa-rad":
        base, file, select = vqa_rad_file(path, split)
        return Source(base, f"vqa-rad-{split}", read_vqa_rad(base, file, select), [file.name])
    if not path.is_dir():
        raise InputError(f"--format {fmt} expects a folder", source=str(path))
    base = path.resolve()
    if fmt == "folder":
        return Source(base, base.name, read_folder(base), [])
    if fmt == "dicom":
        from medsynth.ingest.dicom import read_dicom

        items = read_dicom(
            base, frames, max_pixels, text_tags=dicom_text_tags, keep_filenames=keep_filenames
        )
        return Source(base, f"dicom-{base.name}", items, [])
    raise InputError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
