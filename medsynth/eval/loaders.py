"""SLAKE and VQA-RAD questions for evaluation, read from the official files.

- SLAKE: ``train.json`` / ``validate.json`` / ``test.json`` beside ``imgs/``; rows are filtered
  by ``q_lang``; the question type is ``content_type``.
- VQA-RAD: ``VQA_RAD_Dataset_Public.json`` (test rows: ``phrase_type`` starting with ``test``),
  a per-split ``VQA_RAD_{split}.json``, or the common ``trainset.json`` / ``testset.json``,
  beside ``images/``; ``answer_type`` is trimmed; the question type is ``question_type``.

PathVQA, PMC-VQA and OmniMedVQA load through :mod:`medsynth.eval.choice_sets`.

Image paths are resolved inside the dataset root: a row naming a path that escapes it
(``..``, an absolute path, a symlink pointing out) is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from medsynth.errors import InputError
from medsynth.files import safe_child
from medsynth.ingest.annotated import slake_file, vqa_rad_file
from medsynth.ingest.sources import load_json

Dataset = Literal["slake", "vqa-rad", "pathvqa", "pmc-vqa", "omnimedvqa"]
AnswerType = Literal["all", "open", "closed"]
DATASETS: tuple[Dataset, ...] = ("slake", "vqa-rad", "pathvqa", "pmc-vqa", "omnimedvqa")


@dataclass(frozen=True)
class EvalQuestion:
    """One question of an evaluation set."""

    dataset: str
    qid: str
    image: str  # relative to the dataset root (posix)
    question: str
    answer: str
    answer_type: str  # OPEN | CLOSED
    question_type: str  # SLAKE content_type / VQA-RAD question_type
    language: str
    source: str  # file[row]
    choices: tuple[str, ...] = ()  # multiple-choice options (the answer is one of them)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "dataset": self.dataset,
            "qid": self.qid,
            "image": self.image,
            "question": self.question,
            "answer": self.answer,
            "answer_type": self.answer_type,
            "question_type": self.question_type,
            "language": self.language,
            "source": self.source,
            "choices": list(self.choices),
        }


@dataclass
class EvalSet:
    """The questions selected from one file, and the rows left out as unusable."""

    dataset: str
    root: Path  # dataset root (resolved)
    file: Path  # the question file read (resolved)
    split: str
    language: str
    questions: list[EvalQuestion] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def image_path(self, question: EvalQuestion) -> Path:
        """Absolute path of a question's image (checked to stay inside the root)."""
        return safe_child(self.root, self.root / question.image)


def clean_text(value: Any) -> str:
    """A row's field as stripped text ("" for a missing one).

    >>> clean_text("  MRI "), clean_text(None), clean_text(3)
    ('MRI', '', '3')
    """
    return "" if value is None else str(value).strip()


def image_in_root(root: Path, relative: str, source: str) -> str:
    """``relative`` checked to stay inside ``root``, as a posix path; a path that escapes it
    is refused with the row's ``source`` and the path named."""
    try:
        safe_child(root, root / relative)
    except InputError as exc:
        raise InputError(exc.message, source=f"{source}: {relative}", hint=exc.hint) from exc
    return Path(relative).as_posix()


def _rows(file: Path) -> list[Any]:
    rows = load_json(file)
    if not isinstance(rows, list):
        raise InputError("expected a JSON list of question rows", source=str(file))
    return rows


def _question(
    root: Path,
    dataset: str,
    folder: str,
    image_field: str,
    type_field: str,
    row: Any,
    source: str,
    language: str,
) -> EvalQuestion | str:
    """The question of one row, or the reason it cannot be used."""
    if not isinstance(row, dict):
        return "row is not a JSON object"
    image = clean_text(row.get(image_field))
    question, answer = clean_text(row.get("question")), clean_text(row.get("answer"))
    answer_type = clean_text(row.get("answer_type")).upper()
    if not image:
        return f"row without {image_field}"
    if not question:
        return "row without a question"
    if not answer:
        return "row with an empty answer"
    if answer_type not in ("OPEN", "CLOSED"):
        return f"answer_type {row.get('answer_type')!r} is neither OPEN nor CLOSED"
    relative = image_in_root(root, f"{folder}/{image}", source)
    qid = clean_text(row.get("qid")) or source
    return EvalQuestion(
        dataset=dataset,
        qid=qid,
        image=relative,
        question=question,
        answer=answer,
        answer_type=answer_type,
        question_type=clean_text(row.get(type_field)),
        language=language,
        source=source,
    )


