"""Synthesize (F5): run the generators as a job with a live preview of the samples, then export."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from medsynth.errors import FolderNotEmptyError, InputError
from medsynth.ground.queries import dataset_names
from medsynth.tui.jobs import Job, ProgressUpdate
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.form import FormError
from medsynth.tui.widgets.job_panel import JobFunction, JobPanel
from medsynth.tui.widgets.sample_preview import SamplePreview
from medsynth.tui.widgets.synth_form import ExportForm, ExportSettings, SynthForm, SynthSettings

PREVIEW_INTERVAL = 0.5  # seconds between preview polls while a run goes on


def synth_job(settings: SynthSettings) -> JobFunction:
    """The job: ``synthesize`` on the job's own connection; a cancel point after every task."""

    def run(job: Job) -> Any:
        from medsynth.synth.service import synthesize

        job.log(f"generators: {', '.join(settings.generators)}")

        def progress(generator: str, done: int, total: int) -> None:
            job.progress(done, total, generator)
            if done == total:
                job.log(f"{generator}: {total} record(s) planned")

        with job.workspace() as ws:
            return synthesize(
                ws,
                settings.generators,
                dataset=settings.dataset,
                limit=settings.limit,
                options=settings.options,
                progress=progress,
                tick=job.check,
            )

    return run


def earlier_export(out: Path, files: Iterable[str]) -> bool:
    """True when ``out`` is missing, empty, or holds files an export writes (``force`` removes
    only those, so a folder of other files is never mixed with an export)."""
    if not out.is_dir():
        return True
    names = {child.name for child in out.iterdir()}
    ours = {*files, "manifest.json", "dataset_card.md", "dataset_info.json", "images"}
    return not names or bool(names & ours)


def export_job(settings: ExportSettings) -> JobFunction:
    """The job: ``export_samples``; an earlier export in the folder is replaced when asked."""

    def run(job: Job) -> Any:
        from medsynth.export import FORMATS, export_samples

        out = settings.out
        force = settings.replace and earlier_export(out, FORMATS.values())
        with job.workspace() as ws:
            try:
                return export_samples(
                    ws,
                    out,
                    settings.fmt,
                    include_contaminated=settings.include_contaminated,
                    split_eval=settings.split_eval,
                    force=force,
                    progress=lambda d, t: job.progress(d, t, "export"),
                )
            except FolderNotEmptyError as exc:
                raise InputError(
                    "the export folder is not empty and holds no earlier export",
                    source=exc.source,
                    hint="choose a new or empty folder (only an earlier export is replaced, "
                    "and only with 'replace an earlier export' ticked)",
                ) from None

    return run


