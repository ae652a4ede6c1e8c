"""Regions of interest for MEDSAGE localization: annotated boxes (as given, jittered, expanded,
a sub-region) plus the whole image, or a text cue where there are no boxes; each put into
anatomical-position words the generator can use, and cropped out of the image for a model that
reads images (:func:`crop_file`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medsynth.kg.normalize import normalize

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the image


@dataclass(frozen=True)
class Roi:
    """One region: how it was made, what it holds, where it is (None: the whole image)."""

    variant: str  # box | jitter | expand | sub | whole | text
    label: str
    box: Box | None

    def words(self) -> str:
        """The region in words and fractions of the image.

        >>> Roi("box", "liver", (0.0, 0.0, 0.3, 0.3)).words()
        'the liver, in the upper left of the image (about 9% of it), box x 0.00-0.30, y 0.00-0.30'
        """
        if self.box is None:
            return f"the {self.label}" if self.variant == "text" else "the whole image"
        x0, y0, x1, y1 = self.box  # MEDSAGE gives coordinate ROIs as coordinates too
        place = position_words(self.box)
        return (
            f"the {self.label or 'region'}, {place}, box x {x0:.2f}-{x1:.2f}, y {y0:.2f}-{y1:.2f}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (box rounded)."""
        box = [round(v, 3) for v in self.box] if self.box else None
        return {"variant": self.variant, "label": self.label, "box": box, "words": self.words()}


def position_words(box: Box) -> str:
    """Where a box lies in the image and how much of it it covers.

    >>> position_words((0.0, 0.0, 0.3, 0.3))
    'in the upper left of the image (about 9% of it)'
    >>> position_words((0.3, 0.4, 0.7, 0.6))
    'in the centre of the image (about 8% of it)'
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    vertical = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else ""
    horizontal = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    place = " ".join(w for w in (vertical, horizontal) if w) or "centre"
    if place in ("upper", "lower"):
        place += " middle"
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
    return f"in the {place} of the image (about {round(area * 100)}% of it)"


def _clip(box: Box) -> Box:
    x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in box)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def variants(box: Box, rng: random.Random) -> dict[str, Box]:
    """The box as given, jittered (shifted up to 10% of its size), expanded (1.3x about its
    centre) and one of its four quadrants.

    >>> v = variants((0.2, 0.2, 0.6, 0.6), random.Random(0))
    >>> v["box"], v["expand"]
    ((0.2, 0.2, 0.6, 0.6), (0.14, 0.14, 0.66, 0.66))
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dx, dy = rng.uniform(-0.1, 0.1) * w, rng.uniform(-0.1, 0.1) * h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    qx, qy = rng.choice((0, 1)), rng.choice((0, 1))
    sub = (x0 + qx * w / 2, y0 + qy * h / 2, x0 + (qx + 1) * w / 2, y0 + (qy + 1) * h / 2)
    expanded = (cx - 0.65 * w, cy - 0.65 * h, cx + 0.65 * w, cy + 0.65 * h)
    return {
        "box": box,
        "jitter": _clip((x0 + dx, y0 + dy, x1 + dx, y1 + dy)),
        "expand": tuple(round(v, 6) for v in _clip(expanded)),  # type: ignore[dict-item]
        "sub": _clip(sub),
    }


def annotated_boxes(meta: dict[str, Any], size: tuple[int, int]) -> list[tuple[str, Box]]:
    """SLAKE-style ``meta["boxes"]`` ({label, box: [x, y, w, h] in pixels}) as fractions."""
    width, height = size
    found = []
    for item in meta.get("boxes") or []:
        try:
            x, y, w, h = (float(v) for v in item["box"])
        except (KeyError, TypeError, ValueError):
            continue
        if width <= 0 or height <= 0 or w <= 0 or h <= 0:
            continue
        found.append(
            (
                str(item.get("label", "")),
                _clip((x / width, y / height, (x + w) / width, (y + h) / height)),
            )
        )
    return found


def rois_for(
    meta: dict[str, Any], size: tuple[int, int], question: str, cue: str, n: int, seed: int
) -> list[Roi]:
    """Up to ``n`` regions for one question: the box whose label the question names (else the
    first box) as given, then its jittered / expanded / sub-region forms in a seeded order, then
    the whole image (always last when ``n`` > 1); without boxes, the text cue (organ or
    location) and the whole image.

    >>> meta = {"boxes": [{"label": "Liver", "box": [10, 10, 40, 40]}]}
    >>> [r.variant for r in rois_for(meta, (100, 100), "Where is the liver?", "", 5, 0)][::4]
    ['box', 'whole']
    >>> [r.variant for r in rois_for(meta, (100, 100), "q", "", 3, 0)][-1]
    'whole'
    """
    rng = random.Random(seed)
    boxes = annotated_boxes(meta, size)
    words = f" {normalize(question)} "
    if boxes:
        named = [b for b in boxes if normalize(b[0]) and f" {normalize(b[0])} " in words]
        label, box = (named or boxes)[0]
        shapes = variants(box, rng)
        extra = ["jitter", "expand", "sub"]
        rng.shuffle(extra)
        pool = [Roi("box", label.lower(), shapes["box"])]
        pool += [Roi(name, label.lower(), shapes[name]) for name in extra]
    else:
        pool = [Roi("text", cue, None)] if cue else []
    whole = Roi("whole", "", None)
    return [*pool[: max(1, n - 1)], whole] if n > 1 or not pool else pool[:1]


def crop_file(image: Path, box: Box, source_sha256: str, cache: Path) -> tuple[Path, str]:
    """The ``box`` region of ``image`` as an owner-only PNG in ``cache`` (written once, named by
    the source's hash and the box) and its call-log key."""
    import hashlib
    import io

    from PIL import Image

    from medsynth.files import private_dir, write_private

    spec = ",".join(f"{v:.4f}" for v in box)
    name = hashlib.sha256(f"{source_sha256}:{spec}".encode()).hexdigest()[:32]
    path = private_dir(cache) / f"crop-{name}.png"
    if not path.exists():
        with Image.open(image) as opened:
            width, height = opened.size
            x0, y0, x1, y1 = box
            area = (int(x0 * width), int(y0 * height), max(int(x1 * width), int(x0 * width) + 1),
                    max(int(y1 * height), int(y0 * height) + 1))  # fmt: skip
            buffer = io.BytesIO()
            opened.convert("RGB").crop(area).save(buffer, format="PNG")
        write_private(path, buffer.getvalue())
    return path, f"crop:{source_sha256}:{spec}"
