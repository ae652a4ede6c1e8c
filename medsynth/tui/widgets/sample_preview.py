"""The newest synthesised samples in a table, and the highlighted one in full: its record's image,
question, answer, key answer, KG path and provenance.

The rows come from :mod:`medsynth.synth.queries` on the UI thread's connection, each query
LIMITed (the synthesis job writes on its own connection; SQLite's WAL mode lets both work at once).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from medsynth.synth.queries import (
    SampleRow,
    latest_samples,
    new_samples,
    newest_sample_id,
    sample_detail,
    sample_statuses,
)
from medsynth.tui.widgets.image_view import ImageView
from medsynth.workspace import Workspace

STATUSES: tuple[str | None, ...] = (None, "kept", "rejected", "duplicate", "contaminated")
MAX_ROWS = 1000  # the table drops its oldest rows beyond this
QUESTION_WIDTH = 70


def record_image(root: str, images: str | None) -> tuple[Path | None, str]:
    """The record's first image inside ``root``, or None and why not (paths escaping the root,
    through ``..``, an absolute path or a symbolic link, are refused)."""
    try:
        names = json.loads(images or "[]")
    except json.JSONDecodeError:
        return None, "the record's image list is not valid JSON"
    if not isinstance(names, list) or not names or not isinstance(names[0], str):
        return None, "the record has no image"
    base = Path(root).expanduser().resolve()
    path = (base / names[0]).resolve()
    if not path.is_relative_to(base):
        return None, f"{names[0]}: refused, the path escapes the dataset root"
    return path, ""


def _json_list(raw: str | None) -> list[Any]:
    try:
        value = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def describe_sample(row: dict[str, Any]) -> str:
    """The sample in full, as plain text: content, KG path and provenance."""
    lines = [
        f"#{row['id']}  record {row['record_id']}  {row['generator']}/{row['sample_type']}  "
        f"{row['status']}",
        f"Q: {row['question'] or ''}",
        f"A: {row['answer'] or ''}",
    ]
    if row.get("key_answer"):
        lines.append(f"key answer: {row['key_answer']}")
    if row.get("ground_truth"):
        lines.append(f"ground truth: {row['ground_truth']}")
    entities = [str(e) for e in _json_list(row.get("path_entities"))]
    lines.append("KG path: " + (" → ".join(entities) if entities else "(none)"))
    calls = ", ".join(str(c) for c in _json_list(row.get("call_ids"))) or "none"
    lines += [
        "provenance:",
        f"  template {row['template'] or '-'} v{row['template_version'] or '-'}",
        f"  model {row['model'] or '(no model)'} · seed {row['seed']} · calls {calls}",
        f"  status {row['status']}" + (f": {row['reason']}" if row.get("reason") else ""),
    ]
    meta = row.get("meta") or ""
    if meta and meta not in ("{}", "null"):
        lines.append(f"  meta {meta[:400]}")
    if row.get("system"):
        lines.append(f"system: {row['system'][:400]}")
    return "\n".join(lines)


class SamplePreview(Horizontal):
    """A live table of samples (filtered by status) beside the highlighted sample in full."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status: str | None = None
        self.last_id = 0
        self.shown: int | None = None
        self.status_column: Any = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="preview-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="preview-detail"):
            yield ImageView(id="preview-image")
            yield Static("highlight a sample to see it in full", id="preview-text", markup=False)

    def on_mount(self) -> None:
        keys = self.table.add_columns("id", "generator", "type", "status", "question")
        self.status_column = keys[3]

    @property
    def table(self) -> DataTable[Any]:
        """The samples table."""
        return self.query_one("#preview-table", DataTable)

    @property
    def ws(self) -> Workspace:
        """The UI thread's workspace (the app's)."""
        ws = getattr(self.app, "ws", None)
        assert isinstance(ws, Workspace)
        return ws

    @property
    def status_label(self) -> str:
        """The filter in words."""
        return self.status or "all"

    def _add(self, rows: list[SampleRow]) -> None:
        table = self.table
        for sample_id, generator, sample_type, status, question in rows:
            text = " ".join((question or "").split())
            if len(text) > QUESTION_WIDTH:
                text = text[: QUESTION_WIDTH - 1] + "…"
            table.add_row(str(sample_id), generator, sample_type, status, text, key=str(sample_id))
            self.last_id = max(self.last_id, int(sample_id))
        while table.row_count > MAX_ROWS:
            table.remove_row(table.ordered_rows[0].key)

    def reload(self) -> None:
        """Show the newest samples of the current filter again (statuses may have changed)."""
        self.table.clear()
        self.last_id = 0
        self._add(latest_samples(self.ws.db, self.status))
        if self.last_id == 0:  # nothing matches: later polls start after the newest sample
            self.last_id = newest_sample_id(self.ws.db)

    def refresh_statuses(self) -> int:
        """After a run: correct the statuses shown in place (duplicates are marked at the end)
        and append what is new; a filtered view is reloaded. Cheaper for the event loop than
        :meth:`reload`, which rebuilds the table."""
        table = self.table
        if self.status is not None or table.row_count == 0:
            self.reload()
            return table.row_count
        ids = [int(str(key.value)) for key in table.rows]
        for sample_id, status in sample_statuses(self.ws.db, ids).items():
            key = str(sample_id)
            if table.get_cell(key, self.status_column) != status:
                table.update_cell(key, self.status_column, status)
        return self.poll()

    def poll(self) -> int:
        """Append samples written since the last look; how many were added."""
        rows = new_samples(self.ws.db, self.last_id, self.status)
        self._add(rows)
        return len(rows)

    def cycle_filter(self) -> str:
        """Go to the next status filter (all, kept, rejected, duplicate, contaminated)."""
        self.status = STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)]
        self.reload()
        return self.status_label

    def show_sample(self, sample_id: int) -> None:
        """Show one sample in full, with its record's first image."""
        self.shown = sample_id
        text = self.query_one("#preview-text", Static)
        image = self.query_one("#preview-image", ImageView)
        row = sample_detail(self.ws.db, sample_id)
        if row is None:
            image.show(None, "no image")
            text.update(f"sample {sample_id} is no longer in the workspace")
            return
        path, why = record_image(row["dataset_root"], row["record_images"])
        image.show(path, f"record {row['record_id']}" if path else why)
        text.update(describe_sample(row))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.show_sample(int(event.row_key.value))
