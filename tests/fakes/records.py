"""Records for grounding tests, written straight into the ``datasets`` / ``records`` tables (per
migration 5) without the ingest step; a scripted grounding run that a test can start in a
subprocess and kill."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medsynth.backends.base import Message
from medsynth.store.runs import utc_now
from medsynth.workspace import Workspace


def png(path: Path, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """A random grey PNG at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def add_dataset(ws: Workspace, name: str, root: Path, fmt: str = "folder") -> int:
    """One ``datasets`` row; returns its id."""
    with ws.db.conn:
        cursor = ws.db.conn.execute(
            "INSERT INTO datasets (name, format, root, options, created_at) VALUES (?, ?, ?, ?, ?)",
            [name, fmt, str(root.resolve()), "{}", utc_now()],
        )
    return int(cursor.lastrowid or 0)


def add_record(
    ws: Workspace,
    dataset_id: int,
    images: list[str],
    context: str,
    *,
    key: str | None = None,
    derived: bool = False,
    meta: dict[str, Any] | None = None,
    status: str = "kept",
) -> int:
    """One ``records`` row (hashes and size read from the image when it exists)."""
    root = Path(ws.db.execute("SELECT root FROM datasets WHERE id = ?", [dataset_id]).fetchone()[0])
    digests, width, height = [], None, None
    for relative in images:
        file = root / relative
        digests.append(hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "")
        if width is None and file.is_file():
            try:
                with Image.open(file) as image:
                    width, height = image.size
            except OSError:
                pass
    row = {
        "dataset_id": dataset_id,
        "key": key or "+".join(images),
        "images": json.dumps(images),
        "image_sha256": json.dumps(digests),
        "phash": json.dumps(["" for _ in images]),
        "width": width,
        "height": height,
        "context": context,
        "context_derived": int(derived),
        "meta": json.dumps(meta or {}),
        "status": status,
        "created_at": utc_now(),
    }
    with ws.db.conn:
        cursor = ws.db.conn.execute(
            f"INSERT INTO records ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    return int(cursor.lastrowid or 0)


def script_reply(answers: dict[str, dict[str, str]]) -> Any:
    """A ScriptedChat script: the extraction answer for the record whose context contains a key
    of ``answers`` (``{"disease": "none", "organ": "none"}`` otherwise)."""

    def reply(messages: list[Message]) -> str:
        text = str(messages[-1]["content"])
        for key, answer in answers.items():
            if key in text:
                return json.dumps(answer)
        return json.dumps({"disease": "none", "organ": "none"})

    return reply


def kill_target(workspace: str, latency: float, limit: int | None = None) -> None:
    """Ground with scripted models (contexts 'case-N' -> a disease by N) until killed."""
    from medsynth.backends.fake import ScriptedChat
    from medsynth.ground import ground

    names = ["Lung Cancer", "Kidney Stones", "bronchial carcinoma", "Pneumonia", "none"]
    answers = {f"case-{n:03d}": {"disease": names[n % 5], "organ": "Lung"} for n in range(200)}
    ws = Workspace.open(Path(workspace))
    ground(
        ws,
        extractor=ScriptedChat(script_reply(answers), latency_s=latency),
        verifier=ScriptedChat(lambda _m: '{"same": false}'),
        limit=limit,
    )


if __name__ == "__main__":
    kill_target(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
