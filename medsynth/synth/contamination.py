"""``synth --contamination``: flag samples whose image or question overlaps an evaluation set.

Image hits (the record's file SHA-256, or a perceptual hash within the distance) always flag a
sample. Question hits (exact text or embedding cosine) flag it too, except for generic questions
that the test set asks of many different images ("What modality is used to take this image?"):
such a question says nothing about leakage. Flagged samples get status ``contaminated`` and the
hits as JSON; exports leave them out unless asked. Recomputed from scratch on every check.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from medsynth.synth.queries import kept_with_image_hashes, mark_contaminated, unmark_contaminated
from medsynth.workspace import Workspace

GENERIC_IMAGES = 5  # a test question asked of this many images or more is generic
BATCH = 512


def flag_contamination(ws: Workspace, files: Sequence[Path]) -> int:
    """Mark kept samples that overlap the evaluation ``files``; returns how many."""
    from medsynth.backends.encoders import text_encoder
    from medsynth.eval.contamination import TestSet
    from medsynth.eval.metrics import normalize_answer

    test = TestSet.from_files(
        files, text_encoder(ws.config.models.text_encoder), max_pixels=ws.config.images.max_pixels
    )
    images_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for item in test.items:
        images_of[normalize_answer(item.question)].add((item.file, item.image))
    generic = {q for q, images in images_of.items() if len(images) >= GENERIC_IMAGES}
    db = ws.db
    with db.conn:
        unmark_contaminated(db)
    rows = kept_with_image_hashes(db)
    flagged: list[tuple[str, int]] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        queries = [(_first(sha), _first(phash), question) for _, question, sha, phash in batch]
        for (sample_id, *_), hits in zip(batch, test.match_many(queries), strict=True):
            counted = [
                h
                for h in hits
                if h.kind.startswith("image") or normalize_answer(h.question) not in generic
            ]
            if counted:
                flagged.append((json.dumps([h.as_dict() for h in counted]), sample_id))
    with db.conn:
        mark_contaminated(db, flagged)
    return len(flagged)


def _first(raw: str | None) -> str | None:
    """The first entry of a JSON list column (the record's first image)."""
    try:
        values = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return None
    return str(values[0]) if values and values[0] else None
