"""Evaluate: ask a model a VQA test set (SLAKE, VQA-RAD) with progress, see the metrics by
answer and question type, and compare eval runs with bootstrap intervals."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Log, Static

from medsynth.errors import MedsynthError
from medsynth.eval.queries import eval_run_list, eval_run_metrics, known_paths, scorer_overview
from medsynth.train.queries import finished_adapters
from medsynth.tui.jobs import Job
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.eval_form import EvalForm, EvalSettings
from medsynth.tui.widgets.eval_tables import (
    METRIC_COLUMNS,
    RUN_COLUMNS,
    MetricBars,
    compare_table,
    metric_rows,
    model_specs,
    run_cells,
    scorer_rows,
)
from medsynth.tui.widgets.job_panel import JobPanel


class EvaluateScreen(MedScreen):
    """Form and eval runs on the left; metrics, comparison and the job on the right."""

    MODE = "eval"
    TITLE = "Evaluate"
    CSS_PATH = "evaluate.tcss"
    HELP = """Evaluate a model on **SLAKE**, **VQA-RAD**, **PathVQA**, **PMC-VQA** or **OmniMedVQA**
(point *path* at the dataset folder or its question file). *model* is a role of
`medsynth.toml` (`base_model`, `generator`...) or a spec:
`llamacpp:embedded`, `llamacpp:/m.gguf`, `hf:/folder,adapter=/adapter`,
`ollama:TAG@http://127.0.0.1:11434`. Answers are greedy and stored per question: running the same
settings again resumes the run. The metrics table shows closed-question accuracy and open-question
recall (percent, questions in brackets) overall, by answer type and by question type.

Mark two or more runs in the runs table (enter, space or click) and **Compare**: each run minus
the first on their shared questions, with a paired bootstrap interval (* = excludes 0).

