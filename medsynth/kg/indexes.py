"""Entity vector indexes of a workspace: text (names and aliases) and images (crops).

Each index is an hnswlib file under ``indexes/`` with its label -> row map in ``vector_ids``. The
content hash of what was embedded (and by which encoder) is stored with it: when the KG changes the
hash changes and the index is rebuilt.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from medsynth.backends.encoders import image_encoder, text_encoder
from medsynth.errors import InputError
from medsynth.files import open_image
from medsynth.kg import queries
from medsynth.kg.queries import index_file, label_ref, ref_entity
from medsynth.kg.vectors import VectorIndex
from medsynth.store.runs import record_reject, utc_now
from medsynth.workspace import Workspace

IndexName = Literal["entity_text", "entity_image"]
INDEX_NAMES: tuple[IndexName, ...] = ("entity_text", "entity_image")


@dataclass
class Hit:
    """One search result."""

    entity_id: int
    name: str
    type: str
    score: float
    via: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "type": self.type,
            "score": round(self.score, 4),
            "via": self.via,
        }


def _text_items(ws: Workspace) -> list[tuple[str, int, str]]:
    """(ref_table, ref_id, text) for every entity name and alias."""
    return queries.name_refs(ws.db)


def _image_items(ws: Workspace) -> list[tuple[str, int, str]]:
    """(ref_table, ref_id, file) for every entity image (the crop when there is one)."""
    items = []
    for image_id, root, path, crop in queries.image_refs(ws.db):
        file = str(ws.root / crop) if crop else str(Path(root) / path)
        items.append(("entity_images", image_id, file))
    return items


def _content_hash(encoder: str, items: list[tuple[str, int, str]]) -> str:
    digest = hashlib.sha256(encoder.encode())
    for table, ref_id, text in items:
        digest.update(f"\x00{table}\x00{ref_id}\x00{text}".encode())
    return digest.hexdigest()


def _items(ws: Workspace, name: IndexName) -> tuple[str, list[tuple[str, int, str]]]:
    role = (
        ws.config.models.text_encoder if name == "entity_text" else ws.config.models.image_encoder
    )
    spec = f"{role.backend}:{role.model}"
    return spec, (_text_items(ws) if name == "entity_text" else _image_items(ws))


def index_status(ws: Workspace) -> list[dict[str, Any]]:
    """For each index: whether it is built, its size and encoder, and whether it is stale."""
    result = []
    for name in INDEX_NAMES:
        encoder_spec, items = _items(ws, name)
        info = queries.index_row(ws.db, name)
        if info is None:
            result.append({"name": name, "built": False, "stale": bool(items), "items": len(items)})
            continue
        info.update(
            built=True,
            items=len(items),
            weak=bool(info["weak"]),
            stale=info["content_hash"] != _content_hash(encoder_spec, items)
            or not (ws.root / info["path"]).exists(),
        )
        result.append(info)
    return result


def build_index(
    ws: Workspace, name: IndexName, *, force: bool = False, run_id: int | None = None
) -> dict[str, Any]:
    """(Re)build one index if its content changed (or ``force``); returns its status row."""
    encoder_spec, items = _items(ws, name)
    content_hash = _content_hash(encoder_spec, items)
    current = queries.index_row(ws.db, name)
    if (
        not force
        and current
        and current["content_hash"] == content_hash
        and (ws.root / current["path"]).exists()
    ):
        return {"name": name, "rebuilt": False, "count": len(items)}
    started = time.perf_counter()
    refs: list[tuple[str, int]] = []
    if name == "entity_text":
        encoder = text_encoder(ws.config.models.text_encoder)
        vectors = encoder.encode_text([text for _, _, text in items])
        refs = [(table, ref_id) for table, ref_id, _ in items]
        dim, encoder_name, weak = encoder.dim, encoder.name, encoder.weak
    else:
        image_enc = image_encoder(ws.config.models.image_encoder)
        images: list[Image.Image] = []
        for table, ref_id, file in items:
            try:
                images.append(open_image(Path(file), ws.config.images.max_pixels))
            except InputError as exc:
                record_reject(
                    ws.db, stage="kg index", source=file, raw="", reason=exc.message, run_id=run_id
                )
                continue
            refs.append((table, ref_id))
        vectors = image_enc.encode_image(images)
        dim, encoder_name, weak = image_enc.dim, image_enc.name, image_enc.weak
    cfg = ws.config.index
    index = VectorIndex(
        dim, m=cfg.hnsw_m, ef_construction=cfg.ef_construction, ef_search=cfg.ef_search
    )
    index.build(vectors, np.arange(len(refs), dtype=np.int64))
    relative = f"indexes/{name}.hnsw"
    index.save(ws.root / relative)
    seconds = time.perf_counter() - started
    queries.store_index(
        ws.db,
        {
            "name": name,
            "encoder": encoder_name,
            "weak": int(weak),
            "dim": dim,
            "count": len(refs),
            "content_hash": content_hash,
            "path": relative,
            "built_at": utc_now(),
            "build_seconds": round(seconds, 3),
        },
        refs,
    )
    return {
        "name": name,
        "rebuilt": True,
        "count": len(refs),
        "encoder": encoder_name,
        "weak": weak,
        "seconds": round(seconds, 3),
    }


def built_index(ws: Workspace, name: IndexName) -> tuple[str, int]:
    """(path relative to the workspace, vectors) of index ``name``, built first if it is
    missing or stale."""
    build_index(ws, name)
    found = index_file(ws.db, name)
    if found is None:  # build_index writes the row; only a concurrent rebuild could remove it
        raise InputError(f"the {name} index is not built", hint="run `medsynth kg index`")
    return found


def _search(
    ws: Workspace, name: IndexName, vector: np.ndarray, k: int, entity_type: str | None
) -> list[Hit]:
    path, count = built_index(ws, name)
    index = VectorIndex.load(ws.root / path, ef_search=ws.config.index.ef_search)
    labels, scores = index.query(vector.reshape(1, -1), k=min(count, k * 4 + 10))
    hits: dict[int, Hit] = {}
    for label, score in zip(labels[0], scores[0], strict=True):
        ref = label_ref(ws.db, name, int(label))
        if ref is None:
            continue
        entity = ref_entity(ws.db, *ref)
        if entity is None or (entity_type and entity[2] != entity_type):
            continue
        if entity[0] not in hits:
            hits[entity[0]] = Hit(entity[0], entity[1], entity[2], float(score), ref[0])
    return sorted(hits.values(), key=lambda h: -h.score)[:k]


def search_text(
    ws: Workspace, query: str, k: int = 10, entity_type: str | None = None
) -> list[Hit]:
    """Entities whose names or aliases are nearest to ``query`` (cosine)."""
    vector = text_encoder(ws.config.models.text_encoder).encode_text([query])[0]
    return _search(ws, "entity_text", vector, k, entity_type)


def search_image(
    ws: Workspace, image: Image.Image, k: int = 10, entity_type: str | None = None
) -> list[Hit]:
    """Entities whose images are nearest to ``image`` (cosine)."""
    vector = image_encoder(ws.config.models.image_encoder).encode_image([image])[0]
    return _search(ws, "entity_image", vector, k, entity_type)
