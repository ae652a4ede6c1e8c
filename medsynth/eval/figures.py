"""Eval figures as text, written one way for ``medsynth eval``'s tables and the TUI's Evaluate
screen: a percentage with the questions behind it, a bare percentage, a run's average, and a
comparison's differences with their bootstrap intervals. ``-`` stands for a figure there is none
of (no question of that kind)."""

from __future__ import annotations

from typing import Any


def with_n(figure: dict[str, Any] | None) -> str:
    """``value (n)`` of a ``{"value", "n"}`` figure.

    >>> with_n({"value": 50.0, "n": 2}), with_n({"value": None, "n": 0}), with_n(None)
    ('50.00 (2)', '-', '-')
    """
    if not figure or figure.get("value") is None:
        return "-"
    return f"{figure['value']:.2f} ({figure['n']})"


def bare(figure: dict[str, Any] | None) -> str:
    """``value`` of a ``{"value", ...}`` figure.

    >>> bare({"value": 12.345}), bare({"value": None}), bare(None)
    ('12.35', '-', '-')
    """
    return "-" if not figure or figure.get("value") is None else f"{figure['value']:.2f}"


def average(block: dict[str, Any]) -> str:
    """A metrics block's average of closed accuracy and open recall.

    >>> average({"average": 41.66667}), average({"average": None}), average({})
    ('41.67', '-', '-')
    """
    value = block.get("average")
    return "-" if value is None else f"{value:.2f}"


def scorer_cells(block: dict[str, Any]) -> tuple[str, str, str]:
    """Closed accuracy and open recall (each with its questions) and the average."""
    return with_n(block.get("closed_accuracy")), with_n(block.get("open_recall")), average(block)


def metric_cells(block: dict[str, Any]) -> tuple[str, ...]:
    """n, closed accuracy, open recall, average, exact match and token F1 of a metrics block.

    >>> block = {"n": 2, "closed_accuracy": {"value": 50.0, "n": 2},
    ...          "open_recall": {"value": None, "n": 0}, "average": 50.0,
    ...          "exact_match": {"value": 50.0}, "token_f1": {"value": 50.0}}
    >>> metric_cells(block)
    ('2', '50.00 (2)', '-', '50.00', '50.00', '50.00')
    """
    return (
        str(block["n"]),
        *scorer_cells(block),
        bare(block.get("exact_match")),
        bare(block.get("token_f1")),
    )


def difference(diff: dict[str, Any]) -> str:
    """A run's difference from the first with its interval (`` *`` when it excludes 0).

    >>> difference({"diff": 2.0, "ci": [-1.0, 3.5], "excludes_zero": False})
    '+2.00 [-1.00, +3.50]'
    >>> difference({"diff": None, "ci": [0, 0], "excludes_zero": False})
    '-'
    """
    if diff["diff"] is None:
        return "-"
    mark = " *" if diff["excludes_zero"] else ""
    low, high = diff["ci"]
    return f"{diff['diff']:+.2f} [{low:+.2f}, {high:+.2f}]{mark}"


def comparison_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    """The rows of a comparison (:func:`medsynth.eval.compare.compare`): the metric (or the
    group's score), n, each run's value, then each later run's difference from the first."""
    rows = []
    for row in data["rows"]:
        values = ["-" if v is None else f"{v:.2f}" for v in row["values"]]
        name = row["metric"] if row["group"] == "overall" else f"{row['group']} score"
        rows.append((name, str(row["n"]), *values, *(difference(d) for d in row["diffs"])))
    return rows
