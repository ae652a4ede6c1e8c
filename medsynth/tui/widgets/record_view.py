"""One record in full: its image, context, extraction, matches with candidates, KG triples."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Static

from medsynth.ground.queries import RecordView
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.record_data import describe_matches


class RecordPanel(Horizontal):
    """The image on the left, the text and the record's triples on the right."""

    DEFAULT_CLASSES = "record-panel"

    def compose(self) -> ComposeResult:
        yield ImageView(id="record-image")
        with VerticalScroll(id="record-text"):
            yield Static("select a record", id="record-head")
            yield Label("Context", classes="section")
            yield Static("", id="record-context")
            yield Label("Extraction and matches", classes="section")
            yield Static("", id="record-matches")
            yield Label("Triples", classes="section", id="record-triples-title")
            yield DataTable(id="record-triples", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#record-triples", DataTable)
        for label, width in (("head", 16), ("relation", 12), ("tail", 60)):
            table.add_column(label, width=width)

    def show(self, view: RecordView | None) -> None:
        """Show ``view`` (None: nothing selected)."""
        table = self.query_one("#record-triples", DataTable)
        table.clear()
        if view is None:
            self.query_one("#record-head", Static).update("select a record")
            for selector in ("#record-context", "#record-matches"):
                self.query_one(selector, Static).update("")
            self.query_one("#record-image", ImageView).show(None, "no record")
            self.query_one("#record-triples-title", Label).update("Triples")
            return
        status = view.status + (f" ({view.filter_reason})" if view.filter_reason else "")
        self.query_one("#record-head", Static).update(
            Text(f"record {view.id}  {view.key}  {status}")
        )
        self.query_one("#record-context", Static).update(Text(view.context))
        extraction = (
            f"extracted: disease {view.extraction[0]!r}, organ {view.extraction[1]!r}\n"
            if view.extraction
            else "no extraction yet\n"
        )
        self.query_one("#record-matches", Static).update(Text(extraction + describe_matches(view)))
        image = self.query_one("#record-image", ImageView)
        if view.image is None:
            image.show(None, view.image_error or "no image")
        else:
            image.show(view.image)
        for triple in view.triples:
            table.add_row(*(Text(cell) for cell in triple))
        self.query_one("#record-triples-title", Label).update(f"Triples ({len(view.triples)})")
