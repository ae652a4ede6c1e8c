"""Extraction: the vision generator reads a record's image and context and names its disease and
organ as ``{"disease": ..., "organ": ...}`` (JSON schema, through the call log).

A model that cannot read images (the embedded SmolLM2 without a vision projector) gets the
context alone; the call log's empty ``image_hashes`` then shows that no image was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from medsynth.backends.calllog import CallLog
from medsynth.errors import InputError
from medsynth.files import open_image, safe_child
from medsynth.prompts import render
from medsynth.text import normalize

MENTION_MAX_CHARS = 80
CONTEXT_MAX_CHARS = 3000  # keeps the prompt well inside a small model's context window
EXTRACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "disease": {"type": "string", "maxLength": MENTION_MAX_CHARS},
        "organ": {"type": "string", "maxLength": MENTION_MAX_CHARS},
    },
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
# Answers meaning "nothing named" (compared after normalisation): such a mention is not matched.
NO_MENTION = frozenset(
    normalize(word)
    for word in (
        "",
        "none",
        "null",
        "nil",
        "n/a",
        "na",
        "unknown",
        "not applicable",
        "not mentioned",
        "not specified",
        "not available",
        "no",
        "normal",
        "no disease",
        "no abnormality",
        "no finding",
    )
)


def is_no_mention(mention: str | None) -> bool:
    """Whether the extractor said that nothing of this kind is named.

    >>> is_no_mention(" None "), is_no_mention("N/A"), is_no_mention("lung mass")
    (True, True, False)
    """
    return mention is None or normalize(mention) in NO_MENTION


@dataclass(frozen=True)
class Extraction:
    """What the extractor named for one record, and the call that said it."""

    disease: str
    organ: str
    call_id: int
    cached: bool
    with_image: bool


class RecordImage:
    """A record's first image (paths are relative to the dataset root): checked when made
    (present, inside the root, a readable image of allowed size), decoded on first use."""

    def __init__(
        self, root: Path, images_json: str, max_pixels: int, sha256_json: str | None = None
    ) -> None:
        try:
            images = json.loads(images_json)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"record images are not a JSON list: {exc}", source=images_json
            ) from exc
        if not isinstance(images, list) or not images or not isinstance(images[0], str):
            raise InputError(
                "record has no image path", source=images_json, hint="re-ingest the dataset"
            )
        root = root.resolve()
        self.path = safe_child(root, root / images[0])
        self.max_pixels = max_pixels
        self._image: Image.Image | None = None
        hashes = json.loads(sha256_json) if sha256_json else []
        self.key = f"file-sha256:{hashes[0]}" if hashes and isinstance(hashes[0], str) else ""
        self.vector: npt.NDArray[np.float32] | None = None  # its embedding, once stage 2 needs it
        try:
            with Image.open(self.path) as probe:
                width, height = probe.size
                fits = width * height <= max_pixels
                if fits:
                    probe.verify()  # headers and checksums, without decoding the pixels
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            fits = False
        if not fits:
            self._image = open_image(self.path, max_pixels)  # raises InputError, worded as ever

    def load(self) -> Image.Image:
        """The decoded image (InputError when it cannot be decoded)."""
        if self._image is None:
            self._image = open_image(self.path, self.max_pixels)
        return self._image


class Extractor:
    """Asks the vision generator for a record's entities (one schema-checked call per record)."""

    def __init__(self, calllog: CallLog, *, max_tokens: int, policy: str = "standard-term") -> None:
        self.calllog = calllog
        self.max_tokens = max_tokens
        self.policy = policy  # standard-term (MedKInstruct) | verbatim
        self.with_image = bool(getattr(calllog.model, "supports_images", False))

    def extract(self, image: RecordImage | None, context: str, *, derived: bool) -> Extraction:
        """Extract ``{disease, organ}``; raises InvalidOutput (with ``.raw``) when the answer
        and its one repair both fail the schema (InputError when a sent image cannot be decoded)."""
        send = self.with_image and image is not None
        messages, template = render(
            "extract_entities",
            caption=" ".join(context.split())[:CONTEXT_MAX_CHARS],
            with_image=send,
            derived=derived,
            policy=self.policy,
        )
        result = self.calllog.call(
            messages,
            template=template,
            # with the record's file hash as the cache key, a cached re-run never decodes it;
            # the path is safe to hand over: the image was checked when RecordImage was made
            images=([image.path] if image.key else [image.load()])
            if send and image is not None
            else None,
            image_keys=[image.key] if send and image is not None and image.key else None,
            schema=EXTRACT_SCHEMA,
            max_tokens=self.max_tokens,
        )
        parsed = result.parsed
        return Extraction(
            disease=str(parsed["disease"]).strip(),
            organ=str(parsed["organ"]).strip(),
            call_id=result.call_id,
            cached=result.cached,
            with_image=send,
        )
