"""Training exports read back for contamination checks: ``sft.jsonl``, ``grpo.jsonl``,
``llava.json`` and ``sharegpt.json`` as ``medsynth export`` writes them (image paths relative
to the export folder, never escaping it), and :func:`scan_export`, their overlap with a
:class:`~medsynth.eval.contamination.TestSet`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.eval.contamination import DEFAULT_MAX_PIXELS, Query, TestSet
from medsynth.ingest.images import inspect_image
from medsynth.ingest.sources import load_json

EXPORT_FILES = ("sft.jsonl", "grpo.jsonl", "llava.json", "sharegpt.json")


@dataclass
class ExportSample:
    """One training sample of an export: its image files and its questions."""

    id: str
    file: str
    images: list[str]  # relative to the export folder
    questions: list[str] = field(default_factory=list)


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _user_texts(messages: Any) -> list[str]:
    if not isinstance(messages, list):
        return []
    texts = [
        _texts(m.get("content")).replace("<image>", " ")
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    return [t.strip() for t in texts if t.strip()]


def _last_paragraph(text: str) -> str:
    """The question of a LLaVA human turn: a system or role-play text may open the turn, set
    apart from the question by a blank line."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return paragraphs[-1] if paragraphs else ""


def _image_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str) and v.strip()]
    return []


def read_export(folder: Path) -> tuple[list[ExportSample], list[tuple[str, str]]]:
    """The samples of an export folder's ``sft.jsonl``, ``grpo.jsonl``, ``llava.json`` and
    ``sharegpt.json`` (or of one such file; held-out ``*_eval`` files are not training data),
    and the lines that could not be read."""
    folder = Path(folder).expanduser()
    files = [folder] if folder.is_file() else [folder / n for n in EXPORT_FILES]
    files = [f for f in files if f.is_file()]
    if not files:
        raise InputError(
            "no training export here",
            source=str(folder),
            hint=f"point at a folder written by `medsynth export` ({', '.join(EXPORT_FILES)})",
        )
    samples: list[ExportSample] = []
    problems: list[tuple[str, str]] = []
    for file in files:
        if file.suffix == ".jsonl":
            lines = file.read_text(encoding="utf-8-sig").splitlines()
            rows: list[tuple[str, Any]] = []
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    rows.append((f"{file.name}:{number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    problems.append((f"{file.name}:{number}", f"invalid JSON: {exc}"))
        else:
            data = load_json(file)
            rows = [
                (f"{file.name}[{i}]", r)
                for i, r in enumerate(data if isinstance(data, list) else [])
            ]
        for source, row in rows:
            if not isinstance(row, dict):
                problems.append((source, "not a JSON object"))
                continue
            if "conversations" in row:
                questions = [
                    _last_paragraph(str(turn.get("value", "")).replace("<image>", " "))
                    for turn in row["conversations"]
                    if isinstance(turn, dict) and turn.get("from") in ("human", "user")
                ]
                images = _image_list(row.get("image", row.get("images")))
            else:
                questions = _user_texts(row.get("messages") or row.get("prompt"))
                images = _image_list(row.get("images", row.get("image")))
            samples.append(
                ExportSample(
                    str(row.get("id", source)), source, images, [q for q in questions if q]
                )
            )
    return samples, problems


def scan_export(
    folder: Path,
    test: TestSet,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    phash_distance: int | None = None,
    question_cosine: float | None = None,
    examples: int = 20,
) -> dict[str, Any]:
    """Overlap of a training export with ``test``: counts by kind and example hits."""
    base = (folder if Path(folder).is_dir() else Path(folder).parent).expanduser().resolve()
    samples, problems = read_export(Path(folder))
    hashes: dict[str, tuple[str | None, str | None]] = {}
    for sample in samples:
        for image in sample.images:
            if image in hashes:
                continue
            try:  # inspect_image refuses paths escaping the export folder
                info = inspect_image(base, image, max_pixels)
                hashes[image] = (info.sha256, info.phash)
            except InputError as exc:
                problems.append((f"{sample.file} {image}", exc.message))
                hashes[image] = (None, None)
    queries: list[Query] = []
    owners: list[ExportSample] = []
    for sample in samples:
        pairs = [hashes[i] for i in sample.images] or [(None, None)]
        texts: list[str | None] = list(sample.questions) or [None]
        for index in range(max(len(pairs), len(texts))):
            sha, phash = pairs[min(index, len(pairs) - 1)]
            queries.append((sha, phash, texts[index] if index < len(texts) else None))
            owners.append(sample)
    results = test.match_many(
        queries, phash_distance=phash_distance, question_cosine=question_cosine
    )
    by_kind: dict[str, set[str]] = {}
    test_images: set[tuple[str, str]] = set()
    test_questions: set[tuple[str, str, str]] = set()
    contaminated: set[str] = set()
    listed: list[dict[str, Any]] = []
    for sample, hits in zip(owners, results, strict=True):
        for hit in hits:
            key = f"{sample.file}#{sample.id}"
            contaminated.add(key)
            by_kind.setdefault(hit.kind, set()).add(key)
            if hit.same_image:
                by_kind.setdefault("question_on_same_image", set()).add(key)
            if hit.kind.startswith("image"):
                test_images.add((hit.file, hit.image))
            else:
                test_questions.update((hit.dataset, hit.file, q) for q in hit.qids)
            if len(listed) < examples:
                listed.append({"sample": sample.id, "source": sample.file, **hit.as_dict()})
    return {
        "export": str(base),
        "samples": len(samples),
        "images": len(hashes),
        "test": test.summary(),
        "thresholds": {
            "phash_distance": test.phash_distance if phash_distance is None else phash_distance,
            "question_cosine": test.question_cosine if question_cosine is None else question_cosine,
            "question_encoder": test.text_encoder.name if test.text_encoder else None,
        },
        "contaminated_samples": len(contaminated),
        "samples_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
        "test_images_overlapping": len(test_images),
        "test_questions_overlapping": len(test_questions),
        "hits": listed,
        "problems": [{"source": s, "reason": r} for s, r in problems],
    }
