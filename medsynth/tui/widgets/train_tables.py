"""What the Train screen's tables show: the memory preflight and the recent training runs."""

from __future__ import annotations

from typing import Any

from medsynth.workspace import Workspace

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


def recent_train_runs(ws: Workspace, limit: int = 30) -> list[dict[str, Any]]:
    """The newest ``train_runs`` rows (with their last recorded step), newest first."""
    rows = ws.db.execute(
        "SELECT r.id, r.name, r.kind, r.status, r.estimate_bytes, r.peak_bytes, r.started_at, "
        "(SELECT max(step) FROM train_steps s WHERE s.train_run_id = r.id) "
        "FROM train_runs r ORDER BY r.id DESC LIMIT ?",
        [limit],
    ).fetchall()
    keys = ("id", "name", "kind", "status", "estimate_bytes", "peak_bytes", "started_at", "step")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def run_cells(row: dict[str, Any]) -> tuple[str, ...]:
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


def run_steps(ws: Workspace, train_run_id: int, limit: int = 5000) -> list[dict[str, Any]]:
    """One run's recorded steps (step, loss, reward), in order."""
    rows = ws.db.execute(
        "SELECT step, loss, reward FROM train_steps WHERE train_run_id = ? ORDER BY step LIMIT ?",
        [train_run_id, limit],
    ).fetchall()
    return [{"step": s, "loss": loss, "reward": reward} for s, loss, reward in rows]
