"""SLAKE and VQA-RAD: VQA datasets without captions. Rows are grouped by image, one record per
image, and the context is *derived* from what the dataset carries (modality, location or organ,
SLAKE's detection labels, the image's questions and answers) as plain sentences.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.ingest.sources import BadItem, Item, RawItem, load_json, read_text

VQA_RAD_ORGANS = {"HEAD": "head", "CHEST": "chest", "ABD": "abdomen"}
Row = dict[str, Any]


def slake_file(path: Path, split: str) -> tuple[Path, Path]:
    """SLAKE's root folder and the ``{split}.json`` file (``path`` may name the file itself)."""
    if path.is_file():
        return path.parent.resolve(), path.resolve()
    file = path / f"{split}.json"
    if not file.is_file():
        raise InputError(
            f"no {split}.json here",
            source=str(path),
            hint="point at the SLAKE folder (train.json, validate.json, test.json, imgs/) "
            "and pick --split train|validate|test",
        )
    return path.resolve(), file.resolve()


def vqa_rad_file(path: Path, split: str) -> tuple[Path, Path, Callable[[Row], bool]]:
    """VQA-RAD's root, the rows file and which rows belong to ``split``: ``VQA_RAD_{split}.json``,
    the official ``VQA_RAD_Dataset_Public.json`` (test rows: phrase_type test_*), or the common
    ``trainset.json`` / ``testset.json`` layout."""
    if split not in ("train", "test"):
        raise InputError(f"VQA-RAD has no {split!r} split", hint="use --split train or test")

    def everything(row: Row) -> bool:
        return True

    def official(row: Row) -> bool:
        is_test = str(row.get("phrase_type", "")).startswith("test")
        return is_test == (split == "test")

    if path.is_file():
        select = official if path.name == "VQA_RAD_Dataset_Public.json" else everything
        return path.parent.resolve(), path.resolve(), select
    for name, select in (
        (f"VQA_RAD_{split}.json", everything),
        ("VQA_RAD_Dataset_Public.json", official),
        (f"{split}set.json", everything),
    ):
        if (path / name).is_file():
            return path.resolve(), (path / name).resolve(), select
    raise InputError(
        f"no VQA-RAD rows for split {split!r} here",
        source=str(path),
        hint=f"expected VQA_RAD_{split}.json, VQA_RAD_Dataset_Public.json or {split}set.json "
        "beside an images/ folder",
    )


def _rows(file: Path) -> list[Any]:
    rows = load_json(file)
    if not isinstance(rows, list):
        raise InputError("expected a JSON list of question rows", source=str(file))
    return rows


def _group(
    file: Path, rows: list[Any], image_field: str, keep: Callable[[Row], bool]
) -> Iterator[BadItem | tuple[str, list[Row]]]:
    """Rows grouped by image (first-appearance order); malformed rows as bad items."""
    groups: dict[str, list[Row]] = {}
    for index, row in enumerate(rows):
        source = f"{file.name}[{index}]"
        if not isinstance(row, dict):
            yield BadItem(source, "row is not a JSON object", json.dumps(row)[:2000])
            continue
        if not keep(row):
            continue
        raw = json.dumps(row, ensure_ascii=False, sort_keys=True)[:2000]
        image = row.get(image_field)
        if not isinstance(image, str) or not image.strip():
            yield BadItem(source, f"row without {image_field}", raw)
        elif not isinstance(row.get("question"), str) or not row["question"].strip():
            yield BadItem(source, "row without a question", raw)
        elif not str(row.get("answer") if row.get("answer") is not None else "").strip():
            yield BadItem(source, "row with an empty answer", raw)
        else:
            groups.setdefault(image.strip(), []).append(row)
    yield from groups.items()


def _most_common(rows: list[Row], name: str) -> str:
    values = Counter(str(r[name]).strip() for r in rows if str(r.get(name) or "").strip())
    return values.most_common(1)[0][0] if values else ""


