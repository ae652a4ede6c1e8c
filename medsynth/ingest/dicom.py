"""DICOM files: each chosen frame becomes an 8-bit greyscale (or RGB) image after the modality
LUT (rescale slope/intercept), the VOI LUT or window, and MONOCHROME1 inversion.

Privacy: the context and the metadata are built from a *whitelist* of coded tags
(:data:`CONTEXT_TAGS`, :data:`TECHNICAL_TAGS`); no other tag is ever read into a record, so names,
IDs, dates, UIDs and institutions never leave the file. Free-text tags (:data:`TEXT_TAGS`: series
and study descriptions, protocol names, comments) are read only when ``--dicom-text-tags`` names
them, and then pass the PHI check like a caption. Record keys are ``dicom-<first 16 hex digits of
the file's SHA-256>`` (``sha256sum`` finds the file), never the file name, and file names are not
stored, unless ``--keep-filenames`` asks for them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from medsynth.errors import InputError
from medsynth.files import safe_child, sha256_file
from medsynth.ingest.sources import BadItem, Item, RawItem, read_text

CONTEXT_TAGS = (
    "Modality",
    "BodyPartExamined",
    "ViewPosition",
    "ImageLaterality",
    "Laterality",
)
TEXT_TAGS = {  # free text a person typed: read only when asked for, then PHI-checked
    "SeriesDescription": "Series",
    "StudyDescription": "Study",
    "ProtocolName": "Protocol",
    "ImageComments": "Comments",
    "RequestedProcedureDescription": "Procedure",
    "PerformedProcedureStepDescription": "Procedure step",
}
# Identity tags: never stored; their values are looked for in the text that is (see `identity`).
IDENTITY_TAGS = {
    "PatientName": "name",
    "OtherPatientNames": "name",
    "PatientBirthName": "name",
    "PatientMotherBirthName": "name",
    "ReferringPhysicianName": "name",
    "PerformingPhysicianName": "name",
    "NameOfPhysiciansReadingStudy": "name",
    "OperatorsName": "name",
    "PatientID": "record_number",
    "OtherPatientIDs": "record_number",
    "AccessionNumber": "record_number",
    "PatientBirthDate": "date",
    "InstitutionName": "institution",
}
TECHNICAL_TAGS = ("PhotometricInterpretation", "Rows", "Columns", "BitsStored", "SamplesPerPixel")
MODALITY_NAMES = {
    "CT": "CT",
    "MR": "MRI",
    "CR": "X-ray",
    "DX": "X-ray",
    "RG": "X-ray",
    "US": "ultrasound",
    "PT": "PET",
    "NM": "nuclear medicine",
    "MG": "mammography",
    "XA": "angiography",
    "RF": "fluoroscopy",
}


def whitelisted(ds: Any, keywords: tuple[str, ...]) -> dict[str, str]:
    """The tags named in ``keywords`` that ``ds`` holds, as text (multi-values joined by '\\')."""
    found = {}
    for keyword in keywords:
        value = ds.get(keyword)
        if value is None:
            continue
        if not isinstance(value, str | int | float):
            value = "\\".join(str(v) for v in value)
        text = str(value).strip()
        if text:
            found[keyword] = text
    return found


def identity(ds: Any) -> list[tuple[str, str]]:
    """``(kind, value)`` pairs of the file's own identity tags, names split into their parts
    (``DOE^JOHN`` gives ``DOE`` and ``JOHN``), for the PHI check of the text that is stored.
    Kept in memory only, never written anywhere."""
    from pydicom.multival import MultiValue

    found: list[tuple[str, str]] = []
    for keyword, kind in IDENTITY_TAGS.items():
        value = ds.get(keyword)
        if value is None:
            continue
        values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
        for one in values:
            text = str(one).strip()
            if not text:
                continue
            found.append((kind, text))
            if kind == "name":
                found.extend(("name", part) for part in re.split(r"[\^=\s,]+", text) if part)
    return list(dict.fromkeys(found))


def parse_text_tags(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The free-text tags ``--dicom-text-tags`` names (comma-separated keywords), checked."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [n for n in chosen if n not in TEXT_TAGS]
    if unknown:
        raise InputError(
            f"--dicom-text-tags: {', '.join(unknown)} is not a descriptive free-text tag",
            hint=f"choose from {', '.join(TEXT_TAGS)} (identity tags are never read)",
        )
    return chosen


def parse_frames(spec: str) -> str | list[int]:
    """``middle`` | ``all`` | comma-separated frame numbers counted from 1 (for multi-frame
    files; a single-frame file always gives its one image)."""
    if spec in ("middle", "all"):
        return spec
    try:
        numbers = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 1:
        raise InputError(
            f"bad --frames {spec!r}", hint="use middle, all, or frame numbers from 1 like 1,5"
        )
    return sorted(set(numbers))


def _value_range(ds: Any) -> tuple[float, float]:
    """Output range of pydicom's ``apply_voi_lut`` for ``ds`` (its own convention)."""
    if "VOILUTSequence" in ds:
        return 0.0, float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    bits = int(ds.get("BitsStored", 16))
    if ds.get("ModalityLUTSequence"):
        low, high = 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    elif int(ds.get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    return min(low, high), max(low, high)


def to_image(pixels: npt.NDArray[Any], ds: Any) -> Image.Image:
    """One frame as an 8-bit PIL image: modality LUT, VOI LUT / window, MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    if int(ds.get("SamplesPerPixel", 1)) > 1:
        if pixels.dtype != np.uint8:
            top = float(2 ** int(ds.get("BitsStored", 8)) - 1)
            pixels = np.clip(pixels / top * 255.0, 0, 255).round()
        return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="RGB")
    values = np.asarray(apply_modality_lut(pixels, ds), dtype=np.float64)
    if "VOILUTSequence" in ds or ("WindowCenter" in ds and "WindowWidth" in ds):
        values = np.asarray(apply_voi_lut(values, ds), dtype=np.float64)
        low, high = _value_range(ds)
    else:
        low, high = float(values.min()), float(values.max())
    scaled = np.clip((values - low) / max(high - low, 1e-9) * 255.0, 0.0, 255.0)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        scaled = 255.0 - scaled
    return Image.fromarray(np.ascontiguousarray(scaled.round(), dtype=np.uint8), mode="L")


def _context(tags: dict[str, str], frame: int, frames: int, caption: str) -> str:
    """The record's text: modality and body part, the chosen tags, the frame, the caption."""
    modality = MODALITY_NAMES.get(tags.get("Modality", ""), tags.get("Modality", ""))
    body = tags.get("BodyPartExamined", "").lower()
    parts = []
    if modality or body:
        parts.append(f"{modality or 'Medical'} image" + (f" of the {body}" if body else "") + ".")
    for keyword, label in (
        *TEXT_TAGS.items(),
        ("ViewPosition", "View"),
        ("ImageLaterality", "Laterality"),
        ("Laterality", "Laterality"),
    ):
        if keyword in tags:
            parts.append(f"{label}: {tags[keyword]}.")
    if parts and frames > 1:
        parts.append(f"Frame {frame} of {frames}.")
    if caption:
        parts.append(caption)
    return " ".join(parts)


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() == ".dcm":
        return True
    if path.suffix:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(132)[128:] == b"DICM"
    except OSError:
        return False


def read_dicom(
    root: Path,
    frames: str,
    max_pixels: int,
    *,
    text_tags: tuple[str, ...] = (),
    keep_filenames: bool = False,
) -> Iterator[Item]:
    """DICOM files (``*.dcm``, or extension-less files with the DICM preamble) under ``root``;
    ``text_tags`` are the free-text tags to read, ``keep_filenames`` keys records by file name."""
    chosen = parse_frames(frames)
    files: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        files += [Path(folder) / n for n in sorted(names) if _is_dicom(Path(folder) / n)]
    return _items(root, files, chosen, max_pixels, parse_text_tags(text_tags), keep_filenames)


def _label(root: Path, path: Path, number: int, keep_filenames: bool) -> tuple[str, str]:
    """``(label, sha256)`` of one file: its relative path with ``keep_filenames``, else
    ``dicom-<16 hex digits of its SHA-256>`` (``dicom-file-<n>`` when it cannot be read)."""
    relative = path.relative_to(root).as_posix()
    try:
        digest = sha256_file(safe_child(root, path))
    except (InputError, OSError):
        digest = ""
    if keep_filenames:
        return relative, digest
    return (f"dicom-{digest[:16]}" if digest else f"dicom-file-{number}"), digest


def _scrubbed(message: str, path: Path, root: Path, label: str) -> str:
    """``message`` with the file's path and name replaced by its label (library errors quote
    the path, and a file name may carry patient data)."""
    names = [str(path), path.name]
    if path.is_relative_to(root):
        names.insert(1, path.relative_to(root).as_posix())
    for text in names:
        message = message.replace(text, label)
    return message


def _frames_wanted(chosen: str | list[int], count: int) -> list[int]:
    """Frame numbers to read from a file of ``count`` frames (a single frame: that one).

    >>> _frames_wanted("middle", 5), _frames_wanted("all", 3), _frames_wanted([2], 1)
    ([3], [1, 2, 3], [1])
    """
    if count == 1:
        return [1]
    if isinstance(chosen, str):
        return [count // 2 + 1] if chosen == "middle" else list(range(1, count + 1))
    return chosen


def _size_problem(ds: Any, max_pixels: int) -> tuple[str, str] | None:
    """Why the file's image cannot be read (reason, fix), or None."""
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    if not rows or not columns:
        return "no image in this DICOM file (no Rows/Columns)", ""
    if rows * columns > max_pixels:
        return (
            f"image too large ({columns}x{rows}; limit {max_pixels} px)",
            "raise [images] max_pixels in medsynth.toml if the file is trusted",
        )
    return None


def _items(
    root: Path,
    files: list[Path],
    chosen: str | list[int],
    max_pixels: int,
    text_tags: tuple[str, ...],
    keep_filenames: bool,
) -> Iterator[Item]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    for number, path in enumerate(files, 1):
        relative = path.relative_to(root).as_posix()
        label, digest = _label(root, path, number, keep_filenames)
        try:
            safe = safe_child(root, path)
            ds = pydicom.dcmread(safe, stop_before_pixels=True)
        except InputError as exc:
            yield BadItem(label, _scrubbed(exc.message, path, root, label), hint=exc.hint)
            continue
        except InvalidDicomError:
            yield BadItem(label, "not a DICOM file", hint="remove it from the folder")
            continue
        except Exception as exc:  # pydicom raises many kinds on broken files
            reason = _scrubbed(f"unreadable DICOM: {type(exc).__name__}: {exc}", path, root, label)
            yield BadItem(label, reason, hint="re-export the file from the PACS or remove it")
            continue
        problem = _size_problem(ds, max_pixels)
        if problem is not None:
            yield BadItem(label, problem[0], hint=problem[1])
            continue
        count = int(ds.get("NumberOfFrames") or 1)
        caption_file = f"{os.path.splitext(relative)[0]}.txt"
        caption = ""
        if (root / caption_file).exists():
            try:
                caption = read_text(root, caption_file).strip()
            except InputError as exc:
                source = caption_file if keep_filenames else f"{label} caption"
                yield BadItem(source, exc.message, hint=exc.hint)
                continue
        wanted = _frames_wanted(chosen, count)
        tags = whitelisted(ds, CONTEXT_TAGS + text_tags)
        ids = identity(ds)
        for frame in wanted:
            if frame > count:
                yield BadItem(
                    label, f"frame {frame} not in 1..{count}", hint="pick frames with --frames"
                )
                continue
            context = _context(tags, frame, count, caption)
            if not context:
                yield BadItem(
                    label,
                    "no context: no descriptive tags and no .txt caption",
                    hint="add a caption file with the same name and .txt",
                )
                continue
            meta: dict[str, Any] = {
                "dicom_sha256": digest,
                "frame": frame,
                "frames": count,
                "tags": dict(tags),
                "technical": whitelisted(ds, TECHNICAL_TAGS),
                "caption": bool(caption),
            }
            if keep_filenames:
                meta |= {"dicom_file": relative, "caption_file": caption_file if caption else None}
            key = f"{label}#frame={frame}" if count > 1 else label
            render = _renderer(safe, ds, frame, count, root, label)
            yield RawItem(key, [], context, not caption, meta, label, render, identity=ids)


def _renderer(
    path: Path, ds: Any, frame: int, count: int, root: Path, label: str
) -> Callable[[], list[Image.Image]]:
    def render() -> list[Image.Image]:
        from pydicom.pixels import pixel_array

        try:
            pixels = pixel_array(path, index=frame - 1 if count > 1 else None)
            return [to_image(pixels, ds)]
        except Exception as exc:  # missing decoders, truncated pixel data, bad LUTs
            message = f"cannot decode the pixel data: {type(exc).__name__}: {exc}"
            raise InputError(
                _scrubbed(message, path, root, label),
                source=label,
                hint="install the decoder pydicom names (pylibjpeg, gdcm) or convert the file",
            ) from exc

    return render