*images* asks the same questions with the image replaced (blank, noise, another question's
image): compare a run with its ablated twin to see the **visual reliance** (the drop per answer
type). *closed as multiple choice* lists the options of closed questions. **Each scorer** shows
the highlighted run under MedSynth's strict scoring, LLaVA-Med's published script (what most
papers report) and MultiMedEval's, so a paper's number can be placed."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "run", "run eval"),
        Binding("ctrl+o", "compare", "compare marked"),
        Binding("space", "toggle_mark", "mark run", show=False),
        Binding("ctrl+l", "refresh", "refresh runs"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[int] = []
        self.shown_run: int | None = None  # the eval run whose metrics are shown

    def compose_body(self) -> ComposeResult:
        models = self.ws.config.models
        default_model = "base_model" if models.base_model.model else "llamacpp:embedded"
        with Horizontal(id="eval-main"):
            with Vertical(id="eval-left"):
                yield EvalForm(
                    model=default_model,
                    paths=known_paths(self.ws.db),
                    specs=model_specs(finished_adapters(self.ws.db)),
                    id="eval-form",
                )
                yield DataTable(id="eval-runs", cursor_type="row", zebra_stripes=True)
            with Vertical(id="eval-right"):
                yield DataTable(id="eval-metrics", cursor_type="row", zebra_stripes=True)
                yield Static("no eval run shown yet", id="eval-summary")
                with Horizontal(id="eval-views"):
                    yield DataTable(id="eval-scorers", cursor_type="row", zebra_stripes=True)
                    yield MetricBars(id="eval-bars")
                yield DataTable(id="eval-compare", cursor_type="row", zebra_stripes=True)
                yield JobPanel(self.root, "questions", id="eval-job")

    def on_mount(self) -> None:
        metrics = self.query_one("#eval-metrics", DataTable)
        metrics.add_columns(*METRIC_COLUMNS)
        metrics.border_title = "Metrics (percent; questions)"
        runs = self.query_one("#eval-runs", DataTable)
        runs.add_columns(*RUN_COLUMNS)
        runs.border_title = "Eval runs (enter/space marks, ^o compares)"
        self.query_one("#eval-compare", DataTable).border_title = "Compare"
        scorers = self.query_one("#eval-scorers", DataTable)
        scorers.add_columns("scorer", "closed", "open", "avg")
        scorers.border_title = "Each scorer"
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    @property
    def panel(self) -> JobPanel:
        return self.query_one("#eval-job", JobPanel)

    # actions -------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        table = self.query_one("#eval-runs", DataTable)
        table.clear()
        for run in eval_run_list(self.ws.db):
            table.add_row(*run_cells(run, run["id"] in self.marked), key=str(run["id"]))

    def action_run(self) -> None:
        try:
            settings = self.query_one(EvalForm).read()
        except MedsynthError as exc:
            self.notify(str(exc), title="cannot evaluate", severity="error", timeout=10)
            return
        if self.panel.start(f"eval {settings.dataset} {settings.split}", _eval_job(settings)):
            self.query_one("#eval-runs", DataTable).focus()  # ctrl+x in a field would cut text

    def action_toggle_mark(self) -> None:
        table = self.query_one("#eval-runs", DataTable)
        if table.row_count == 0:
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        run_id = int(str(row_key.value))
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        mark = "✓" if run_id in self.marked else " "
        table.update_cell(row_key, table.ordered_columns[0].key, mark)

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify(
                "compare needs two or more eval runs\n  fix: mark runs in the runs table "
                "(enter, space or click); the first marked is the baseline",
                severity="warning",
            )
            return
        refs = [str(run_id) for run_id in self.marked]
        self.panel.start(f"compare {', '.join(refs)}", _compare_job(refs), unit="")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"ef-run": self.action_run, "ef-compare": self.action_compare}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "eval-runs":
            self.action_toggle_mark()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "eval-runs" or event.row_key is None:
            return
        run_id = int(str(event.row_key.value))
        if run_id == self.shown_run:
            return
        run = eval_run_metrics(self.ws.db, run_id)
        if run is not None:
            self.show_metrics(run.summary(), run.metrics, run_id)

    # results -------------------------------------------------------------------------------

    def show_metrics(self, summary: str, metrics: dict[str, Any] | None, run_id: int) -> None:
        self.shown_run = run_id
        table = self.query_one("#eval-metrics", DataTable)
        table.clear()
        for row in metric_rows(metrics) if metrics else []:
            table.add_row(*row)
        self.query_one("#eval-summary", Static).update(summary)
        scorers = self.query_one("#eval-scorers", DataTable)
        scorers.clear()
        for row in scorer_rows(scorer_overview(self.ws.db, run_id)):
            scorers.add_row(*row)
        self.query_one("#eval-bars", MetricBars).show(metrics)

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        result = message.result
        if isinstance(result, dict) and "eval_run_id" in result:
            label = f" ({result['name']})" if result["name"] else ""
            seen = "" if result["images_seen"] else "; images NOT seen (text-only model)"
            summary = (
                f"eval run {result['eval_run_id']}{label}: {result['dataset']} "
                f"{result['split']}, {result['predicted']}/{result['questions']} predicted, "
                f"{result['status']}{seen}"
            )
            self.show_metrics(summary, result["metrics"], int(result["eval_run_id"]))
            for note in [*result["warnings"], *(s["reason"] for s in result["skipped"])]:
                message.panel.query_one(Log).write_line(f"note: {note}")
            self.action_refresh()
        elif isinstance(result, dict) and "rows" in result:
            self.show_compare(result)

    def on_job_panel_failed(self, message: JobPanel.Failed) -> None:
        self.action_refresh()

    def on_job_panel_stopped(self, message: JobPanel.Stopped) -> None:
        self.action_refresh()

    def show_compare(self, data: dict[str, Any]) -> None:
        columns, rows = compare_table(data)
        table = self.query_one("#eval-compare", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*row)
        boot = data["bootstrap"]
        table.border_title = (
            f"Compare: {data['dataset']} {data['split']}, {data['questions_compared']} shared "
            f"question(s), {round(100 * boot['confidence'])} % interval (* excludes 0)"
        )


def _eval_job(settings: EvalSettings) -> Any:
    def run(job: Job) -> dict[str, Any]:
        from medsynth.eval.runner import EvalRequest, run_eval

        request = EvalRequest(
            dataset=settings.dataset,
            path=settings.path,
            model=settings.model,
            split=settings.split,
            language=settings.language,
            answer_type=settings.answer_type,  # type: ignore[arg-type]
            limit=settings.limit,
            name=settings.name,
            image_ablation=settings.image_ablation,
            choices=settings.choices,
        )
        job.progress(0, 0, "loading the questions and the model")
        with job.workspace() as ws:
            return run_eval(
                ws, request, progress=lambda done, total: job.progress(done, total, "answered")
            )

    return run


def _compare_job(refs: list[str]) -> Any:
    def run(job: Job) -> dict[str, Any]:
        from medsynth.eval.compare import compare

        with job.workspace() as ws:
            return compare(ws, refs)

    return run
