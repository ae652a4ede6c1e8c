"""``medsynth eval score``: score predictions made elsewhere (another tool, a colleague's run, a
paper's released outputs) against the official question file, with the same metrics and
breakdowns as ``eval run``, stored as an eval run of model ``external``.

The predictions file is JSON Lines or CSV (by its suffix), one row per question:

- ``prediction`` (or ``answer_pred``, ``text``, ``output``): the model's answer;
- ``qid`` (or ``question_id``, ``id``): the question's id in the official file (preferred);
- otherwise ``question`` (matched after normalisation) and, where the same question text is
  asked of several images (SLAKE's "What modality is used?"), ``image`` (the image path or file
  name as the official file gives it) to tell them apart.

A row that cannot be read, matches no question (or several), has no prediction or answers a
question an earlier row answered is reported with its line, and the rest is scored; a file with
no readable row at all is refused. An empty prediction is an answer (scored, and wrong).
The run records the file's name and SHA-256, never its text; :func:`export_predictions` writes
an eval run's predictions in this same format (the round trip gives identical metrics).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.eval import queries as data
from medsynth.eval.loaders import EvalQuestion, EvalSet, load_eval_set
from medsynth.eval.metrics import normalize_answer, prediction_row, summarize
from medsynth.files import write_private
from medsynth.store.runs import RunRecorder, record_reject
from medsynth.workspace import Workspace

PREDICTION_FIELDS = ("prediction", "answer_pred", "text", "output")
ID_FIELDS = ("qid", "question_id", "id")


def read_rows(file: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, str]]]:
    """``(source, row)`` pairs of a JSONL or CSV predictions file (source: ``name:line``, the
    row's first line), and the lines that could not be read, each with its reason. Answers may
    hold line breaks: JSON escapes them and CSV quotes them, so neither splits a row."""
    name = file.name
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the predictions: {exc}", source=str(file)) from exc
    rows: list[tuple[str, dict[str, Any]]] = []
    problems: list[dict[str, str]] = []
    if file.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        first_line = reader.line_num + 1
        try:
            for row in reader:
                rows.append((f"{name}:{first_line}", dict(row)))
                first_line = reader.line_num + 1
        except csv.Error as exc:
            problems.append({"source": f"{name}:{reader.line_num}", "reason": f"bad CSV: {exc}"})
    else:
        for number, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 is text
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append({"source": f"{name}:{number}", "reason": f"not JSON: {exc.msg}"})
                continue
            if not isinstance(row, dict):
                problems.append({"source": f"{name}:{number}", "reason": "not a JSON object"})
                continue
            rows.append((f"{name}:{number}", row))
    if not rows and problems:
        raise InputError(
            f"no row could be read ({problems[0]['source']}: {problems[0]['reason']})",
            source=str(file),
            hint="write one JSON object per line (.jsonl) or a CSV file with a header (.csv)",
        )
    return rows, problems


def _first(row: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if row.get(name) not in (None, ""):
            return str(row[name])
    return None


def _prediction(row: dict[str, Any]) -> str | None:
    """The row's answer; an empty one is an answer too (a model may say nothing)."""
    for name in PREDICTION_FIELDS:
        value = row.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    return None


class _Matcher:
    """Finds the question a predictions row answers."""

    def __init__(self, evalset: EvalSet) -> None:
        self.by_qid = {q.qid: q for q in evalset.questions}
        self.by_text: dict[str, list[EvalQuestion]] = {}
        for q in evalset.questions:
            self.by_text.setdefault(normalize_answer(q.question), []).append(q)

    def __call__(self, row: dict[str, Any]) -> EvalQuestion | str:
        qid = _first(row, ID_FIELDS)
        if qid is not None:
            return self.by_qid.get(qid) or f"no question with id {qid!r}"
        text = _first(row, ("question",))
        if text is None:
            return "row with neither a question id nor a question"
        found = self.by_text.get(normalize_answer(text), [])
        image = _first(row, ("image", "img_name", "image_name"))
        if image is not None and len(found) > 1:
            found = _by_image(found, image.replace("\\", "/").lstrip("./"))
        if len(found) == 1:
            return found[0]
        if not found:
            return "no question with this text (and image)"
        return f"the question is asked of {len(found)} images: give qid or image"


def _by_image(questions: list[EvalQuestion], image: str) -> list[EvalQuestion]:
    """The questions on ``image``: the same path, else a path ending in it (SLAKE's
    ``xmlab0/source.jpg`` for ``imgs/xmlab0/source.jpg``), else the same file name."""
    for same in (
        lambda q: q.image == image,
        lambda q: q.image.endswith("/" + image),
        lambda q: Path(q.image).name == Path(image).name,
    ):
        found = [q for q in questions if same(q)]
        if found:
            return found
    return []


def score_file(
    ws: Workspace,
    file: Path,
    *,
    dataset: str,
    path: Path,
    split: str = "test",
    language: str = "en",
    name: str = "",
) -> dict[str, Any]:
    """Score a predictions file against the official questions; stored as an eval run."""
    file = Path(file).expanduser().resolve()
    evalset = load_eval_set(
        dataset, path, split=split, language=language, image_cache=ws.path("cache") / "eval-images"
    )
    digest = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else ""
    if not digest:
        raise InputError("no predictions file here", source=str(file), hint="check the path")
    rows, problems = read_rows(file)
    match = _Matcher(evalset)
    key = hashlib.sha256(
        json.dumps([evalset.dataset, str(evalset.file), evalset.split, language, digest]).encode()
    ).hexdigest()
    config = {"file": file.name, "sha256": digest, "dataset": dataset, "split": split}
    with RunRecorder(ws.db, "eval", config) as run:
        fields = {
            "dataset": evalset.dataset, "data_file": str(evalset.file), "split": evalset.split,
            "language": evalset.language, "answer_type": "all", "max_questions": None,
            "model_spec": json.dumps({"spec": "external", "file": file.name, "sha256": digest}),
            "backend": "external", "model": f"external:{file.name}", "images_seen": 0,
            "template": "", "template_version": "", "questions": len(evalset.questions),
            "options": json.dumps({"predictions_file": file.name, "sha256": digest}),
            "run_id": run.run_id,
        }  # fmt: skip
        eval_run_id = data.open_run(ws.db, key, name, fields)
        done = data.answered(ws.db, eval_run_id)  # a re-run of the same file resumes
        first_row: dict[str, str] = {}
        for source, row in rows:
            found = match(row)
            prediction = _prediction(row)
            if isinstance(found, str) or prediction is None:
                reason = found if isinstance(found, str) else "row without a prediction"
            elif found.qid in first_row:
                reason = f"question {found.qid} already answered at {first_row[found.qid]}"
            else:
                first_row[found.qid] = source
                if found.qid not in done:
                    done.add(found.qid)
                    row = prediction_row(eval_run_id, found, prediction, None, False, run.run_id)
                    data.add_prediction(ws.db, row)
                continue
            problems.append({"source": source, "reason": reason})
        for problem in problems:
            record_reject(
                ws.db, stage="eval", source=problem["source"], raw="", reason=problem["reason"],
                run_id=run.run_id,
            )  # fmt: skip
        scored = data.predictions(ws.db, eval_run_id)
        metrics = summarize(scored)
        status = "done" if len(scored) == len(evalset.questions) else "partial"
        data.set_status(ws.db, eval_run_id, status, metrics)
        run.summary = {"eval_run_id": eval_run_id, "scored": len(scored), "problems": len(problems)}
    return {
        "eval_run_id": eval_run_id, "name": data.run_name(ws.db, eval_run_id), "status": status,
        "dataset": evalset.dataset, "split": evalset.split, "file": file.name, "sha256": digest,
        "questions": len(evalset.questions), "scored": len(scored), "rows": len(rows),
        "unmatched": problems, "metrics": metrics,
    }  # fmt: skip


def export_predictions(ws: Workspace, eval_run_id: int, out: Path) -> int:
    """Write an eval run's predictions (qid, image, question, prediction) to ``out``, JSONL or
    CSV by its suffix, owner-only; how many rows."""
    rows = [
        {k: r[k] for k in ("qid", "image", "question", "prediction")}
        for r in data.predictions(ws.db, eval_run_id)
    ]
    out = Path(out).expanduser()
    if out.suffix.lower() == ".csv":
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["qid", "image", "question", "prediction"])
        writer.writeheader()
        writer.writerows(rows)
        write_private(out, buffer.getvalue())
    else:
        write_private(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return len(rows)
