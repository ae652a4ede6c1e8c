"""What the Evaluate screen's tables show: metrics by answer and question type (as
``medsynth eval`` prints them), the eval runs, and a comparison of runs."""

from __future__ import annotations

import json
from typing import Any

from medsynth.workspace import Workspace

METRIC_COLUMNS = ("", "n", "closed acc", "open recall", "avg", "EM", "F1")
RUN_COLUMNS = ("✓", "id", "name", "dataset", "split", "q", "status", "avg", "model")


def _pct(block: dict[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "-"
    return f"{block['value']:.2f} ({block['n']})"


def _value(block: dict[str, Any] | None) -> str:
    return "-" if not block or block.get("value") is None else f"{block['value']:.2f}"


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, ...]]:
    """Rows of the metrics table: overall, each answer type, each question type.

    >>> block = {"n": 2, "closed_accuracy": {"value": 50.0, "n": 2},
    ...          "open_recall": {"value": None, "n": 0}, "average": 50.0,
    ...          "exact_match": {"value": 50.0}, "token_f1": {"value": 50.0}}
    >>> metric_rows({"overall": block, "by_answer_type": {"CLOSED": block},
    ...              "by_question_type": {}})[1]
    ('CLOSED', '2', '50.00 (2)', '-', '50.00', '50.00', '50.00')
    """
    groups: list[tuple[str, dict[str, Any]]] = [("overall", metrics["overall"])]
    groups += list(metrics.get("by_answer_type", {}).items())
    groups += [(f"type {k}", v) for k, v in metrics.get("by_question_type", {}).items()]
    rows: list[tuple[str, ...]] = []
    for label, block in groups:
        average = "-" if block.get("average") is None else f"{block['average']:.2f}"
        rows.append(
            (
                label,
                str(block["n"]),
                _pct(block.get("closed_accuracy")),
                _pct(block.get("open_recall")),
                average,
                _value(block.get("exact_match")),
                _value(block.get("token_f1")),
            )
        )
    return rows


def eval_run_list(ws: Workspace, limit: int = 50) -> list[dict[str, Any]]:
    """The newest eval runs (metrics decoded), newest first."""
    keys = ("id", "name", "dataset", "split", "questions", "status", "metrics", "model_spec")
    rows = ws.db.execute(
        f"SELECT {', '.join(keys)} FROM eval_runs ORDER BY id DESC LIMIT ?", [limit]
    ).fetchall()
    out = []
    for row in rows:
        data = dict(zip(keys, row, strict=True))
        data["metrics"] = json.loads(data["metrics"]) if data["metrics"] else None
        data["model_spec"] = json.loads(data["model_spec"] or "{}").get("spec", "")
        out.append(data)
    return out


def run_cells(run: dict[str, Any], marked: bool) -> tuple[str, ...]:
    """An eval-runs table row."""
    overall = (run["metrics"] or {}).get("overall") or {}
    average = overall.get("average")
    style = {"done": "green", "partial": "yellow", "running": "cyan"}.get(run["status"], "red")
    return (
        "✓" if marked else " ",
        str(run["id"]),
        run["name"] or "-",
        run["dataset"],
        run["split"],
        str(run["questions"]),
        f"[{style}]{run['status']}[/{style}]",
        "-" if average is None else f"{average:.2f}",
        run["model_spec"],
    )


def compare_table(data: dict[str, Any]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Columns and rows of ``compare(...)``, as ``medsynth eval compare`` prints them."""
    labels = [f"{r['id']} {r['name'] or ''}".strip() for r in data["runs"]]
    columns = ["metric", "n", *labels, *(f"{label} - {labels[0]}" for label in labels[1:])]
    rows = []
    for row in data["rows"]:
        cells = ["-" if v is None else f"{v:.2f}" for v in row["values"]]
        for diff in row["diffs"]:
            if diff["diff"] is None:
                cells.append("-")
            else:
                mark = " *" if diff["excludes_zero"] else ""
                low, high = diff["ci"]
                cells.append(f"{diff['diff']:+.2f} [{low:+.2f}, {high:+.2f}]{mark}")
        name = row["metric"] if row["group"] == "overall" else f"{row['group']} score"
        rows.append((name, str(row["n"]), *cells))
    return columns, rows


def known_paths(ws: Workspace) -> dict[str, str]:
    """The question file of the newest eval run of each dataset (the path field's default)."""
    paths: dict[str, str] = {}
    for dataset, data_file in ws.db.execute(
        "SELECT dataset, data_file FROM eval_runs ORDER BY id DESC LIMIT 50"
    ):
        paths.setdefault(dataset, data_file or "")
    return paths


def model_specs(ws: Workspace) -> list[str]:
    """Model specs to suggest: the roles and the adapters of finished training runs."""
    specs = ["base_model", "vision_generator", "generator", "verifier", "llamacpp:embedded"]
    for base, folder in ws.db.execute(
        "SELECT base_model, output_dir FROM train_runs WHERE status = 'ok' ORDER BY id DESC "
        "LIMIT 10"
    ):
        specs.append(f"hf:{base},adapter={folder}/adapter")
    return specs
