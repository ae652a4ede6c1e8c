"""Ingest & Ground: read a dataset into records, ground them in the KG, inspect the result."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import (
    Button,
    DataTable,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from medsynth.ground import queries as data
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.record_jobs import FORMATS, IngestRequest, run_ground, run_ingest
from medsynth.tui.widgets.record_view import RecordPanel

FILTERS = (("filters: format default", "auto"), ("filters on", "on"), ("filters off", "off"))


class IngestScreen(MedScreen):
    """The ingest and ground forms, one job panel, grounding counts, rejects and records."""

    MODE = "ingest"
    TITLE = "Ingest & Ground"
    CSS_PATH = "ingest.tcss"
    HELP = """**Ingest** reads a dataset (`medsynth ingest`): a *folder* of images with same-name
`.txt` captions, a *pubmedvision* JSON/JSONL rows file, a *slake* or *vqa-rad* folder (split;
language for SLAKE) or a *dicom* folder. Images are verified and hashed, PubMedVision's filters run
(default: on for captioned formats), bad inputs become rejects. Re-running resumes.

**Ground** (`medsynth ground`) links each kept record of the chosen dataset to KG entities:
extraction with the vision generator, exact then fuzzy matching with the verifier, the matched
entities' triples. Cancel with ctrl+x: grounded records are kept, running again goes on.

