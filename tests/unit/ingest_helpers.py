"""Builders shared by the ingest tests: distinct images, captioned folders, record dumps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medsynth.workspace import Workspace

CAPTION = (
    "Axial CT of the chest shows a nodule in the left lung with pleural effusion, "
    "atelectasis and mediastinal lymphadenopathy."
)


def image(path: Path, size: tuple[int, int] = (400, 400), seed: int = 0) -> Path:
    """A random 8-bit grey image (distinct seeds give unrelated perceptual hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    low = np.random.default_rng(seed).integers(0, 255, (8, 8), dtype=np.uint8)
    Image.fromarray(low).resize(size, Image.Resampling.NEAREST).save(path)
    return path


def open_image(path: Path) -> Image.Image:
    """Open an image with Pillow's default size guard (other tests lower the global limit)."""
    Image.MAX_IMAGE_PIXELS = 89_478_485
    return Image.open(path)


def captioned(root: Path, name: str, caption: str = CAPTION, **kwargs: Any) -> Path:
    """``root/name`` image plus its sidecar caption."""
    path = image(root / name, **kwargs)
    path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    return path


def records(ws: Workspace, dataset: str | None = None) -> list[dict[str, Any]]:
    """Record rows (without run ids and timestamps), ordered by key."""
    where, params = ("WHERE d.name = ?", [dataset]) if dataset else ("", [])
    rows = ws.db.query(
        "SELECT r.key, r.images, r.image_sha256, r.phash, r.width, r.height, r.context, "
        "r.context_derived, r.meta, r.status, r.filter_reason FROM records r "
        f"JOIN datasets d ON d.id = r.dataset_id {where} ORDER BY r.key",
        params,
    )
    return [dict(row) for row in rows]


def rejects(ws: Workspace) -> dict[str, str]:
    """Ingest rejects as {source: reason}."""
    return {
        row["source"]: row["reason"]
        for row in ws.db.query("SELECT source, reason FROM rejects WHERE stage = 'ingest'")
    }


def set_ingest(ws: Workspace, **values: Any) -> None:
    """Change ``[ingest]`` settings of an opened workspace (in memory)."""
    for key, value in values.items():
        setattr(ws.config.ingest, key, value)


def dump(ws: Workspace) -> str:
    """Every row of the tables a run writes, as one JSON string (for leak checks)."""
    tables = ("records", "datasets", "rejects", "runs")
    return json.dumps({t: [list(r) for r in ws.db.execute(f"SELECT * FROM {t}")] for t in tables})
