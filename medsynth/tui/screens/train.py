"""Train: SFT / GRPO settings, the memory preflight, a run with live loss and reward curves,
the recent runs (resume a cancelled or failed one)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Log, Static, Switch

from medsynth.errors import MedsynthError
from medsynth.train.queries import recent_train_runs, run_steps, train_run
from medsynth.tui.jobs import Job
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.job_panel import JobPanel
from medsynth.tui.widgets.train_form import TrainForm, options_from_run
from medsynth.tui.widgets.train_tables import (
    RUN_COLUMNS,
    preflight_rows,
    run_cells,
    size,
    verdict,
)

if TYPE_CHECKING:
    from medsynth.train.settings import TrainOptions
    from medsynth.tui.widgets.curves import TrainCurves

RESUMABLE = ("cancelled", "failed", "interrupted", "running")


def options_key(options: TrainOptions) -> str:
    """What a preflight was computed for (the form's settings, resume and force aside)."""
    data = asdict(options)
    data.pop("force")
    return repr(sorted(data.items()))


class TrainScreen(MedScreen):
    """Form, preflight table, curves, job panel, runs."""

    MODE = "train"
    TITLE = "Train"
    CSS_PATH = "train.tcss"
    HELP = """Fine-tune the base model on an export: **SFT** (LoRA; QLoRA on CUDA), then **GRPO**
with the KG-path rewards. Empty number fields take the default shown (the workspace's `[train]`
settings, or the smoke values while *smoke* is on: the tiny test model, a few steps on the CPU).

**Preflight** estimates the peak memory from the model's config, the export's longest sample and
your settings (exactly what training computes) and holds it against the memory available.
**Start** runs the preflight first when the settings changed and refuses a run that will not fit
unless *force* is on. Loss (and GRPO reward) is plotted at every step; **cancel** (ctrl+x) saves
a checkpoint at the current step, and **Resume** on a cancelled or failed run (select it in the
runs table) goes on from its last checkpoint with the settings it was started with. **Export**
(ctrl+e) writes the selected finished run as GGUF + vision projector with an Ollama Modelfile
(`[train] export_quant`), for Ollama and llama.cpp; its folder is shown in the log."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "preflight", "preflight"),
        Binding("ctrl+r", "start", "start"),
        Binding("ctrl+g", "resume", "resume run"),
        Binding("ctrl+e", "export", "export run"),
        Binding("ctrl+l", "refresh", "refresh runs"),
    ]

    class Preflighted(Message):
        """A preflight finished (from the job thread)."""

        def __init__(self, key: str, name: str, estimate: dict[str, Any]) -> None:
            super().__init__()
            self.key = key
            self.name = name
            self.estimate = estimate

    class Stepped(Message):
        """Training recorded a step (from the job thread)."""

        def __init__(self, step: int, total: int, fields: dict[str, Any]) -> None:
            super().__init__()
            self.step = step
            self.total = total
            self.fields = fields

    def __init__(self) -> None:
        super().__init__()
        self.estimate: dict[str, Any] | None = None
        self.estimate_key = ""

    def compose_body(self) -> ComposeResult:
        from medsynth.tui.widgets.curves import TrainCurves  # plotext: only when shown

        cfg = self.ws.config
        with Horizontal(id="train-main"):
            yield TrainForm(
                cfg.train,
                exports=self.ws.path("exports"),
                smoke=not cfg.models.base_model.model,
                model=cfg.models.base_model.model,
                id="train-form",
            )
            with Vertical(id="train-right"):
                with Horizontal(id="train-top"):
                    with Vertical(id="train-preflight-box"):
                        yield DataTable(id="train-preflight", cursor_type="none")
                    yield TrainCurves(id="train-curves")
                yield Static("preflight: not run yet (ctrl+f)", id="train-verdict")
                yield Static("", id="train-stats")
                yield JobPanel(self.root, "steps", id="train-job")
                yield DataTable(id="train-runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#train-preflight", DataTable)
        table.add_columns("memory", "estimate")
        table.border_title = "Memory preflight"
        runs = self.query_one("#train-runs", DataTable)
        runs.add_columns(*RUN_COLUMNS)
        runs.border_title = "Training runs (ctrl+g resumes the selected one)"
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @property
    def panel(self) -> JobPanel:
        return self.query_one("#train-job", JobPanel)

    @property
    def curves(self) -> TrainCurves:
        from medsynth.tui.widgets.curves import TrainCurves

        return self.query_one("#train-curves", TrainCurves)

    def _options(self) -> TrainOptions | None:
        try:
            return self.query_one(TrainForm).read()
        except MedsynthError as exc:
            self.notify(str(exc), title="cannot read the form", severity="error", timeout=10)
            return None

    # actions -------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        runs = self.query_one("#train-runs", DataTable)
        runs.clear()
        for row in recent_train_runs(self.ws.db):
            runs.add_row(*run_cells(row), key=str(row["id"]))

    def action_preflight(self) -> None:
        options = self._options()
        if options is not None:
            self.panel.start("preflight", self._preflight_job(options), unit="")

    def action_start(self) -> None:
        options = self._options()
        if options is None:
            return
        key = options_key(options)
        known = self.estimate if key == self.estimate_key else None
        if known is not None and not known["fits"] and not options.force:
            self.notify(
                f"the preflight says this run will not fit: {size(known['total_bytes'])} "
                f"needed, {size(known['budget_bytes'])} available\n  fix: {verdict(known)}",
                title="training refused",
                severity="error",
                timeout=15,
            )
            return
        title = f"train {options.kind}"
        if self.panel.start(title, self._train_job(options, preflight=known is None)):
            self.curves.reset(f"{title}: starting")
            self.query_one("#train-runs", DataTable).focus()

    def action_resume(self) -> None:
        runs = self.query_one("#train-runs", DataTable)
        if runs.row_count == 0:
            self.notify("no training run to resume yet", severity="warning")
            return
        row_key = runs.coordinate_to_cell_key(runs.cursor_coordinate).row_key
        data = train_run(self.ws.db, int(str(row_key.value)))
        if data is None:  # gone since the table was filled
            self.action_refresh()
            return
        if data["status"] not in RESUMABLE:
            self.notify(
                f"run {data['name']} is {data['status']}: only a cancelled or failed run resumes"
                "\n  fix: select a cancelled or failed run, or start a new one",
                severity="warning",
            )
            return
        force = self.query_one("#tf-force", Switch).value
        options = options_from_run(data, force=force)
        title = f"resume {data['name']}"
        if self.panel.start(title, self._train_job(options, preflight=True)):
            self.curves.reset(f"{title}: starting")

    def selected_run(self) -> dict[str, Any] | None:
        """The run selected in the runs table (None when the table is empty)."""
        runs = self.query_one("#train-runs", DataTable)
        if runs.row_count == 0:
            return None
        row_key = runs.coordinate_to_cell_key(runs.cursor_coordinate).row_key
        return train_run(self.ws.db, int(str(row_key.value)))

    def action_export(self) -> None:
        data = self.selected_run()
        if data is None or data["status"] != "ok":
            self.notify(
                "select a finished run to export\n  fix: train one, or pick a run marked ok",
                severity="warning",
            )
            return
        self.panel.start(f"export {data['name']}", self._export_job(data["name"]), unit="")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "tf-preflight": self.action_preflight,
            "tf-start": self.action_start,
            "tf-resume": self.action_resume,
            "tf-export": self.action_export,
        }
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    # jobs (run on the job thread: they only post messages) -------------------------------------

    def _preflight_job(self, options: TrainOptions) -> Any:
        key = options_key(options)

        def run(job: Job) -> dict[str, Any]:
            from medsynth.train.service import prepare

            job.progress(0, 0, "preflight: reading the model, the export and the settings")
            with job.workspace() as ws:
                prep = prepare(ws, options, echo=job.log)
            estimate = prep.estimate.as_dict()
            job.log(prep.estimate.describe())
            self.post_message(self.Preflighted(key, prep.name, estimate))
            return estimate

        return run

    def _train_job(self, options: TrainOptions, *, preflight: bool) -> Any:
        check = self._preflight_job(options)

        def run(job: Job) -> Any:
            from medsynth.train.preflight import suggestion_text
            from medsynth.train.service import TrainingRefused, train_recipe

            if preflight:
                estimate = check(job)
                if not estimate["fits"] and not options.force:
                    raise TrainingRefused(
                        "the memory preflight says this run will not fit",
                        source=f"{size(estimate['total_bytes'])} needed",
                        hint=suggestion_text(_estimate_view(estimate)).replace(
                            "--force runs anyway", "or switch Force on to run anyway"
                        ),
                    )

            def on_step(step: int, total: int, fields: dict[str, Any]) -> None:
                self.post_message(self.Stepped(step, total, fields))
                job.progress(step, total, "steps")

            with job.workspace() as ws:
                results = train_recipe(ws, options, echo=job.log, on_step=on_step)
                return results[-1] if results else None  # the last stage of a recipe

        return run

    def _export_job(self, name: str) -> Any:
        def run(job: Job) -> Any:
            from medsynth.train.model_export import export_run

            job.progress(0, 0, "export: merging the adapter, then llama.cpp's converter")
            with job.workspace() as ws:
                result = export_run(ws, name)
            job.log(f"exported {name} to {result.folder}")
            for role, path in result.files.items():
                job.log(f"  {role}: {path.name}")
            return result

        return run

    # messages ------------------------------------------------------------------------------

    def on_train_screen_preflighted(self, message: Preflighted) -> None:
        self.estimate, self.estimate_key = message.estimate, message.key
        table = self.query_one("#train-preflight", DataTable)
        table.clear()
        for row in preflight_rows(message.estimate):
            table.add_row(*row)
        self.query_one("#train-verdict", Static).update(
            f"run {message.name}: " + verdict(message.estimate)
        )

    def on_train_screen_stepped(self, message: Stepped) -> None:
        fields = message.fields
        if self.curves.points == 0:
            self.curves.caption = "loss" + (" / reward" if fields.get("reward") is not None else "")
        self.curves.add(message.step, fields.get("loss"), fields.get("reward"))
        rate = fields.get("tokens_per_s")
        parts = [f"step {message.step}/{message.total or '?'}"]
        if fields.get("loss") is not None:
            parts.append(f"loss {fields['loss']:.4f}")
        if fields.get("reward") is not None:
            parts.append(f"reward {fields['reward']:.3f}")
        parts.append(f"{rate:.0f} tokens/s" if rate else "tokens/s -")
        parts.append(f"peak {size(fields.get('peak_bytes'))}")
        self.query_one("#train-stats", Static).update(" · ".join(parts))

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        result = message.result
        if hasattr(result, "train_run_id"):
            self.query_one("#train-stats", Static).update(
                f"{result.name}: done, step {result.steps}/{result.steps} in {result.seconds} s"
                f" · peak {size(result.peak_bytes)} (estimated "
                f"{size(result.estimate['total_bytes'])})"
            )
            message.panel.query_one(Log).write_line(f"adapter: {result.adapter}")
            self.action_refresh()

    def on_job_panel_failed(self, message: JobPanel.Failed) -> None:
        self.action_refresh()

    def on_job_panel_stopped(self, message: JobPanel.Stopped) -> None:
        self.action_refresh()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "train-runs" or self.panel.running or event.row_key is None:
            return
        run_id = int(str(event.row_key.value))
        steps = run_steps(self.ws.db, run_id)
        reward = " / reward" if any(s["reward"] is not None for s in steps) else ""
        self.curves.load(f"run {run_id}: loss{reward}", steps)


def _estimate_view(estimate: dict[str, Any]) -> Any:
    """An object with the ``suggestion`` attribute that ``suggestion_text`` reads."""
    from types import SimpleNamespace

    return SimpleNamespace(suggestion=estimate.get("suggestion"))