The right side shows, for the chosen dataset, the exact / fuzzy / unmatched counts per kind, the
newest rejects, and (ctrl+t) the records: the highlighted record's image, context, extraction,
matches with their candidates and scores, and its triples."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "ingest", "ingest"),
        Binding("ctrl+g", "ground", "ground"),
        Binding("ctrl+t", "toggle_view", "grounding/records"),
        Binding("ctrl+l", "refresh", "refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.datasets: dict[str, data.DatasetRow] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ing-main"):
            with Vertical(id="ing-left"):
                yield Label("Ingest", classes="section")
                with Grid(id="ing-form", classes="ing-grid"):
                    yield Label("path")
                    yield Input(
                        placeholder="dataset folder or rows file", id="ing-path", compact=True
                    )
                    yield Label("format")
                    yield Select(
                        [(f, f) for f in FORMATS],
                        value="folder",
                        allow_blank=False,
                        id="ing-format",
                        compact=True,
                    )
                    yield Label("name")
                    yield Input(
                        placeholder="default: from the format and path", id="ing-name", compact=True
                    )
                    yield Label("split")
                    yield Input(
                        "train", placeholder="slake / vqa-rad split", id="ing-split", compact=True
                    )
                    yield Label("language")
                    yield Input(
                        "en",
                        placeholder="slake: question language",
                        id="ing-language",
                        compact=True,
                    )
                    yield Label("filters")
                    yield Select(
                        FILTERS, value="auto", allow_blank=False, id="ing-filters", compact=True
                    )
                yield Button("Ingest (ctrl+r)", id="ing-run", variant="primary", compact=True)
                yield Label("Ground", classes="section")
                with Grid(id="ing-ground-form", classes="ing-grid"):
                    yield Label("dataset")
                    yield Select([], prompt="dataset", id="ing-dataset", compact=True)
                    yield Label("limit")
                    yield Input(
                        placeholder="first N kept records (empty: all)",
                        id="ing-limit",
                        compact=True,
                    )
                yield Button("Ground (ctrl+g)", id="ing-ground", variant="primary", compact=True)
                yield JobPanel(self.root, "items", id="ing-job")
            with TabbedContent(id="ing-tabs"):
                with TabPane("Grounding", id="ing-tab-summary"):
                    yield Static("", id="ing-summary")
                    yield DataTable(id="ing-counts", cursor_type="row")
                    yield Label("Rejects (newest first)", classes="section")
                    yield DataTable(id="ing-rejects", cursor_type="row", zebra_stripes=True)
                with TabPane("Records", id="ing-tab-records"):
                    yield DataTable(id="ing-records", cursor_type="row", zebra_stripes=True)
                    yield RecordPanel(id="ing-record")

    def on_mount(self) -> None:
        self.query_one("#ing-counts", DataTable).add_columns(
            "kind", "exact", "fuzzy", "unmatched", "total"
        )
        rejects = self.query_one("#ing-rejects", DataTable)
        for label, width in (("id", 5), ("stage", 7), ("source", 26), ("reason", 120)):
            rejects.add_column(label, width=width)
        records = self.query_one("#ing-records", DataTable)
        for label, width in (("id", 5), ("key", 34), ("status", 9), ("disease", 9), ("organ", 9)):
            records.add_column(label, width=width)
        self.action_refresh()
        self.query_one("#ing-path", Input).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    # -- reading the workspace ------------------------------------------------------------------

    def action_refresh(self, select: str | None = None) -> None:
        """Re-read datasets, counts, rejects and records (``select``: the dataset to choose)."""
        chooser = self.query_one("#ing-dataset", Select)
        current = select or (chooser.value if isinstance(chooser.value, str) else None)
        rows = data.datasets(self.ws.db)
        self.datasets = {r.name: r for r in rows}
        options = [(Text(f"{r.name} ({r.pending} to ground)"), r.name) for r in rows]
        with self.prevent(Select.Changed):
            chooser.set_options(options)
            if current in self.datasets:
                chooser.value = current
            elif rows:
                chooser.value = rows[0].name
        self.show_dataset()

    @on(Select.Changed, "#ing-dataset")
    def show_dataset(self) -> None:
        """Counts, rejects and records of the chosen dataset."""
        chooser = self.query_one("#ing-dataset", Select)
        chosen = self.datasets.get(chooser.value) if isinstance(chooser.value, str) else None
        counts = self.query_one("#ing-counts", DataTable)
        counts.clear()
        records = self.query_one("#ing-records", DataTable)
        records.clear()
        rejects = self.query_one("#ing-rejects", DataTable)
        rejects.clear()
        for reject in data.rejects(self.ws.db):
            rejects.add_row(
                *(Text(str(v)) for v in (reject.id, reject.stage, reject.source, reject.reason))
            )
        summary = self.query_one("#ing-summary", Static)
        if chosen is None:
            summary.update("no dataset yet: ingest one")
            self.query_one(RecordPanel).show(None)
            return
        summary.update(
            Text(
                f"{chosen.name} ({chosen.format}): {chosen.total} records, {chosen.kept} kept, "
                f"{chosen.kept - chosen.pending} grounded, {chosen.pending} to ground"
            )
        )
        for kind, stages in sorted(data.match_counts(self.ws.db, chosen.id).items()):
            counts.add_row(kind, *(str(stages[s]) for s in data.STAGES), str(sum(stages.values())))
        for row in data.records(self.ws.db, chosen.id):
            records.add_row(*(Text(v) for v in row), key=row[0])
        if not records.row_count:
            self.query_one(RecordPanel).show(None)

    @on(DataTable.RowHighlighted, "#ing-records")
    def _record(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            view = data.record_view(self.ws.db, int(event.row_key.value))
            self.query_one(RecordPanel).show(view)

    def action_toggle_view(self) -> None:
        tabs = self.query_one("#ing-tabs", TabbedContent)
        tabs.active = "ing-tab-records" if tabs.active == "ing-tab-summary" else "ing-tab-summary"

    # -- jobs -----------------------------------------------------------------------------------

    def _value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def action_ingest(self) -> None:
        """Start an ingest job from the form (bad values: a notification)."""
        path = self._value("#ing-path")
        if not path:
            self.notify("type the dataset path first", title="ingest", severity="warning")
            self.query_one("#ing-path", Input).focus()
            return
        fmt = str(self.query_one("#ing-format", Select).value)
        filters = {"on": True, "off": False}.get(str(self.query_one("#ing-filters", Select).value))
        request = IngestRequest(
            Path(path),
            fmt,
            name=self._value("#ing-name") or None,
            split=self._value("#ing-split") or "train",
            language=self._value("#ing-language") or "en",
            filters=filters,
        )
        self.query_one(JobPanel).start("ingest", lambda job: run_ingest(job, request), "items")

    def action_ground(self) -> None:
        """Start a ground job for the chosen dataset."""
        chooser = self.query_one("#ing-dataset", Select)
        if not isinstance(chooser.value, str):
            self.notify("choose a dataset to ground (ingest one first)", severity="warning")
            return
        text = self._value("#ing-limit")
        if text and (not text.isdigit() or int(text) < 1):
            self.notify(
                f"limit {text!r} is not a positive whole number\n  fix: type e.g. 10, or leave "
                "it empty for every pending record",
                title="ground",
                severity="error",
            )
            return
        dataset, limit = chooser.value, int(text) if text else None
        self.query_one(JobPanel).start(
            "ground", lambda job: run_ground(job, dataset, limit), "records"
        )

    @on(Button.Pressed, "#ing-run")
    def _ingest_pressed(self) -> None:
        self.action_ingest()

    @on(Button.Pressed, "#ing-ground")
    def _ground_pressed(self) -> None:
        self.action_ground()

    @on(Input.Submitted, "#ing-path, #ing-name, #ing-split, #ing-language")
    def _ingest_submitted(self) -> None:
        self.action_ingest()

    @on(Input.Submitted, "#ing-limit")
    def _ground_submitted(self) -> None:
        self.action_ground()

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        result = message.result if isinstance(message.result, dict) else {}
        if message.title == "ingest":
            totals = result.get("totals", {})
            self.notify(
                f"{result.get('dataset')}: {result.get('records_new', 0)} new records, "
                f"{totals.get('records', 0)} in all, {len(result.get('rejects', []))} rejects",
                title="ingest done",
            )
            self.action_refresh(select=result.get("dataset"))
        else:
            self.notify(
                f"{result.get('records', 0)} records: {result.get('grounded', 0)} grounded, "
                f"{result.get('rejected', 0)} rejected",
                title="ground done",
            )
            self.action_refresh()

    def on_job_panel_stopped(self, _message: JobPanel.Stopped) -> None:
        self.action_refresh()

    def on_job_panel_failed(self, _message: JobPanel.Failed) -> None:
        self.action_refresh()
