"""What the Evaluate screen's tables show: metrics by answer and question type (as
``medsynth eval`` prints them), the eval runs, and a comparison of runs (the rows come from
:mod:`medsynth.eval.queries`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual_plotext import PlotextPlot

from medsynth.eval.figures import average, comparison_rows, metric_cells, scorer_cells
from medsynth.train.queries import Adapter

METRIC_COLUMNS = ("", "n", "closed acc", "open recall", "avg", "EM", "F1")
RUN_COLUMNS = ("✓", "id", "name", "dataset", "split", "q", "status", "avg", "model")


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
    return [(label, *metric_cells(block)) for label, block in groups]


def run_cells(run: dict[str, Any], marked: bool) -> tuple[str, ...]:
    """An eval-runs table row."""
    overall = (run["metrics"] or {}).get("overall") or {}
    style = {"done": "green", "partial": "yellow", "running": "cyan"}.get(run["status"], "red")
    return (
        "✓" if marked else " ",
        str(run["id"]),
        run["name"] or "-",
        run["dataset"],
        run["split"],
        str(run["questions"]),
        f"[{style}]{run['status']}[/{style}]",
        average(overall),
        run["model_spec"],
    )


def compare_table(data: dict[str, Any]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Columns and rows of ``compare(...)``, as ``medsynth eval compare`` prints them."""
    labels = [f"{r['id']} {r['name'] or ''}".strip() for r in data["runs"]]
    columns = ["metric", "n", *labels, *(f"{label} - {labels[0]}" for label in labels[1:])]
    rows = comparison_rows(data)
    for reliance in data.get("visual_reliance", []):
        for item in reliance["rows"]:
            mark = " *" if item["excludes_zero"] else ""
            cells = ["" for _ in columns[2:]]
            cells[-1] = (
                f"drop {item['drop']:+.2f} [{item['ci'][0]:+.2f}, {item['ci'][1]:+.2f}]{mark}"
            )
            label = f"reliance {item['answer_type']} ({reliance['ablation']})"
            rows.append((label, str(item["n"]), *cells))
    return columns, rows


def scorer_rows(overview: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per scorer: closed accuracy, open recall (with questions), average."""
    return [(name, *scorer_cells(block)) for name, block in overview.items()]


class MetricBars(PlotextPlot):
    """Closed accuracy and open recall per answer type of the shown run, as bars."""

    def show(self, metrics: dict[str, Any] | None) -> None:
        """Draw ``metrics`` (nothing when None)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        labels: list[str] = []
        values: list[float] = []
        groups = [("all", (metrics or {}).get("overall") or {})]
        groups += list(((metrics or {}).get("by_answer_type") or {}).items())
        for group, block in groups:
            for key, short in (("closed_accuracy", "acc"), ("open_recall", "rec")):
                value = (block.get(key) or {}).get("value")
                if value is not None:
                    labels.append(f"{group.lower()} {short}")
                    values.append(float(value))
        if values:
            plt.bar(labels, values)
            plt.ylim(0, 100)
        plt.title("percent")
        self.refresh()


def model_specs(adapters: Iterable[Adapter]) -> list[str]:
    """Model specs to suggest: the roles, then the adapters of finished training runs.

    >>> model_specs([Adapter("/m/base", "/runs/sft")])[-1]
    'hf:/m/base,adapter=/runs/sft/adapter'
    """
    specs = ["base_model", "vision_generator", "generator", "verifier", "llamacpp:embedded"]
    specs += [f"hf:{a.base_model},adapter={a.output_dir}/adapter" for a in adapters]
    return specs
