"""What the Train screen's tables show: the memory preflight and the recent training runs (the
rows come from :mod:`medsynth.train.queries`)."""

from __future__ import annotations

from typing import Any

from medsynth.train.queries import RunRow

GIB = 1024**3
PARTS = (
    ("weights", "weights"),
    ("adapter", "LoRA + optimizer"),
    ("activations", "activations"),
    ("logits", "logits"),
    ("generation", "generation (GRPO)"),
    ("margin", "margin (20 %)"),
    ("runtime", "runtime"),
)
RUN_COLUMNS = ("id", "name", "kind", "status", "steps", "est.", "peak", "started")


def size(value: int | None) -> str:
    """Bytes for reading: ``1.25 GiB`` or ``310.4 MiB``.

    >>> size(3 * 1024**3), size(5 * 1024**2 + 1), size(None)
    ('3.00 GiB', '5.0 MiB', '-')
    """
    if value is None:
        return "-"
    if value >= GIB:
        return f"{value / GIB:.2f} GiB"
    return f"{value / 1024**2:.1f} MiB"


def preflight_rows(estimate: dict[str, Any]) -> list[tuple[str, str]]:
    """(part, size) rows of an ``Estimate.as_dict()``: the parts, total, budget, verdict."""
    parts = estimate["parts_bytes"]
    rows = [(label, size(parts.get(key, 0))) for key, label in PARTS]
    rows.append(("total", size(estimate["total_bytes"])))
    budget = estimate.get("budget_bytes")
    rows.append(("budget", size(budget)))
    rows.append(("fits", "yes" if estimate["fits"] else "NO"))
    return rows


def verdict(estimate: dict[str, Any]) -> str:
    """One line under the table: fits or not, the budget's source, the suggestion."""
    source = estimate.get("budget_source") or "no budget"
    if estimate["fits"]:
        return f"[green]fits[/green] ({source})"
    suggestion = (estimate.get("suggestion") or {}).get("settings") or {}
    advice = ", ".join(f"{k} {v}" for k, v in suggestion.items()) or "no cheaper setting fits"
    return f"[red]does NOT fit[/red] ({source}); try: {advice}; or switch Force on"


def run_cells(row: RunRow) -> tuple[str, ...]:
    """A runs-table row."""
    style = {"ok": "green", "cancelled": "yellow", "running": "cyan"}.get(row["status"], "red")
    return (
        str(row["id"]),
        row["name"],
        row["kind"],
        f"[{style}]{row['status']}[/{style}]",
        "-" if row["step"] is None else str(row["step"]),
        size(row["estimate_bytes"]),
        size(row["peak_bytes"]),
        (row["started_at"] or "")[:19].replace("T", " "),
    )
