"""PubMedVision's data filters, each configurable and reported on its own.

- ``resolution``: every image at least ``min_width`` x ``min_height``;
- ``medical_terms``: at least N distinct medical terms in the context (vocabulary: the workspace's
  KG entity names and aliases plus the shipped ``medical_terms.txt``);
- ``image_duplicate``: a 64-bit perceptual hash within ``dedup_phash_distance`` bits of an image
  already kept in the same dataset;
- ``text_duplicate``: a context whose text-encoder cosine to an already kept context of the same
  dataset is at least ``dedup_text_threshold``.

The duplicate filters compare with *kept* records in input order, so the first of a group stays.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib.resources import files

import numpy as np
import numpy.typing as npt
import sqlite_utils

from medsynth.config import IngestConfig
from medsynth.kg.normalize import singular
from medsynth.kg.queries import entity_names

RESOLUTION = "resolution"
MEDICAL_TERMS = "medical_terms"
IMAGE_DUPLICATE = "image_duplicate"
TEXT_DUPLICATE = "text_duplicate"
FILTERS = (RESOLUTION, MEDICAL_TERMS, IMAGE_DUPLICATE, TEXT_DUPLICATE)
MAX_TERM_WORDS = 6

_APOSTROPHES = re.compile(r"['’`´]")
_WORD = re.compile(r"[^\W_]+")
_POPCOUNT = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


@dataclass(frozen=True)
class FilterSettings:
    """Thresholds in force for one ingest (from ``[ingest]``; :meth:`off` for ``--no-filters``)."""

    min_width: int = 336
    min_height: int = 336
    min_medical_terms: int = 5
    dedup_text_threshold: float = 0.95
    dedup_phash_distance: int = 4

    @classmethod
    def from_config(cls, config: IngestConfig) -> FilterSettings:
        """The settings of a workspace's ``[ingest]`` section."""
        return cls(**config.model_dump())

    @classmethod
    def off(cls) -> FilterSettings:
        """Every filter turned off."""
        return cls(0, 0, 0, 0.0, -1)

    @property
    def enabled(self) -> list[str]:
        """Names of the filters that can filter anything."""
        on = {
            RESOLUTION: self.min_width > 0 or self.min_height > 0,
            MEDICAL_TERMS: self.min_medical_terms > 0,
            IMAGE_DUPLICATE: self.dedup_phash_distance >= 0,
            TEXT_DUPLICATE: self.dedup_text_threshold > 0,
        }
        return [name for name in FILTERS if on[name]]

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready thresholds."""
        return asdict(self)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens with simple plurals folded (the KG's normalisation, per token)."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", text).casefold())
    return [singular(token) for token in _WORD.findall(text)]


def shipped_terms() -> list[str]:
    """The term list shipped as package data (``medsynth/ingest/medical_terms.txt``)."""
    text = (files("medsynth.ingest") / "medical_terms.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


class Vocabulary:
    """Medical terms as token tuples; :meth:`find` matches the longest term at each position."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: set[tuple[str, ...]] = set()
        for term in terms:
            words = tuple(tokens(term))
            if 0 < len(words) <= MAX_TERM_WORDS:
                self.terms.add(words)
        self.longest = max((len(t) for t in self.terms), default=0)

    @classmethod
    def from_workspace(cls, db: sqlite_utils.Database) -> Vocabulary:
        """Shipped terms plus the workspace KG's entity names and aliases."""
        return cls([*shipped_terms(), *entity_names(db)])

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, text: str) -> list[str]:
        """Distinct terms in ``text``, in order of first appearance (longest match wins)."""
        words = tokens(text)
        found: dict[str, None] = {}
        i = 0
        while i < len(words):
            for length in range(min(self.longest, len(words) - i), 0, -1):
                candidate = tuple(words[i : i + length])
                if candidate in self.terms:
                    found[" ".join(candidate)] = None
                    i += length
                    break
            else:
                i += 1
        return list(found)


def resolution_failure(sizes: list[tuple[int, int]], settings: FilterSettings) -> str | None:
    """The reason when an image is below the minimum size, else None."""
    for width, height in sizes:
        if width < settings.min_width or height < settings.min_height:
            return (
                f"{RESOLUTION}: {width}x{height} is below "
                f"{settings.min_width}x{settings.min_height}"
            )
    return None


def terms_failure(found: list[str], settings: FilterSettings) -> str | None:
    """The reason when fewer than ``min_medical_terms`` were found, else None."""
    if len(found) >= settings.min_medical_terms:
        return None
    shown = ", ".join(found[:10]) or "none"
    return f"{MEDICAL_TERMS}: {len(found)} found ({shown}), need {settings.min_medical_terms}"


class PhashIndex:
    """Perceptual hashes of kept images; Hamming distance by table popcount."""

    def __init__(self) -> None:
        self.hashes = np.zeros(1024, dtype=np.uint64)
        self.keys: list[str] = []

    def nearest(self, phashes: list[str]) -> tuple[int, str] | None:
        """Smallest distance from any of ``phashes`` to a kept hash, and that record's key."""
        if not self.keys:
            return None
        kept = self.hashes[: len(self.keys)]
        best: tuple[int, str] | None = None
        for phash in phashes:
            x = kept ^ np.uint64(int(phash, 16))
            distance = sum(
                _POPCOUNT[(x >> np.uint64(shift)) & np.uint64(0xFFFF)].astype(np.int32)
                for shift in (0, 16, 32, 48)
            )
            index = int(np.argmin(distance))
            if best is None or int(distance[index]) < best[0]:
                best = (int(distance[index]), self.keys[index])
        return best

    def add(self, phashes: list[str], key: str) -> None:
        """Remember the hashes of a kept record."""
        for phash in phashes:
            if len(self.keys) == len(self.hashes):
                self.hashes = np.concatenate([self.hashes, np.zeros_like(self.hashes)])
            self.hashes[len(self.keys)] = np.uint64(int(phash, 16))
            self.keys.append(key)


class TextIndex:
    """Unit-length context embeddings of kept records (cosine by dot product)."""

    def __init__(self) -> None:
        self.vectors: npt.NDArray[np.float32] | None = None
        self.keys: list[str] = []

    def nearest(self, vector: npt.NDArray[np.float32]) -> tuple[float, str] | None:
        """Highest cosine to a kept context, and that record's key."""
        if self.vectors is None or not self.keys:
            return None
        scores = self.vectors[: len(self.keys)] @ vector
        index = int(np.argmax(scores))
        return float(scores[index]), self.keys[index]

    def add(self, vector: npt.NDArray[np.float32], key: str) -> None:
        """Remember a kept context's embedding."""
        if self.vectors is None:
            self.vectors = np.zeros((1024, len(vector)), dtype=np.float32)
        elif len(self.keys) == len(self.vectors):
            self.vectors = np.concatenate([self.vectors, np.zeros_like(self.vectors)])
        self.vectors[len(self.keys)] = vector
        self.keys.append(key)
