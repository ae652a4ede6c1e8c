"""Attach images to KG entities: SLAKE detection boxes, or an ``<entity name>/*.png`` folder layout.

Images stay where they are (referenced relative to the folder given); a box's crop is written into
the workspace (owner-only) so that image encoders see the entity, not the whole slice.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from PIL import Image

from medsynth.errors import InputError
from medsynth.files import IMAGE_SUFFIXES, open_image, safe_child, sha256_file
from medsynth.kg.lookup import EntityRef, ExactMatcher
from medsynth.kg.model import BadRow
from medsynth.kg.queries import link_entity_image
from medsynth.store.runs import record_reject

ImageFormat = Literal["slake-detection", "folders"]


@dataclass
class LinkReport:
    """What one ``kg link-images`` did."""

    images_seen: int = 0
    links_new: int = 0
    links_existing: int = 0
    by_entity: Counter[str] = field(default_factory=Counter)
    unknown_labels: Counter[str] = field(default_factory=Counter)
    rejects: list[BadRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "images_seen": self.images_seen,
            "links_new": self.links_new,
            "links_existing": self.links_existing,
            "entities_linked": len(self.by_entity),
            "by_entity": dict(sorted(self.by_entity.items())),
            "unknown_labels": dict(sorted(self.unknown_labels.items())),
            "rejects": [{"source": r.source, "reason": r.reason} for r in self.rejects],
        }


def _crop(image: Image.Image, box: list[float], min_size: int) -> Image.Image:
    """The box, grown to ``min_size`` a side around its centre and shifted to stay inside."""
    x, y, w, h = box
    w, h = min(max(w, min_size), image.width), min(max(h, min_size), image.height)
    left = min(max(0.0, x + box[2] / 2 - w / 2), image.width - w)
    top = min(max(0.0, y + box[3] / 2 - h / 2), image.height - h)
    return image.crop((round(left), round(top), round(left + w), round(top + h)))


class _Linker:
    def __init__(
        self,
        db: sqlite_utils.Database,
        root: Path,
        crops_dir: Path,
        run_id: int | None,
        max_pixels: int,
        crop_min_size: int,
    ) -> None:
        self.db = db
        self.root = root
        self.crops_dir = crops_dir
        self.run_id = run_id
        self.max_pixels = max_pixels
        self.crop_min_size = crop_min_size
        self.matcher = ExactMatcher(db)
        self.report = LinkReport()

    def reject(self, source: str, reason: str, raw: str = "") -> None:
        self.report.rejects.append(BadRow(source, raw, reason))
        record_reject(
            self.db,
            stage="kg link-images",
            source=source,
            raw=raw,
            reason=reason,
            run_id=self.run_id,
        )

    def load(self, path: Path) -> tuple[Image.Image, str, str] | None:
        relative = (
            path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)
        )
        try:
            safe = safe_child(self.root, path)
            image = open_image(safe, self.max_pixels)
        except InputError as exc:
            self.reject(relative, exc.message)
            return None
        self.report.images_seen += 1
        return image, relative, sha256_file(safe)

    def link(
        self,
        entity: EntityRef,
        image: Image.Image,
        relative: str,
        digest: str,
        box: list[float] | None,
        source: str,
    ) -> None:
        crop_path = None
        if box is not None:
            name = f"{digest[:16]}-{entity.id}-{'-'.join(str(int(v)) for v in box)}.png"
            crop_file = self.crops_dir / name
            if not crop_file.exists():
                old_umask = os.umask(0o077)
                try:
                    _crop(image.convert("RGB"), box, self.crop_min_size).save(crop_file)
                finally:
                    os.umask(old_umask)
            crop_path = f"images/crops/{name}"
        added = link_entity_image(
            self.db,
            {
                "entity_id": entity.id,
                "root": str(self.root),
                "path": relative,
                "sha256": digest,
                "box": json.dumps(box) if box is not None else "",
                "crop_path": crop_path,
                "width": image.width,
                "height": image.height,
                "source": source,
            },
        )
        if added:
            self.report.links_new += 1
        else:
            self.report.links_existing += 1
        self.report.by_entity[entity.name] += 1

    def slake_detection(self) -> None:
        files = sorted(self.root.glob("*/detection.json"))
        if not files:
            raise InputError(
                "no */detection.json files here",
                source=str(self.root),
                hint="point at SLAKE's imgs/ folder (xmlabN/detection.json)",
            )
        for detection in files:
            source = detection.relative_to(self.root).as_posix()
            try:
                boxes = json.loads(detection.read_text(encoding="utf-8"))
                if not isinstance(boxes, list):
                    raise ValueError("expected a JSON list of {label: [x, y, w, h]}")
            except (UnicodeDecodeError, ValueError) as exc:
                self.reject(source, f"unreadable detection file: {exc}")
                continue
            loaded = self.load(detection.parent / "source.jpg")
            if loaded is None:
                continue
            image, relative, digest = loaded
            for item in boxes:
                for label, box in item.items() if isinstance(item, dict) else []:
                    if not (
                        isinstance(box, list)
                        and len(box) == 4
                        and all(isinstance(v, int | float) for v in box)
                    ):
                        self.reject(source, f"box of {label!r} is not [x, y, w, h]", str(box))
                        continue
                    entity = self.matcher.match(label, None)
                    if entity is None:
                        self.report.unknown_labels[label] += 1
                        continue
                    self.link(
                        entity,
                        image,
                        relative,
                        digest,
                        [float(v) for v in box],
                        f"slake-detection:{source}",
                    )

    def folders(self) -> None:
        folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        if not folders:
            raise InputError(
                "no entity folders here",
                source=str(self.root),
                hint="expected <entity name>/<image files>",
            )
        for folder in folders:
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            entity = self.matcher.match(folder.name, None)
            if entity is None:
                self.report.unknown_labels[folder.name] += len(files)
                continue
            for file in files:
                loaded = self.load(file)
                if loaded is not None:
                    image, relative, digest = loaded
                    self.link(entity, image, relative, digest, None, f"folders:{relative}")


def link_images(
    db: sqlite_utils.Database,
    root: Path,
    fmt: ImageFormat,
    *,
    crops_dir: Path,
    run_id: int | None,
    max_pixels: int,
    crop_min_size: int = 32,
) -> LinkReport:
    """Attach the images under ``root`` to entities; returns what was linked and what was not."""
    if not root.is_dir():
        raise InputError("not a folder", source=str(root), hint="pass the images folder")
    crops_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    linker = _Linker(db, root.resolve(), crops_dir, run_id, max_pixels, crop_min_size)
    with db.conn:
        if fmt == "slake-detection":
            linker.slake_detection()
        elif fmt == "folders":
            linker.folders()
        else:
            raise InputError(
                f"unknown image layout {fmt!r}",
                hint="use --format slake-detection or --format folders",
            )
    return linker.report
