"""Images go to servers as PNG: a file is encoded once while it is unchanged."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from medsynth.backends import base


def _jpeg(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (40, 30), colour).save(path, format="JPEG")
    return path


def test_a_file_is_encoded_once_and_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[object] = []
    real = base._encode_png

    def counting(image: base.ImageInput) -> bytes:
        encoded.append(image)
        return real(image)

    monkeypatch.setattr(base, "_encode_png", counting)
    image = _jpeg(tmp_path / "a.jpg", (200, 10, 10))
    first = base.image_png_bytes(image)
    assert base.image_png_bytes(image) == first
    assert base.image_data_url(image).startswith("data:image/png;base64,")
    assert len(encoded) == 1  # the second and third sends reuse the first encoding

    _jpeg(image, (10, 10, 200))  # the file changes: new content, new time
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    second = base.image_png_bytes(image)
    assert len(encoded) == 2
    assert Image.open(io.BytesIO(second)).getpixel((5, 5))[2] > 150  # the new, blue image
    assert Image.open(io.BytesIO(first)).getpixel((5, 5))[0] > 150  # the old one was red


def test_bytes_and_images_are_encoded_each_time(tmp_path: Path) -> None:
    picture = Image.new("RGB", (8, 8), (0, 255, 0))
    png = base.image_png_bytes(picture)
    assert png.startswith(b"\x89PNG") and base.image_png_bytes(png) == png
