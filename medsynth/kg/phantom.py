"""Deterministic procedural CT-like axial slices for the demo knowledge graph.

The images are synthetic drawings made of ellipses and blobs (no real patient data).
Intensities follow a soft-tissue-like window: air black, lung dark, fat and fluid darker
grey, soft tissue mid-grey, bone bright. Same entity and variant always give the same bytes.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

SIZE = 256
Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Rng = np.random.Generator

AIR, LUNG, VESSEL, CSF = 0.0, 24.0, 70.0, 62.0
FLUID, FAT, SOFT, BRAIN = 104.0, 92.0, 122.0, 118.0
LIVER, KIDNEY, BONE = 138.0, 150.0, 232.0
HIGHLIGHT = 16.0
_YY, _XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


@dataclass(frozen=True)
class Ellipse:
    """An ellipse in pixel coordinates (angle in radians)."""

    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0

    def scaled(self, f: float, g: float | None = None) -> Ellipse:
        """Return the ellipse with radii multiplied by ``f`` (x) and ``g`` (y, default ``f``)."""
        return replace(self, rx=self.rx * f, ry=self.ry * (f if g is None else g))

    def mask(self) -> Mask:
        """Boolean mask of the pixels inside the ellipse."""
        out = np.zeros((SIZE, SIZE), dtype=bool)
        r = max(self.rx, self.ry) + 1.0  # only evaluate the bounding box
        y0, y1 = max(int(self.cy - r), 0), min(int(self.cy + r) + 2, SIZE)
        x0, x1 = max(int(self.cx - r), 0), min(int(self.cx + r) + 2, SIZE)
        if y0 >= y1 or x0 >= x1:
            return out
        c, s = np.cos(self.angle), np.sin(self.angle)
        dx, dy = _XX[y0:y1, x0:x1] - self.cx, _YY[y0:y1, x0:x1] - self.cy
        u, v = (dx * c + dy * s) / self.rx, (-dx * s + dy * c) / self.ry
        out[y0:y1, x0:x1] = u * u + v * v <= 1.0
        return out

    def point(self, rng: Rng, frac: float) -> tuple[float, float]:
        """A random point inside the ellipse shrunk to ``frac`` of its size."""
        t, r = rng.uniform(0.0, 2 * np.pi), frac * np.sqrt(rng.uniform(0.0, 1.0))
        return self.cx + r * self.rx * float(np.cos(t)), self.cy + r * self.ry * float(np.sin(t))


def _blob(rng: Rng, cx: float, cy: float, r: float, rough: float, lobes: int = 5) -> Mask:
    """An irregular round shape: radius modulated by a few random harmonics."""
    theta = np.arctan2(_YY - cy, _XX - cx)
    radius = np.full_like(theta, r)
    for k in range(2, 2 + lobes):
        radius += r * rough / k * np.cos(k * theta + rng.uniform(0.0, 2 * np.pi))
    return np.asarray(np.hypot(_XX - cx, _YY - cy) <= radius)


def _smooth(a: Array, passes: int = 1) -> Array:
    """Separable [1, 2, 1] / 4 blur applied ``passes`` times (edges replicated)."""
    for _ in range(passes):
        p = np.pad(a, 1, mode="edge")
        a = (p[:-2, 1:-1] + 2 * p[1:-1, 1:-1] + p[2:, 1:-1]) / 4
        p = np.pad(a, 1, mode="edge")
        a = (p[1:-1, :-2] + 2 * p[1:-1, 1:-1] + p[1:-1, 2:]) / 4
    return a


class _Canvas:
    """An intensity image plus a label map remembering which organ owns each pixel."""

    def __init__(self, rng: Rng) -> None:
        self.rng = rng
        self.img: Array = np.zeros((SIZE, SIZE))
        self.labels = np.zeros((SIZE, SIZE), dtype=np.int16)
        self.ids: dict[str, int] = {"body": 1}
        self.shapes: dict[str, list[Ellipse]] = {}

    def paint(self, mask: Mask, value: float, name: str = "body") -> None:
        """Fill ``mask`` with ``value`` and assign it to organ ``name``."""
        self.img[mask] = value
        self.labels[mask] = self.ids.setdefault(name, len(self.ids) + 1)

    def organ(self, name: str, shape: Ellipse, value: float) -> None:
        """Paint an elliptic organ and remember its shape for lesion placement."""
        self.shapes.setdefault(name.split(":")[0], []).append(shape)
        self.paint(shape.mask(), value, name)

    def region(self, name: str) -> Mask:
        """Visible pixels of organ ``name`` ("lung" covers "lung:0" and "lung:1")."""
        keys = [i for k, i in self.ids.items() if k == name or k.startswith(name + ":")]
        return np.isin(self.labels, keys)

    def j(self, spread: float) -> float:
        """Uniform jitter in [-spread, spread]."""
        return float(self.rng.uniform(-spread, spread))


def _body(c: _Canvas, rx: float, ry: float) -> None:
    """Body outline: fat layer around a muscle/soft-tissue core."""
    outer = Ellipse(128 + c.j(3), 132 + c.j(3), rx + c.j(5), ry + c.j(4))
    c.paint(outer.mask(), FAT)
    c.paint(outer.scaled(0.9).mask(), SOFT - 6)


def _spine(c: _Canvas, cy: float) -> None:
    """Vertebral body with a spinous process."""
    c.organ("spine", Ellipse(128 + c.j(2), cy, 15 + c.j(1), 14 + c.j(1)), BONE)
    c.paint(Ellipse(128, cy + 4, 8, 7).mask(), BONE - 50, "spine")
    c.organ("spine", Ellipse(128, cy + 26, 4, 9), BONE)


def _chest(c: _Canvas, sizes: dict[str, float]) -> None:
    _body(c, 112, 86)
    for i, side in enumerate((-1, 1)):
        lung = Ellipse(
            128 + side * (46 + c.j(3)), 124 + c.j(3), 36 + c.j(3), 56 + c.j(3), side * 0.12
        )
        c.organ(f"lung:{i}", lung, LUNG)
        for _ in range(14):  # small vessels seen end-on
            x, y = lung.point(c.rng, 0.85)
            c.paint(Ellipse(x, y, 1.6, 1.6).mask(), VESSEL, f"lung:{i}")
    f = sizes.get("heart", 1.0)
    c.organ(
        "heart", Ellipse(140 + c.j(3) + 10 * (f - 1), 136 + c.j(3), 30 * f, 26 * f, -0.4), SOFT + 8
    )
    c.organ("aorta", Ellipse(142, 172, 9, 9), SOFT + 10)
    _spine(c, 190)
    c.paint(Ellipse(128, 54 + c.j(2), 10, 5).mask(), BONE, "rib")
    for t in np.linspace(0.35, 2.6, 6):
        for side in (-1, 1):
            x, y = 128 + side * 100 * np.sin(t), 132 - 76 * np.cos(t)
            c.paint(Ellipse(float(x), float(y), 6, 4, side * float(t)).mask(), BONE - 20, "rib")


def _abdomen(c: _Canvas, sizes: dict[str, float]) -> None:
    _body(c, 114, 84)
    c.organ("liver", Ellipse(88 + c.j(3), 118 + c.j(3), 56 + c.j(3), 54 + c.j(3), 0.3), LIVER)
    c.organ("stomach", Ellipse(164 + c.j(3), 92 + c.j(3), 32, 22, -0.3), SOFT + 4)
    c.paint(Ellipse(164, 92, 26, 16, -0.3).mask(), FLUID - 10, "stomach")
    c.paint(Ellipse(170, 82, 18, 6, -0.3).mask(), AIR, "stomach")
    f = sizes.get("spleen", 1.0)
    c.organ(
        "spleen",
        Ellipse(192 - 8 * (f - 1) + c.j(2), 136 - 10 * (f - 1) + c.j(2), 18 * f, 30 * f, -0.35),
        SOFT + 10,
    )
    for i, side in enumerate((-1, 1)):
        kid = Ellipse(
            128 + side * (40 + c.j(2)), 176 + c.j(3), 16 + c.j(1), 22 + c.j(1), side * 0.35
        )
        c.organ(f"kidney:{i}", kid, KIDNEY)
        c.paint(Ellipse(kid.cx - side * 5, kid.cy, 5, 9, side * 0.35).mask(), FAT, f"kidney:{i}")
    c.organ("aorta", Ellipse(138, 160, 9, 9), SOFT + 10)
    c.paint(Ellipse(114, 158, 9, 7).mask(), SOFT + 4, "ivc")
    for _ in range(4):  # bowel gas bubbles
        c.paint(Ellipse(128 + c.j(22), 90 + c.j(14), 4, 3).mask(), AIR + 10, "bowel")
    _spine(c, 188)


def _pelvis(c: _Canvas, sizes: dict[str, float]) -> None:
    _body(c, 116, 80)
    for side in (-1, 1):
        c.paint(Ellipse(128 + side * 78, 150 + c.j(3), 14, 40, side * -0.5).mask(), BONE, "bone")
    c.organ("bladder", Ellipse(128 + c.j(3), 118 + c.j(3), 34 + c.j(3), 26 + c.j(2)), FLUID - 22)
    c.paint(Ellipse(128, 166, 12, 10).mask(), SOFT, "rectum")
    c.paint(Ellipse(128, 166, 5, 4).mask(), AIR + 10, "rectum")
    c.organ("spine", Ellipse(128, 196, 26, 10), BONE - 10)


def _head(c: _Canvas, sizes: dict[str, float]) -> None:
    skull = Ellipse(128 + c.j(2), 128 + c.j(2), 92 + c.j(3), 112 + c.j(3))
    c.paint(skull.scaled(1.07, 1.06).mask(), SOFT - 10)
    c.organ("skull", skull, BONE)
    c.organ("brain", skull.scaled(0.9, 0.92), BRAIN)
    c.paint(Ellipse(skull.cx, skull.cy - 20, 1.2, 60).mask(), BRAIN + 18, "brain")
    for side in (-1, 1):
        c.paint(
            Ellipse(skull.cx + side * 9, skull.cy + c.j(2), 5, 26, side * 0.15).mask(),
            CSF,
            "ventricle",
        )


SCENES: dict[str, Callable[[_Canvas, dict[str, float]], None]] = {
    "chest": _chest,
    "abdomen": _abdomen,
    "pelvis": _pelvis,
    "head": _head,
}


def _lesion(c: _Canvas, organ: str, kind: str, rng: Rng) -> None:
    """Draw one disease change in ``organ`` of a finished scene (``rng`` jitters the lesion)."""
    shapes = c.shapes[organ]
    idx = int(rng.integers(len(shapes)))
    shape = shapes[idx]
    region = c.region(f"{organ}:{idx}") if len(shapes) > 1 else c.region(organ)
    x, y = shape.point(rng, 0.5)
    if organ == "brain":
        x = shape.cx + rng.choice([-1, 1]) * rng.uniform(0.3, 0.5) * shape.rx
    if kind == "nodule":
        c.img[Ellipse(x, y, r := rng.uniform(4, 6), r).mask()] = SOFT + 18
    elif kind == "mass":
        c.img[_blob(rng, x, y, rng.uniform(13, 17), 0.5, 7) & region] = SOFT + 10
    elif kind == "effusion":
        inner = replace(shape.scaled(1.05, rng.uniform(0.7, 0.8)), cy=shape.cy - 0.25 * shape.ry)
        c.img[region & ~inner.mask()] = FLUID
    elif kind == "pneumothorax":
        c.img[region] = AIR + 4
        side = 1 if shape.cx < 128 else -1
        col = replace(shape.scaled(rng.uniform(0.5, 0.6), 0.8), cx=shape.cx + side * 0.4 * shape.rx)
        c.img[region & col.mask()] = LUNG + 18
        c.img[region & col.mask() & ~col.scaled(0.93).mask()] = VESSEL + 20
    elif kind == "consolidation":
        patch = np.zeros((SIZE, SIZE), dtype=bool)
        for _ in range(int(rng.integers(5, 9))):
            patch |= _blob(
                rng, x + rng.uniform(-14, 14), y + rng.uniform(-18, 18), rng.uniform(5, 11), 0.4
            )
        c.img[patch & region] = SOFT - 8
    elif kind == "cyst":
        c.img[Ellipse(x, y, r := rng.uniform(9, 13), r * 0.95).mask() & region] = FLUID - 40
    elif kind == "tumor":
        r = rng.uniform(13, 18)
        c.img[_blob(rng, x, y, r * 1.15, 0.3) & region] = LIVER + 16
        c.img[_blob(rng, x, y, r, 0.35) & region] = SOFT - 22
    elif kind == "stone":
        x, y = shape.point(rng, 0.3)
        c.img[Ellipse(x, y, r := rng.uniform(2.6, 3.6), r).mask()] = 255.0
    elif kind == "hydro":
        lobed = _blob(rng, shape.cx, shape.cy, shape.rx * rng.uniform(0.6, 0.7), 0.45, 4)
        c.img[lobed & region] = FLUID - 42
    elif kind == "brain_tumor":
        c.img[_blob(rng, x, y, rng.uniform(12, 17), 0.3) & region] = BRAIN + 48
    elif kind == "edema":
        c.img[_blob(rng, x, y, rng.uniform(22, 28), 0.45, 6) & region] = BRAIN - 28
        c.img[Ellipse(x, y, r := rng.uniform(6, 8), r).mask() & region] = BRAIN + 30


@dataclass(frozen=True)
class SceneSpec:
    """How an entity is drawn: base scene, organ to show, optional lesion and organ sizes."""

    scene: str
    organ: str
    lesion: str | None = None
    sizes: tuple[tuple[str, float], ...] = ()


ENTITY_SCENES: dict[str, SceneSpec] = {
    "Lung": SceneSpec("chest", "lung"),
    "Heart": SceneSpec("chest", "heart"),
    "Liver": SceneSpec("abdomen", "liver"),
    "Kidney": SceneSpec("abdomen", "kidney"),
    "Spleen": SceneSpec("abdomen", "spleen"),
    "Stomach": SceneSpec("abdomen", "stomach"),
    "Spine": SceneSpec("abdomen", "spine"),
    "Bladder": SceneSpec("pelvis", "bladder"),
    "Brain": SceneSpec("head", "brain"),
    "Pulmonary Nodule": SceneSpec("chest", "lung", "nodule"),
    "Lung Cancer": SceneSpec("chest", "lung", "mass"),
    "Pleural Effusion": SceneSpec("chest", "lung", "effusion"),
    "Pneumothorax": SceneSpec("chest", "lung", "pneumothorax"),
    "Pneumonia": SceneSpec("chest", "lung", "consolidation"),
    "Cardiomegaly": SceneSpec("chest", "heart", None, (("heart", 1.45),)),
    "Liver Cyst": SceneSpec("abdomen", "liver", "cyst"),
    "Liver Cancer": SceneSpec("abdomen", "liver", "tumor"),
    "Kidney Stone": SceneSpec("abdomen", "kidney", "stone"),
    "Hydronephrosis": SceneSpec("abdomen", "kidney", "hydro"),
    "Brain Tumor": SceneSpec("head", "brain", "brain_tumor"),
    "Brain Edema": SceneSpec("head", "brain", "edema"),
    "Splenomegaly": SceneSpec("abdomen", "spleen", None, (("spleen", 1.6),)),
}


def _seed(*parts: object) -> int:
    """Stable seed from the given parts (independent of PYTHONHASHSEED)."""
    return zlib.crc32("|".join(map(str, parts)).encode("utf-8"))


def render(entity: str, variant: int) -> Image.Image:
    """Render one 256x256 grayscale slice for ``entity``; ``variant`` jitters anatomy."""
    spec = ENTITY_SCENES[entity]
    canvas = _Canvas(np.random.default_rng(_seed(spec.scene, variant)))
    SCENES[spec.scene](canvas, dict(spec.sizes))
    if spec.lesion is not None:
        _lesion(canvas, spec.organ, spec.lesion, np.random.default_rng(_seed(entity, variant)))
    elif not spec.sizes:  # normal organ view: mild enhancement of the organ
        canvas.img[canvas.region(spec.organ)] += HIGHLIGHT
    noise_rng = np.random.default_rng(_seed(spec.scene, variant, "noise"))
    grain = _smooth(noise_rng.normal(0.0, 5.0, (SIZE, SIZE)))
    img = _smooth(canvas.img) + np.where(canvas.labels > 0, grain, 0.0)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


def write_demo_images(out_dir: Path, variants: int = 2) -> list[Path]:
    """Write ``out_dir/<Entity Name>/<variant>.png`` for every entity in ENTITY_SCENES."""
    written: list[Path] = []
    for entity in ENTITY_SCENES:
        folder = Path(out_dir) / entity
        folder.mkdir(parents=True, exist_ok=True)
        for variant in range(variants):
            path = folder / f"{variant}.png"
            render(entity, variant).save(path, format="PNG", compress_level=9)
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m medsynth.kg.phantom OUT_DIR [VARIANTS]``."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path("kg/demo/images")
    paths = write_demo_images(out, int(args[1]) if len(args) > 1 else 2)
    print(f"wrote {len(paths)} images to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
