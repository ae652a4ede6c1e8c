"""Image ablation: the same questions asked with the image replaced, to measure how much a
model's answers depend on what it sees ("visual reliance").

- ``blank``: a black image of the same size;
- ``noise``: seeded uniform noise of the same size (a fresh picture per question);
- ``shuffled``: the image of another question of the same set (a seeded permutation that moves
  every image to a different one).

Replacement files are written once, owner-only, into a cache folder of the workspace, and their
call-log keys say what they are, so a re-run reuses them. :func:`visual_reliance` turns the
comparison of a run with its ablated twin into the drop per answer type, with the paired
bootstrap interval of :func:`medsynth.eval.compare.compare`.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from medsynth.files import private_dir, sha256_file

Ablation = Literal["blank", "shuffled", "noise"]
ABLATIONS: tuple[Ablation, ...] = ("blank", "shuffled", "noise")
RELIANCE_METRICS = (("closed_accuracy", "CLOSED"), ("open_recall", "OPEN"), ("average", "all"))


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of an image file (header only)."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def blank_image(size: tuple[int, int], cache: Path) -> tuple[Path, str]:
    """A black RGB image of ``size`` in ``cache`` (written once) and its call-log key."""
    from PIL import Image

    width, height = size
    path = private_dir(cache) / f"blank-{width}x{height}.png"
    if not path.exists():
        _save(Image.new("RGB", size, (0, 0, 0)), path)
    return path, f"ablation:blank:{width}x{height}"


def noise_image(size: tuple[int, int], cache: Path, seed_text: str) -> tuple[Path, str]:
    """Uniform RGB noise of ``size``, seeded by ``seed_text`` (written once), and its key."""
    import numpy as np
    from PIL import Image

    digest = hashlib.sha256(f"{seed_text}:{size}".encode()).hexdigest()[:24]
    path = private_dir(cache) / f"noise-{digest}.png"
    if not path.exists():
        rng = np.random.default_rng(int(digest, 16))
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        _save(Image.fromarray(pixels, "RGB"), path)
    return path, f"ablation:noise:{digest}"


def _save(image: Any, path: Path) -> None:
    import io

    from medsynth.files import write_private

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_private(path, buffer.getvalue())


def shuffle_map(images: Sequence[str], seed: int) -> dict[str, str]:
    """Each distinct image mapped to a different one of the set (a seeded derangement); a set
    with a single image maps it to itself.

    >>> moved = shuffle_map(["a.png", "b.png", "c.png", "a.png"], seed=0)
    >>> sorted(moved) == sorted(set(moved.values())) == ["a.png", "b.png", "c.png"]
    True
    >>> any(k == v for k, v in moved.items())
    False
    """
    distinct = sorted(set(images))
    if len(distinct) < 2:
        return {name: name for name in distinct}
    order = distinct[:]
    random.Random(seed).shuffle(order)
    # a cyclic shift of a shuffled order moves every element
    return {order[i]: order[(i + 1) % len(order)] for i in range(len(order))}


def replacement(
    kind: str,
    image: Path,
    *,
    cache: Path,
    qid: str,
    shuffled: dict[str, Path] | None = None,
) -> tuple[Path, str]:
    """The file sent instead of ``image`` and its call-log key."""
    if kind == "blank":
        return blank_image(image_size(image), cache)
    if kind == "noise":
        return noise_image(image_size(image), cache, f"{qid}:{image.name}")
    if shuffled is None or str(image) not in shuffled:
        raise ValueError(f"no shuffled image for {image}")
    other = shuffled[str(image)]
    return other, f"file-sha256:{sha256_file(other)}"


def visual_reliance(comparison: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    """The drop from a run (the comparison's first) to its ablated twin (the comparison's
    run ``index + 1``), per answer type: both scores, the drop in points with its interval, and
    the share of the score kept without the real image.

    >>> rows = [{"group": "overall", "metric": "closed_accuracy", "n": 10,
    ...   "values": [80.0, 60.0], "diffs": [{"diff": -20.0, "ci": [-30.0, -10.0],
    ...   "excludes_zero": True}]}]
    >>> visual_reliance({"rows": rows})[0]["drop"], visual_reliance({"rows": rows})[0]["kept"]
    (20.0, 75.0)
    """
    found = []
    for row in comparison["rows"]:
        for metric, answer_type in RELIANCE_METRICS:
            if row["group"] != "overall" or row["metric"] != metric:
                continue
            base, ablated = row["values"][0], row["values"][index + 1]
            diff = row["diffs"][index]
            if base is None or ablated is None or diff["diff"] is None:
                continue
            found.append(
                {
                    "answer_type": answer_type,
                    "metric": metric,
                    "n": row["n"],
                    "score": base,
                    "ablated": ablated,
                    "drop": round(-diff["diff"], 2),
                    "ci": [round(-diff["ci"][1], 2), round(-diff["ci"][0], 2)],
                    "excludes_zero": diff["excludes_zero"],
                    "kept": round(100 * ablated / base, 1) if base else None,
                }
            )
    return found


class Ablated:
    """The replacement images of one ablated eval run (``None`` from :meth:`of` when the run
    is not ablated)."""

    def __init__(self, kind: str, cache: Path, shuffled: dict[str, Path]) -> None:
        self.kind = kind
        self.cache = cache
        self.shuffled = shuffled

    @classmethod
    def of(cls, ws: Any, evalset: Any, kind: str) -> Ablated | None:
        """For an eval set (``ws``: the workspace, for its cache folder); None without ``kind``."""
        if not kind:
            return None
        if kind not in ABLATIONS:
            raise ValueError(f"unknown image ablation {kind!r}: one of {', '.join(ABLATIONS)}")
        shuffled: dict[str, Path] = {}
        if kind == "shuffled":
            paths = {str(evalset.image_path(q)): evalset.image_path(q) for q in evalset.questions}
            moved = shuffle_map(list(paths), seed=0)
            shuffled = {source: paths[target] for source, target in moved.items()}
        return cls(kind, ws.path("cache") / "ablation", shuffled)

    def instead_of(self, image: Path, qid: str) -> tuple[Path, str]:
        """The file sent instead of ``image`` and its call-log key."""
        return replacement(self.kind, image, cache=self.cache, qid=qid, shuffled=self.shuffled)
