"""Files that may hold patient data: paths kept inside their root, checked image decoding,
content hashes, and owner-only writing (0600 files, 0700 folders, whatever the umask, never
through a symbolic link). Every package that touches a dataset or writes an output uses these."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from medsynth.errors import InputError

if TYPE_CHECKING:  # Pillow loads on first use: the TUI's first frame does not wait for it
    from PIL import Image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_image(path: Path, max_pixels: int) -> Image.Image:
    """Open and fully decode an image, refusing decompression bombs and broken files.

    The size is checked against ``max_pixels`` from the header, before any pixel is decoded:
    Pillow itself only warns between one and two times its limit, and its global default would
    refuse images that a raised ``images.max_pixels`` allows.
    """
    from PIL import Image

    try:
        Image.MAX_IMAGE_PIXELS = None  # the header probe decodes nothing; the check is ours
        try:
            with Image.open(path) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise Image.DecompressionBombError(
                        f"{width}x{height} = {width * height} pixels; limit {max_pixels}"
                    )
                probe.verify()
        finally:
            Image.MAX_IMAGE_PIXELS = max_pixels
        image = Image.open(path)
        image.load()
    except Image.DecompressionBombError as exc:
        raise InputError(
            f"image too large ({exc})",
            source=str(path),
            hint="raise images.max_pixels in medsynth.toml if the image is trusted",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(
            f"not a readable image: {exc}",
            source=str(path),
            hint="re-export the file or remove it from the folder",
        ) from exc
    return image


def safe_child(root: Path, path: Path) -> Path:
    """``path`` resolved, refused if it escapes ``root`` (through ``..`` or a symlink)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise InputError(
            "path escapes the dataset root",
            source=str(path),
            hint=f"keep images inside {root} (no symlinks pointing outside)",
        )
    return resolved


def open_private(path: Path, *, append: bool = False) -> int:
    """A file descriptor for writing ``path``, owner-only (0600) whatever the umask; a new or
    truncated file (or, with ``append``, appended to); never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, owner-only.

    >>> import tempfile, stat
    >>> target = Path(tempfile.mkdtemp()) / "note.txt"
    >>> write_private(target, "kept private")
    >>> oct(stat.S_IMODE(target.stat().st_mode)), target.read_text()
    ('0o600', 'kept private')
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(open_private(path), "wb") as handle:
        handle.write(raw)


def private_dir(path: Path) -> Path:
    """``path`` (and its missing parents) as an owner-only folder (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path