def select_questions(
    found: list[EvalQuestion], answer_type: AnswerType, limit: int | None
) -> list[EvalQuestion]:
    if answer_type != "all":
        found = [q for q in found if q.answer_type == answer_type.upper()]
    seen: dict[str, int] = {}
    unique: list[EvalQuestion] = []
    for question in found:  # a repeated qid would make predictions ambiguous: suffix it
        count = seen.get(question.qid, 0)
        seen[question.qid] = count + 1
        if count:
            question = replace(question, qid=f"{question.qid}#{count}")
        unique.append(question)
    return unique[:limit] if limit is not None else unique


def load_slake(
    path: Path,
    split: str = "test",
    language: str = "en",
    answer_type: AnswerType = "all",
    limit: int | None = None,
) -> EvalSet:
    """SLAKE questions of one split and language (``path``: the SLAKE folder or a split file)."""
    root, file = slake_file(Path(path).expanduser(), split)
    result = EvalSet("slake", root, file, file.stem, language)
    found: list[EvalQuestion] = []
    rows = _rows(file)
    for index, row in enumerate(rows):
        if isinstance(row, dict) and row.get("q_lang") != language:
            continue
        source = f"{file.name}[{index}]"
        item = _question(root, "slake", "imgs", "img_name", "content_type", row, source, language)
        if isinstance(item, str):
            result.problems.append((source, item))
        else:
            found.append(item)
    if rows and not found and not result.problems:
        raise InputError(
            f"no rows with q_lang {language!r}",
            source=str(file),
            hint="SLAKE has 'en' and 'zh': pass --language",
        )
    result.questions = select_questions(found, answer_type, limit)
    return result


def _vqa_rad_split(file: Path, split: str) -> str:
    """The split a VQA-RAD file holds: its name says (``VQA_RAD_train.json``, ``testset.json``)
    unless it is the official file with every split, filtered by ``phrase_type``."""
    name = file.name
    if name.startswith("VQA_RAD_") and name != "VQA_RAD_Dataset_Public.json":
        return name.removeprefix("VQA_RAD_").removesuffix(".json")
    if name.endswith("set.json"):
        return name.removesuffix("set.json")
    return split


def load_vqa_rad(
    path: Path,
    split: str = "test",
    answer_type: AnswerType = "all",
    limit: int | None = None,
) -> EvalSet:
    """VQA-RAD questions of one split (``path``: the folder or a question file)."""
    root, file, keep = vqa_rad_file(Path(path).expanduser(), split)
    result = EvalSet("vqa-rad", root, file, _vqa_rad_split(file, split), "en")
    found: list[EvalQuestion] = []
    for index, row in enumerate(_rows(file)):
        if isinstance(row, dict) and not keep(row):
            continue
        source = f"{file.name}[{index}]"
        item = _question(
            root, "vqa-rad", "images", "image_name", "question_type", row, source, "en"
        )
        if isinstance(item, str):
            result.problems.append((source, item))
        else:
            found.append(item)
    result.questions = select_questions(found, answer_type, limit)
    return result


def load_eval_set(
    dataset: str,
    path: Path,
    *,
    split: str = "test",
    language: str = "en",
    answer_type: AnswerType = "all",
    limit: int | None = None,
    image_cache: Path | None = None,
) -> EvalSet:
    """The questions of ``dataset`` at ``path`` (``image_cache``: where PathVQA's images,
    stored inside its files, are written)."""
    from medsynth.eval import choice_sets

    if dataset in ("pathvqa", "pmc-vqa", "omnimedvqa") and language != "en":
        raise InputError(f"{dataset} is English only", hint="drop --language or use 'en'")
    if dataset == "pathvqa":
        return choice_sets.load_pathvqa(path, split, answer_type, limit, image_cache=image_cache)
    if dataset == "pmc-vqa":
        return choice_sets.load_pmc_vqa(path, split, answer_type, limit)
    if dataset == "omnimedvqa":
        return choice_sets.load_omnimedvqa(path, split, answer_type, limit)
    if dataset == "slake":
        return load_slake(path, split, language, answer_type, limit)
    if dataset == "vqa-rad":
        if language != "en":
            raise InputError("VQA-RAD is English only", hint="drop --language or use 'en'")
        return load_vqa_rad(path, split, answer_type, limit)
    raise InputError(f"unknown dataset {dataset!r}", hint=f"use --dataset {' | '.join(DATASETS)}")


def looks_like(file: Path) -> str | None:
    """``slake`` or ``vqa-rad`` from the fields of a question file's first row, else None."""
    try:
        with file.open(encoding="utf-8-sig") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if '"img_name"' in head or '"q_lang"' in head:
        return "slake"
    if '"image_name"' in head:
        return "vqa-rad"
    try:
        rows = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
    return "slake" if "img_name" in first else "vqa-rad" if "image_name" in first else None
