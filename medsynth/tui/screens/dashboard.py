"""Dashboard: the workspace at a glance (counts, model roles with the doctor's status, runs)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, Static

from medsynth.store import overview
from medsynth.store.runs import mark_interrupted, status_text
from medsynth.tui.screens.base import MedScreen
from medsynth.workspace import Workspace


def workspace_counts(ws: Workspace) -> list[tuple[str, str]]:
    """(what, how many) rows: KG, records, grounding, samples by generator, rejects, runs."""
    counts = overview.workspace_counts(ws.db)
    rows = [
        ("entities", str(counts["entities"])),
        ("triples", str(counts["triples"])),
        ("entity images", str(counts["entity_images"])),
    ]
    for name, kept, total in counts["datasets"]:
        rows.append((f"records: {name}", f"{kept} kept of {total}"))
    rows.append(("records grounded", str(counts["grounded"])))
    for stage, count in counts["disease_stages"].items():
        rows.append((f"  disease match: {stage}", str(count)))
    for generator, by_status in sorted(counts["samples"].items()):
        by_status = dict(by_status)
        kept = by_status.pop("kept", 0)
        other = ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
        rows.append((f"samples: {generator}", f"{kept} kept" + (f" ({other})" if other else "")))
    rows.append(("rejects (inputs)", str(counts["rejects"])))
    rows.append(("train runs", str(counts["train_runs"])))
    rows.append(("eval runs", str(counts["eval_runs"])))
    return rows


def recent_runs(ws: Workspace, limit: int = 12) -> list[tuple[str, ...]]:
    """The newest runs: id, command, status, started, ended, a short summary or error; runs
    whose process died since the last look are marked ``interrupted`` first."""
    mark_interrupted(ws.db, ws.root)
    out: list[tuple[str, ...]] = []
    for r in overview.recent_runs(ws.db, limit):
        note = (r["error"] or "").splitlines()[0][:60] if r["error"] else _summary(r["summary"])
        out.append(
            (
                str(r["id"]),
                r["command"],
                status_text(r["status"], r["resumed_by"]),
                (r["started_at"] or "")[:19].replace("T", " "),
                (r["ended_at"] or "")[11:19],
                note,
            )
        )
    return out


def _summary(text: str | None) -> str:
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return ""
    if not isinstance(data, dict):
        return ""
    keys = ("records", "records_new", "samples", "steps", "grounded")
    parts = [f"{k} {data[k]}" for k in keys if isinstance(data.get(k), int | float)]
    return ", ".join(parts)[:60]


class DashboardScreen(MedScreen):
    """Counts, model roles and recent runs; ``r`` refreshes, ``m`` re-checks the models."""

    MODE = "dashboard"
    TITLE = "Dashboard"
    CSS_PATH = "dashboard.tcss"
    HELP = """The workspace at a glance. Counts come from the database; the model roles come
from `medsynth models doctor` (run in the background: a model server that does not answer
shows as unreachable, with the steps to fix it)."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "refresh"),
        Binding("m", "doctor", "check models"),
    ]

    class Diagnosed(Message):
        """The doctor's reports (from a worker thread)."""

        def __init__(self, reports: list[Any]) -> None:
            super().__init__()
            self.reports = reports

    def compose_body(self) -> ComposeResult:
        yield Static(f"workspace [b]{self.root}[/b]", id="dash-workspace")
        with Horizontal(id="dash-top"):
            with Vertical(id="dash-counts-box"):
                yield Label("Counts", classes="section")
                yield DataTable(id="dash-counts", cursor_type="row", zebra_stripes=True)
            with Vertical(id="dash-models-box"):
                yield Label("Model roles (doctor)", classes="section", id="dash-models-title")
                yield DataTable(id="dash-models", cursor_type="row", zebra_stripes=True)
        yield Label("Recent runs", classes="section")
        yield DataTable(id="dash-runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#dash-counts", DataTable).add_columns("what", "count")
        models = self.query_one("#dash-models", DataTable)
        for label, width in (("role", 16), ("backend", 10), ("model", 32), ("status", 11)):
            models.add_column(label, width=width)  # fixed: filled later, from a worker
        self.query_one("#dash-runs", DataTable).add_columns(
            "id", "command", "status", "started", "ended", "summary / error"
        )
        self.action_refresh()
        # once the first frame is drawn: the doctor imports the backends (on a worker thread,
        # but holding the interpreter's lock for most of it)
        self.call_after_refresh(self.set_timer, 0.3, self.action_doctor)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        counts = self.query_one("#dash-counts", DataTable)
        counts.clear()
        for row in workspace_counts(self.ws):
            counts.add_row(*row)
        runs = self.query_one("#dash-runs", DataTable)
        runs.clear()
        for run in recent_runs(self.ws):
            runs.add_row(*run)

    def action_doctor(self) -> None:
        self.query_one("#dash-models-title", Label).update("Model roles (doctor): checking…")
        self._diagnose()

    @work(thread=True, exclusive=True, group="doctor")
    def _diagnose(self) -> None:
        from medsynth.backends.doctor import diagnose

        self.post_message(self.Diagnosed(diagnose(self.ws.config)))

    def on_dashboard_screen_diagnosed(self, message: Diagnosed) -> None:
        self.query_one("#dash-models-title", Label).update("Model roles (doctor)")
        models = self.query_one("#dash-models", DataTable)
        models.clear()
        for r in message.reports:
            name = r.model.rsplit("/", 1)[-1] if r.model else "-"
            style = {"ok": "green", "weak": "yellow"}.get(r.status, "red")
            models.add_row(r.role, r.backend, name[:32], f"[{style}]{r.status}[/{style}]")