def _qa_sentences(qa: list[dict[str, Any]]) -> list[str]:
    return [f"Q: {p['question'].strip()} A: {str(p['answer']).strip().rstrip('.')}." for p in qa]


def _place(location: str) -> str:
    """SLAKE's location as words: ``Chest_lung`` -> ``chest (lung)``."""
    head, _, tail = location.partition("_")
    return f"{head.lower()} ({tail.lower()})" if tail else head.lower()


def _detection(base: Path, img_name: str) -> tuple[list[dict[str, Any]], BadItem | None]:
    folder = Path(img_name).parent
    if folder == Path("."):
        return [], None
    relative = (Path("imgs") / folder / "detection.json").as_posix()
    if not (base / relative).exists():
        return [], None
    try:
        data = json.loads(read_text(base, relative))
        boxes = [
            {"label": str(label), "box": [float(v) for v in box]}
            for item in data
            for label, box in item.items()
        ]
    except InputError as exc:
        return [], BadItem(relative, exc.message, hint=exc.hint)
    except (ValueError, TypeError, AttributeError) as exc:
        return [], BadItem(relative, f"unreadable detection file: {exc}")
    return boxes, None


def read_slake(base: Path, file: Path, language: str) -> Iterator[Item]:
    """One record per SLAKE image with rows in ``language`` (``q_lang``)."""
    rows = _rows(file)
    found = False
    for group in _group(file, rows, "img_name", lambda r: r.get("q_lang") == language):
        if isinstance(group, BadItem):
            yield group
            continue
        found = True
        img_name, image_rows = group
        boxes, bad = _detection(base, img_name)
        if bad is not None:
            yield bad
        modality, location = (
            _most_common(image_rows, "modality"),
            _most_common(image_rows, "location"),
        )
        labels = list(dict.fromkeys(b["label"] for b in boxes))
        qa = [
            {
                k: r.get(k)
                for k in ("qid", "question", "answer", "answer_type", "content_type", "base_type")
            }
            for r in image_rows
        ]
        sentences = [f"{modality or 'Medical'} image of the {_place(location) or 'body'}."]
        if labels:
            sentences.append(f"Annotated regions: {', '.join(label.lower() for label in labels)}.")
        context = " ".join(sentences + _qa_sentences(qa))
        meta = {
            "img_name": img_name,
            "img_id": image_rows[0].get("img_id"),
            "modality": modality,
            "location": location,
            "boxes": boxes,
            "qids": [r.get("qid") for r in image_rows],
            "qa": qa,
            "language": language,
            "split_file": file.name,
        }
        image = f"imgs/{img_name}"
        yield RawItem(image, [image], context, True, meta, image)
    if rows and not found:
        raise InputError(
            f"no rows with q_lang {language!r}",
            source=str(file),
            hint="SLAKE has 'en' and 'zh': pass --language",
        )


def read_vqa_rad(base: Path, file: Path, keep: Callable[[Row], bool]) -> Iterator[Item]:
    """One record per VQA-RAD image (``images/<image_name>``)."""
    for group in _group(file, _rows(file), "image_name", keep):
        if isinstance(group, BadItem):
            yield group
            continue
        image_name, image_rows = group
        organ = _most_common(image_rows, "image_organ")
        qa = [
            {
                "qid": r.get("qid"),
                "question": r["question"].strip(),
                "answer": str(r["answer"]).strip(),
                "answer_type": str(r.get("answer_type") or "").strip(),
                "question_type": str(r.get("question_type") or "").strip(),
            }
            for r in image_rows
        ]
        place = VQA_RAD_ORGANS.get(organ.upper(), organ.lower() or "body")
        context = " ".join([f"Radiology image of the {place}.", *_qa_sentences(qa)])
        meta = {
            "image_name": image_name,
            "image_organ": organ,
            "qids": [q["qid"] for q in qa],
            "qa": qa,
            "split_file": file.name,
        }
        image = f"images/{image_name}"
        yield RawItem(image, [image], context, True, meta, image)