class SynthScreen(MedScreen):
    """Settings and export forms, the job, the live sample preview."""

    MODE = "synth"
    TITLE = "Synthesize"
    CSS_PATH = "synth.tcss"
    HELP = """Make instruction samples from the grounded records, as `medsynth synth` does:
tick the generators, set the options (defaults from `[synth]` in medsynth.toml) and run
(**ctrl+r**). The table shows samples as they are written; highlight one to see its image,
question, answer, key answer, KG path and provenance; **ctrl+f** filters by status. A run can be
cancelled (**ctrl+x**): finished tasks are kept and running again goes on where it stopped.

**Export** (ctrl+o) writes the kept samples as training files (LLaVA, ShareGPT, TRL SFT/GRPO)
with bare PNG images, a dataset card and a manifest. With *replace an earlier export* ticked, an
earlier export in the folder is replaced (only the files an export writes); a folder holding
anything else is refused."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "run synthesis"),
        Binding("ctrl+o", "export", "export"),
        Binding("ctrl+f", "filter", "filter status"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.kind = ""  # synth | export: what the panel runs now
        self.last_progress: ProgressUpdate | None = None
        self.last_poll = 0.0
        self.report: Any = None
        self.export_report: Any = None
        self.ended = 0  # jobs whose end this screen has handled (tests wait on it)

    def compose_body(self) -> ComposeResult:
        datasets = dataset_names(self.ws.db)
        with Horizontal(id="synth-main"):
            with Vertical(id="synth-left"):
                yield SynthForm(self.ws.config.synth, datasets, id="synth-form")
                yield ExportForm(self.root, id="export-form")
            with Vertical(id="synth-right"):
                yield JobPanel(self.root, "records", id="synth-job")
                yield Static("no run yet", id="synth-summary", markup=False)
                yield Static("", id="synth-filter")
                yield SamplePreview(id="synth-preview")

    @property
    def panel(self) -> JobPanel:
        """The job panel."""
        return self.query_one("#synth-job", JobPanel)

    @property
    def preview(self) -> SamplePreview:
        """The sample preview."""
        return self.query_one("#synth-preview", SamplePreview)

    def on_mount(self) -> None:
        self.preview.reload()
        self._show_filter()

    def on_screen_resume(self) -> None:
        if not self.panel.running:
            self.preview.reload()
            self._show_filter()

    def _show_filter(self) -> None:
        count = self.preview.table.row_count
        self.query_one("#synth-filter", Static).update(
            f"samples: [b]{self.preview.status_label}[/b] ({count} shown) · ctrl+f: filter",
            layout=False,  # one line, fixed size (see synth.tcss): no relayout while running
        )

    # --- actions -----------------------------------------------------------------------------

    def action_run(self) -> None:
        try:
            settings = self.query_one(SynthForm).settings()
        except FormError as exc:
            self.notify(str(exc), title="cannot run", severity="error")
            return
        self.last_progress = None
        self.report = None
        if self.panel.start("synthesize", synth_job(settings), unit="records"):
            self.kind = "synth"
            self.query_one("#synth-summary", Static).update(
                f"running {', '.join(settings.generators)}…"
            )

    def action_export(self) -> None:
        try:
            settings = self.query_one(ExportForm).settings()
        except FormError as exc:
            self.notify(str(exc), title="cannot export", severity="error")
            return
        self.export_report = None
        if self.panel.start(f"export {settings.fmt}", export_job(settings), unit="samples"):
            self.kind = "export"

    def action_filter(self) -> None:
        label = self.preview.cycle_filter()
        self._show_filter()
        self.notify(f"showing {label} samples", timeout=2)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "synth-run":
            event.stop()
            self.action_run()
        elif event.button.id == "export-run":
            event.stop()
            self.action_export()

    # --- job messages ------------------------------------------------------------------------

    def on_job_panel_progress(self, message: JobPanel.Progress) -> None:
        if self.kind == "synth":
            self.last_progress = message.update
            now = time.monotonic()
            if now - self.last_poll >= PREVIEW_INTERVAL:  # new rows relayout the screen
                self.last_poll = now
                if self.preview.poll():
                    self._show_filter()

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.ended += 1
        if self.kind == "synth":
            self.report = message.result
            self._after_run()
            self._summarise(message.result)
        elif self.kind == "export":
            self.export_report = message.result
            self._exported(message.result)

    def on_job_panel_failed(self, message: JobPanel.Failed) -> None:
        self.ended += 1
        if self.kind == "synth":
            self._after_run()
            self.query_one("#synth-summary", Static).update(
                "the run failed (see the notification); finished tasks are kept"
            )

    def on_job_panel_stopped(self, message: JobPanel.Stopped) -> None:
        self.ended += 1
        if self.kind == "synth":
            self._after_run()
            self.query_one("#synth-summary", Static).update(
                "cancelled: finished tasks are kept; run again (ctrl+r) to go on"
            )

    def _after_run(self) -> None:
        self.preview.refresh_statuses()  # the end of a run marks duplicates
        self._show_filter()

    def _summarise(self, report: Any) -> None:
        data = report.as_dict()
        tasks = sum(data["tasks"].values())
        samples = sum(data["samples_kept"].values()) + sum(data["samples_rejected"].values())
        lines = [f"run {data['run_id']}: {tasks} task(s), {samples} sample(s) written"]
        generators = sorted({*data["samples_kept"], *data["samples_rejected"], *data["tasks"]})
        for g in generators:
            failed = data["tasks_failed"].get(g, 0)
            lines.append(
                f"  {g}: kept {data['samples_kept'].get(g, 0)}, "
                f"rejected {data['samples_rejected'].get(g, 0)}"
                + (f", {failed} task(s) failed (see `medsynth rejects`)" if failed else "")
            )
        lines.append(
            f"  near-duplicates: {data['duplicates']} · model calls: "
            f"{sum(data['model_calls'].values())} · cache hits: {sum(data['cache_hits'].values())}"
        )
        self.query_one("#synth-summary", Static).update("\n".join(lines))
        for warning in data["warnings"]:
            self.notify(warning, title="synthesize", severity="warning", timeout=15)

    def _exported(self, report: Any) -> None:
        split = f" ({report.train} train, {report.eval} eval)" if report.eval else ""
        text = (
            f"exported {report.samples} sample(s){split} as {report.format}, "
            f"{report.images} image(s) to {report.out}\n  files: {', '.join(report.files)}"
        )
        if report.skipped:
            text += f"\n  skipped {len(report.skipped)} (details: `medsynth rejects`)"
        self.query_one("#synth-summary", Static).update(text)
        self.notify(f"{report.samples} sample(s) in {report.out}", title="export done")
