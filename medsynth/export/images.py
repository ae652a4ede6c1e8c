"""Export images: each written once, its pixels re-encoded as a bare PNG named by its hash (or,
with ``link``, a symbolic link to the original), checked inside its dataset root first."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from medsynth.errors import InputError
from medsynth.files import open_image, safe_child, sha256_file, write_private

IMAGES_DIR = "images"
_PNG_MODES = {"1", "L", "LA", "I;16", "RGB", "RGBA"}


# --- images ----------------------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    """The image's pixels (EXIF orientation applied) as a PNG with no metadata at all."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("P", "PA"):
        image = image.convert(
            "RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB"
        )
    elif image.mode in ("I", "F"):
        image = sixteen_bit(np.asarray(image))
    elif image.mode not in _PNG_MODES:
        image = image.convert("RGB")
    bare = Image.frombytes(image.mode, image.size, image.tobytes())  # drops info, EXIF, ICC
    buffer = io.BytesIO()
    bare.save(buffer, format="PNG")
    return buffer.getvalue()


def sixteen_bit(pixels: npt.NDArray[Any]) -> Image.Image:
    """32-bit integer or float pixels as 16-bit grey: as they are when they fit, else stretched."""
    low, high = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    integral = np.issubdtype(pixels.dtype, np.integer)
    if not (integral and low >= 0 and high <= 65535):
        span = high - low or 1.0
        pixels = np.rint((pixels.astype(np.float64) - low) * (65535 / span))
    return Image.fromarray(pixels.astype(np.uint16))


@dataclass
class PendingImage:
    source: Path
    name: str
    data: bytes | None = None  # PNG to write
    target: Path | None = None  # file to link to
    written: bool = False


class ImageStore:
    """Writes each image once into ``folder``; a sample's images are prepared, then committed."""

    def __init__(self, folder: Path, max_pixels: int, link: bool) -> None:
        self.folder = folder
        self.max_pixels = max_pixels
        self.link = link
        self.done: dict[Path, str] = {}  # source file -> name in folder
        self.failed: dict[Path, tuple[str, str]] = {}  # source file -> (reason, detail)
        self.names: set[str] = set()

    def prepare(self, root: Path, raw: str) -> PendingImage:
        """Check and encode one image; raises ``SkipSample`` (reason, detail)."""
        path = Path(raw) if Path(raw).is_absolute() else root / raw
        try:
            source = safe_child(root, path)
        except InputError as exc:
            raise SkipSample(
                "image path escapes its dataset root", f"{raw}: {exc.message}"
            ) from exc
        if source in self.done:
            return PendingImage(source, self.done[source], written=True)
        if source in self.failed:
            raise SkipSample(*self.failed[source])
        try:
            if not source.is_file():
                raise SkipSample("image file is missing", str(source))
            try:
                image = open_image(source, self.max_pixels)
            except InputError as exc:
                reason = (
                    "image too large" if exc.message.startswith("image too") else "unreadable image"
                )
                raise SkipSample(reason, f"{source}: {exc.message}") from exc
            if self.link and image.format in ("PNG", "JPEG"):
                suffix = ".png" if image.format == "PNG" else ".jpg"
                return PendingImage(source, sha256_file(source)[:16] + suffix, target=source)
            data = png_bytes(image)
            return PendingImage(source, hashlib.sha256(data).hexdigest()[:16] + ".png", data=data)
        except SkipSample as skip:
            self.failed[source] = (skip.reason, skip.detail)
            raise

    def commit(self, pending: PendingImage) -> str:
        """Write (or link) the image unless a file of that name is there; its export path."""
        if not pending.written and pending.name not in self.names:
            path = self.folder / pending.name
            if pending.target is not None:
                os.symlink(pending.target, path)
            else:
                write_private(path, pending.data or b"")
            self.names.add(pending.name)
        self.done[pending.source] = pending.name
        return f"{IMAGES_DIR}/{pending.name}"


class SkipSample(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
