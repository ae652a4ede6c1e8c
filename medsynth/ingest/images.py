"""Image checks for ingest: full decode under the decompression-bomb guard, SHA-256 of the bytes,
a perceptual hash, the size; and storing rendered images (DICOM frames) as PNG in the workspace.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import imagehash
from PIL import Image

from medsynth.errors import InputError
from medsynth.files import open_image, safe_child, sha256_file


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """One verified image."""

    path: str  # relative to the dataset root (posix)
    sha256: str
    phash: str  # 64-bit perceptual hash, 16 hex digits
    width: int
    height: int


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT perceptual hash (``imagehash.phash``) as 16 hex digits."""
    return str(imagehash.phash(image))


def inspect_image(root: Path, relative: str, max_pixels: int) -> ImageInfo:
    """Verify the image at ``root / relative`` (``root`` resolved); raise InputError when it is
    outside the root (``..``, absolute paths, symlinks), missing, empty, unreadable or too large."""
    if not relative.strip():
        raise InputError("empty image path", source=relative, hint="name an image file")
    try:
        path = safe_child(root, root / relative)
    except InputError as exc:
        raise InputError(exc.message, source=relative, hint=exc.hint) from exc
    if not path.exists():
        raise InputError("missing file", source=relative, hint=f"expected it under {root}")
    if not path.is_file():
        raise InputError("not a file", source=relative, hint="name an image file, not a folder")
    if path.stat().st_size == 0:
        raise InputError("empty file", source=relative, hint="re-export the image")
    try:
        image = open_image(path, max_pixels)
    except InputError as exc:
        raise InputError(exc.message, source=relative, hint=exc.hint) from exc
    try:
        digest = sha256_file(path)
        phash = perceptual_hash(image)
        width, height = image.size
    finally:
        image.close()
    return ImageInfo(Path(relative).as_posix(), digest, phash, width, height)


def store_png(image: Image.Image, folder: Path, prefix: str) -> ImageInfo:
    """Save ``image`` as ``folder/<sha256>.png`` (owner-only, no metadata chunks, written
    atomically) and describe it; ``prefix`` is the folder's path relative to the dataset root."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    target = folder / f"{digest}.png"
    if not target.exists():
        old_umask = os.umask(0o077)
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(data)
            os.replace(partial, target)
        finally:
            os.umask(old_umask)
    return ImageInfo(
        f"{prefix}/{target.name}", digest, perceptual_hash(image), image.width, image.height
    )
