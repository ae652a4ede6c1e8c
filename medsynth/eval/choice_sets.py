"""PathVQA, PMC-VQA and OmniMedVQA questions, read from the files their authors release.

- **PathVQA**: the parquet release (``data/{train,validation,test}-*.parquet`` with the columns
  ``image`` (``{bytes, path}``), ``question`` and ``answer``; ``path`` is the folder or one
  file). Images live inside the file: each is written once, owner-only, into the image cache the
  caller gives, named by its SHA-256, and the question points there. Yes/no answers are closed
  questions, the rest open. The original pickle release is refused: MedSynth never loads pickle
  files (they can run code).
- **PMC-VQA**: ``train.csv`` / ``test.csv`` / ``test_clean.csv`` (and the ``_2`` files of its
  second version) beside ``images/``; columns ``Figure_path``, ``Question``, ``Answer``,
  ``Choice A`` ... ``Choice D`` (an ``A:`` prefix is dropped) and ``Answer_label``. Every
  question is multiple choice (closed, with its four choices).
- **OmniMedVQA**: ``QA_information/<access>/<dataset>.json`` lists (``question_id``,
  ``question``, ``gt_answer``, ``image_path``, ``option_A`` ... ``option_D``,
  ``question_type``, ``modality_type``) with image paths relative to the release's root (the
  folder holding ``Images/``). Every question is multiple choice.

Rows that cannot be used are listed as problems (file and row) and the rest load; image paths
that escape the dataset root are refused, as for SLAKE and VQA-RAD.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.eval.loaders import (
    AnswerType,
    EvalQuestion,
    EvalSet,
    clean_text,
    image_in_root,
    select_questions,
)
from medsynth.files import private_dir, write_private
from medsynth.ingest.sources import load_json

LETTERS = "ABCD"
MAX_OPTIONS = 6  # a closed question with more known answers stays free-text
PMC_SPLITS = {
    "train": ("train_2.csv", "train.csv"),
    "test": ("test_2.csv", "test_clean.csv", "test.csv"),
}


def _choice_text(value: Any, letter: str) -> str:
    """A PMC-VQA choice without its ``A:`` prefix.

    >>> _choice_text(" B:Axial CT ", "B")
    'Axial CT'
    """
    text = clean_text(value)
    for prefix in (f"{letter}:", f"{letter}."):
        if text.upper().startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def first_problem(checks: list[tuple[bool, str]]) -> str | None:
    """The reason of the first check that holds (a row's first problem), else None.

    >>> first_problem([(False, "row without a question"), (True, "row without an answer")])
    'row without an answer'
    >>> first_problem([(False, "row without a question")]) is None
    True
    """
    return next((reason for failed, reason in checks if failed), None)


def _problem_or_question(
    result: EvalSet, source: str, reason: str | None, question: EvalQuestion | None
) -> EvalQuestion | None:
    if reason:
        result.problems.append((source, reason))
        return None
    return question


def _csv_file(path: Path, split: str) -> tuple[Path, Path]:
    if path.is_file():
        return path.parent.resolve(), path.resolve()
    for name in PMC_SPLITS.get(split, (f"{split}.csv",)):
        if (path / name).is_file():
            return path.resolve(), (path / name).resolve()
    raise InputError(
        f"no PMC-VQA {split} file", source=str(path), hint="pass the folder with test_clean.csv"
    )


def load_pmc_vqa(
    path: Path, split: str = "test", answer_type: AnswerType = "all", limit: int | None = None
) -> EvalSet:
    """PMC-VQA multiple-choice questions (``path``: the release folder or one CSV file)."""
    root, file = _csv_file(Path(path).expanduser(), split)
    result = EvalSet("pmc-vqa", root, file, file.stem, "en")
    found: list[EvalQuestion] = []
    with file.open(encoding="utf-8-sig", newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle), start=2):  # row 1 is the header
            source = f"{file.name}:{index}"
            choices = tuple(_choice_text(row.get(f"Choice {c}"), c) for c in LETTERS)
            label = clean_text(row.get("Answer_label")).upper()
            answer = clean_text(row.get("Answer"))
            if label in LETTERS and choices[LETTERS.index(label)]:
                answer = choices[LETTERS.index(label)]
            reason = first_problem(
                [
                    (not clean_text(row.get("Figure_path")), "row without Figure_path"),
                    (not clean_text(row.get("Question")), "row without a question"),
                    (not answer, "row without an answer"),
                    (sum(1 for c in choices if c) < 2, "row with fewer than two choices"),
                ]
            )
            question = None
            if reason is None:
                question = EvalQuestion(
                    dataset="pmc-vqa",
                    qid=f"{file.stem}:{index}",
                    image=image_in_root(root, f"images/{clean_text(row['Figure_path'])}", source),
                    question=clean_text(row["Question"]),
                    answer=answer,
                    answer_type="CLOSED",
                    question_type="choice",
                    language="en",
                    source=source,
                    choices=tuple(c for c in choices if c),
                )
            if (item := _problem_or_question(result, source, reason, question)) is not None:
                found.append(item)
    result.questions = select_questions(found, answer_type, limit)
    return result


def _omni_files(path: Path) -> tuple[Path, list[Path]]:
    if path.is_file():
        root = path.parent
        while root != root.parent and not (root / "Images").is_dir():
            root = root.parent
        return (root if (root / "Images").is_dir() else path.parent).resolve(), [path.resolve()]
    files = sorted((path / "QA_information").glob("*/*.json"))
    if not files:
        raise InputError(
            "no QA_information/*/*.json files", source=str(path), hint="pass the OmniMedVQA folder"
        )
    return path.resolve(), [f.resolve() for f in files]


def load_omnimedvqa(
    path: Path, split: str = "test", answer_type: AnswerType = "all", limit: int | None = None
) -> EvalSet:
    """OmniMedVQA multiple-choice questions (``path``: the release folder or one JSON file;
    the release has no splits: everything is test)."""
    root, files = _omni_files(Path(path).expanduser())
    result = EvalSet("omnimedvqa", root, files[0] if len(files) == 1 else root, split, "en")
    found: list[EvalQuestion] = []
    for file in files:
        rows = load_json(file)
        if not isinstance(rows, list):
            raise InputError("expected a JSON list of question rows", source=str(file))
        for index, row in enumerate(rows):
            source = f"{file.name}[{index}]"
            if not isinstance(row, dict):
                result.problems.append((source, "row is not a JSON object"))
                continue
            choices = tuple(c for c in (clean_text(row.get(f"option_{x}")) for x in LETTERS) if c)
            answer = clean_text(row.get("gt_answer"))
            reason = first_problem(
                [
                    (not clean_text(row.get("image_path")), "row without image_path"),
                    (not clean_text(row.get("question")), "row without a question"),
                    (not answer, "row without gt_answer"),
                    (bool(choices) and answer not in choices, "gt_answer is none of the options"),
                ]
            )
            question = None
            if reason is None:
                question = EvalQuestion(
                    dataset="omnimedvqa",
                    qid=clean_text(row.get("question_id")) or source,
                    image=image_in_root(root, clean_text(row["image_path"]), source),
                    question=clean_text(row["question"]),
                    answer=answer,
                    answer_type="CLOSED",
                    question_type=clean_text(row.get("question_type")),
                    language="en",
                    source=source,
                    choices=choices,
                )
            if (item := _problem_or_question(result, source, reason, question)) is not None:
                found.append(item)
    result.questions = select_questions(found, answer_type, limit)
    return result


def _parquet_files(path: Path, split: str) -> list[Path]:
    only_pickles = path.is_dir() and not any(path.rglob("*.parquet"))
    if path.suffix == ".pkl" or (only_pickles and any(path.rglob("*.pkl"))):
        raise InputError(
            "PathVQA's pickle release cannot be read: MedSynth never loads pickle files",
            source=str(path),
            hint="use the parquet release of PathVQA (data/test-*.parquet)",
        )
    if path.is_file():
        return [path]
    names = {"validate": "validation", "val": "validation"}.get(split, split)
    files = sorted(path.rglob(f"{names}-*.parquet")) or sorted(path.rglob(f"{names}*.parquet"))
    if not files:
        raise InputError(
            f"no PathVQA {split} parquet files", source=str(path), hint="pass the data/ folder"
        )
    return files


def load_pathvqa(
    path: Path,
    split: str = "test",
    answer_type: AnswerType = "all",
    limit: int | None = None,
    *,
    image_cache: Path | None = None,
) -> EvalSet:
    """PathVQA questions from the parquet release; its images go to ``image_cache``."""
    import pyarrow.parquet as pq

    if image_cache is None:
        raise InputError(
            "PathVQA's images are inside its parquet files and need a folder to go to",
            hint="run it through `medsynth eval`, which gives the workspace's cache",
        )
    files = _parquet_files(Path(path).expanduser(), split)
    cache = private_dir(image_cache / "pathvqa").resolve()
    result = EvalSet("pathvqa", cache, files[0].resolve(), split, "en")
    found: list[EvalQuestion] = []
    for file in files:
        table = pq.read_table(file, columns=["image", "question", "answer"])
        for index, row in enumerate(table.to_pylist()):
            source = f"{file.name}[{index}]"
            image = row.get("image") or {}
            raw = image.get("bytes") if isinstance(image, dict) else None
            question, answer = clean_text(row.get("question")), clean_text(row.get("answer"))
            if not raw or not question or not answer:
                result.problems.append((source, "row without image bytes, question or answer"))
                continue
            digest = hashlib.sha256(raw).hexdigest()
            name = f"{digest}{Path(clean_text(image.get('path'))).suffix.lower() or '.png'}"
            if not (cache / name).exists():
                write_private(cache / name, raw)
            found.append(
                EvalQuestion(
                    dataset="pathvqa",
                    qid=f"{file.stem}[{index}]",
                    image=name,
                    question=question,
                    answer=answer,
                    answer_type="CLOSED" if answer.lower() in ("yes", "no") else "OPEN",
                    question_type="yes/no" if answer.lower() in ("yes", "no") else "open",
                    language="en",
                    source=source,
                )
            )
    result.questions = select_questions(found, answer_type, limit)
    return result


def as_choices(questions: list[EvalQuestion]) -> list[EvalQuestion]:
    """Closed questions put as multiple choice, the way PubMedVision evaluates them.

    The options of a closed question are the answers the set gives to the same question
    (normalised text), sorted (two to six of them), or yes / no for a yes/no answer; other
    closed questions, open questions and questions that already have choices stay as they are.

    >>> q = EvalQuestion("slake", "1", "a.png", "Left or right?", "Left", "CLOSED", "", "en", "")
    >>> r = EvalQuestion("slake", "2", "b.png", "left or right", "Right", "CLOSED", "", "en", "")
    >>> y = EvalQuestion("slake", "3", "c.png", "Is it normal?", "No", "CLOSED", "", "en", "")
    >>> [x.choices for x in as_choices([q, r, y])]
    [('Left', 'Right'), ('Left', 'Right'), ('Yes', 'No')]
    """
    from medsynth.eval.metrics import normalize_answer

    answers: dict[str, dict[str, str]] = {}
    for q in questions:
        if q.answer_type == "CLOSED" and not q.choices:
            seen = answers.setdefault(normalize_answer(q.question), {})
            seen.setdefault(normalize_answer(q.answer), q.answer)
    result = []
    for q in questions:
        if q.answer_type != "CLOSED" or q.choices:
            result.append(q)
            continue
        options = answers[normalize_answer(q.question)]
        if 2 <= len(options) <= MAX_OPTIONS:
            result.append(replace(q, choices=tuple(options[k] for k in sorted(options))))
        elif normalize_answer(q.answer) in ("yes", "no"):
            result.append(replace(q, choices=("Yes", "No")))
        else:
            result.append(q)
    return result
