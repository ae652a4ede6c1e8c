"""Review (F9): a clinician goes through a queue of samples one at a time, accepts or rejects
each, scores it on the four rubric criteria and adds a note; the judge scores samples as a job.

Every read and write goes through :mod:`medsynth.review.data` on the UI thread's connection
(one sample, one review at a time: cheap); the judge runs in the job panel's worker on a
connection of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from medsynth.errors import InputError
from medsynth.review.data import CRITERIA, Order, SampleView, queue, sample_view, save_review
from medsynth.tui.jobs import Job
from medsynth.tui.screens.base import MedScreen
from medsynth.tui.widgets.form import FormError
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.job_panel import JobFunction, JobPanel
from medsynth.tui.widgets.review_card import ReviewCard, ScoreBar
from medsynth.tui.widgets.review_queue import QueueForm, QueueSettings, require_reviewer


def judge_job(generators: list[str] | None, models: Any = None) -> JobFunction:
    """The job: ``judge`` on the job's own connection; every judged sample is stored as it is
    scored, so a cancel keeps them and a second run goes on with the rest."""

    def run(job: Job) -> Any:
        from medsynth.review.judge import judge

        job.log("judging " + (", ".join(generators) if generators else "every generator"))
        with job.workspace() as ws:
            return judge(
                ws,
                generators=generators,
                models=models,
                progress=lambda done, total: job.progress(done, total, "judge"),
                tick=job.check,
            )

    return run


def judge_summary(report: Any) -> str:
    """One line about a finished judge run (a ``JudgeReport``)."""
    text = (
        f"{report.judged} sample(s) judged with {report.model}, "
        f"{report.already_judged} scored before"
    )
    if report.failed:
        text += f", {report.failed} failed (see `medsynth rejects`; a new run tries them again)"
    return text


class ReviewScreen(MedScreen):
    """The queue form and the judge job on the left; the sample, its scores and note right."""

    MODE = "review"
    TITLE = "Review"
    CSS_PATH = "review.tcss"
    HELP = """Review synthesised samples one at a time. Type your name in **Reviewer** (every
review stores who made it and when), pick how the queue is drawn (random, lowest judge score
first, per generator; a generator; its size; unreviewed samples only) and build it (**ctrl+r**).

On a sample: **1**-**5** score the highlighted criterion (accuracy, relevance, completeness,
usefulness) and move to the next one; **c** / **←** **→** pick another criterion, **0** clears
its score. **n** goes to the note (enter comes back). **a** accepts and **r** rejects: the
verdict is saved with the scores and the note, and the next sample follows. **j** or enter
goes to the next sample, **k** back; scores or a note changed without a verdict are saved when
you move on. Exports leave rejected samples out.

**Judge** (ctrl+g) scores the samples on the same rubric with the verifier model, as
`medsynth judge` does; a cancel (ctrl+x) keeps what was scored, and the queue is built again
when the job ends."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "verdict('accept')", "accept"),
        Binding("r", "verdict('reject')", "reject"),
        *[Binding(str(n), f"score({n})", f"score {n}", show=False) for n in range(1, 6)],
        Binding("0", "score(0)", "clear score", show=False),
        Binding("c,right", "criterion(1)", "criterion"),
        Binding("left", "criterion(-1)", "previous criterion", show=False),
        Binding("n", "focus_note", "note"),
        Binding("escape", "focus_card", "back to the sample", show=False),
        Binding("j,enter", "step(1)", "next"),
        Binding("k", "step(-1)", "previous"),
        Binding("ctrl+r", "build", "build queue"),
        Binding("ctrl+g", "judge", "judge"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[int] = []
        self.settings: QueueSettings | None = None  # how the queue was built
        self.index = 0
        self.view: SampleView | None = None
        self.criterion = 0  # index into CRITERIA
        self.draft: dict[str, int] = {}
        self.loaded: tuple[dict[str, int], str, str | None] = (
            {},
            "",
            None,
        )  # scores, note, verdict
        self.saved: dict[int, str | None] = {}  # sample id -> verdict saved from this queue
        self.judge_models: Any = None  # the judge's models (None: the workspace's verifier)
        self.ended = 0  # judge jobs whose end this screen has handled (tests wait on it)

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="review-main"):
            with Vertical(id="review-side"):
                yield QueueForm(id="review-form")
                yield JobPanel(self.root, "samples", id="review-job")
            with Vertical(id="review-right"):
                yield Static("no queue yet", id="review-status", markup=False)
                with Horizontal(id="review-top"):
                    yield ImageView(id="review-image")
                    yield ReviewCard(id="review-card")
                yield ScoreBar("", id="review-scores")
                yield Input(placeholder="note (n); enter returns to the sample", id="review-note")

    @property
    def form(self) -> QueueForm:
        """The reviewer and queue form."""
        return self.query_one(QueueForm)

    @property
    def panel(self) -> JobPanel:
        """The judge's job panel."""
        return self.query_one("#review-job", JobPanel)

    @property
    def card(self) -> ReviewCard:
        """The sample card."""
        return self.query_one(ReviewCard)

    @property
    def note(self) -> Input:
        """The note field."""
        return self.query_one("#review-note", Input)

    def on_mount(self) -> None:
        self.action_build()
        self.card.focus()

    def on_screen_resume(self) -> None:
        if not self.queue:  # samples may have been made since
            self.action_build()
        elif self.view is not None and not self.changed:
            self._load(self.queue[self.index])

    # --- queue -------------------------------------------------------------------------------

    def action_build(self) -> None:
        """Draw a new queue with the form's settings and show its first sample."""
        try:
            settings = self.form.settings()
        except FormError as exc:
            self.notify(str(exc), title="cannot build the queue", severity="error")
            return
        self.settings = settings
        self.queue = queue(
            self.ws.db,
            order=cast(Order, settings.order),
            generator=settings.generator,
            limit=settings.limit,
            reviewer=self.form.reviewer or None,
            unreviewed_only=settings.unreviewed_only,
        )
        self.index = 0
        self.saved = {}
        if self.queue:
            self._load(self.queue[0])
        else:
            self._clear()

    def _clear(self) -> None:
        self.view = None
        self.draft, self.loaded = {}, ({}, "", None)
        self.note.value = ""
        self.query_one(ImageView).show(None, "no image")
        what = (
            "unreviewed samples" if self.settings and self.settings.unreviewed_only else "samples"
        )
        self.card.show(
            None,
            f"no {what} to review here: synthesise some (F5), change the queue's settings "
            "or untick 'unreviewed only', then build the queue again (ctrl+r)",
        )
        self._show_scores()
        self._show_status()

    def _load(self, sample_id: int) -> None:
        """Show one sample; the draft starts from this reviewer's latest review of it."""
        try:
            view = sample_view(self.ws.db, sample_id)
        except InputError as exc:  # removed since the queue was built
            self._clear()
            self.card.show(None, f"{exc}\n\nbuild the queue again (ctrl+r)")
            return
        self.view = view
        self.criterion = 0
        reviewer = self.form.reviewer
        own = [r for r in view.reviews if r.reviewer == reviewer]
        last = own[-1] if own else None
        self.loaded = (dict(last.scores), last.note, last.verdict) if last else ({}, "", None)
        self.draft = dict(self.loaded[0])
        self.note.value = self.loaded[1]
        image = view.images[0] if view.images else None
        self.query_one(ImageView).show(image, f"record {view.record_id}" if image else "no image")
        self.card.show(view)
        self._show_scores()
        self._show_status()

    @property
    def changed(self) -> bool:
        """True when the draft scores or the note differ from what was loaded."""
        return self.draft != self.loaded[0] or self.note.value.strip() != self.loaded[1]

    def _show_scores(self) -> None:
        self.query_one(ScoreBar).show(self.draft, self.criterion, self.loaded[2])

    def _show_status(self) -> None:
        status = self.query_one("#review-status", Static)
        if not self.queue:
            status.update("no samples in the queue")
            return
        total = len(self.queue)
        verdicts = [self.saved[i] for i in self.queue if i in self.saved]
        accepted = verdicts.count("accept")
        rejected = verdicts.count("reject")
        where = f"sample {self.index + 1} of {total}"
        if self.view is not None:
            where += f" (#{self.view.id}, {self.view.generator})"
        status.update(
            f"{where} · {len(verdicts)} / {total} reviewed, {accepted} accepted, "
            f"{rejected} rejected"
        )

    # --- reviewing ---------------------------------------------------------------------------

    def _save(self, verdict: str | None) -> bool:
        """Store the draft as a review by the named reviewer; False (and a notification) when
        there is no sample or no reviewer name."""
        if self.view is None:
            self.notify("no sample to review: build a queue (ctrl+r)", severity="warning")
            return False
        try:
            reviewer = require_reviewer(self.form.reviewer)
        except FormError as exc:
            self.notify(str(exc), title="review not saved", severity="error")
            self.query_one("#review-name", Input).focus()
            return False
        note = self.note.value.strip()
        try:
            save_review(self.ws.db, self.view.id, reviewer, verdict, dict(self.draft), note)
        except InputError as exc:  # an empty review, a sample gone since the queue was built
            self.notify(str(exc), title="review not saved", severity="error")
            return False
        self.saved[self.view.id] = verdict
        self.loaded = (dict(self.draft), note, verdict)
        self._show_scores()
        self._show_status()
        return True

    def action_verdict(self, verdict: str) -> None:
        """Save the verdict with the scores and note, then go to the next sample."""
        if self._save(verdict):
            self._move(1)
            self.card.focus()

    def action_step(self, delta: int) -> None:
        """Go ``delta`` samples on; unsaved scores or a note are saved first (no new verdict)."""
        if self.view is not None and self.changed:
            if not self._save(self.loaded[2]):
                return
            self.notify("scores and note saved", timeout=2)
        self._move(delta)

    def _move(self, delta: int) -> None:
        target = self.index + delta
        if not self.queue:
            self.notify("the queue is empty: build one (ctrl+r)", severity="warning", timeout=3)
        elif target >= len(self.queue):
            self._show_status()
            self.notify(
                f"end of the queue: {self.query_one('#review-status', Static).content}; "
                "build a new one with ctrl+r",
                title="queue done",
                timeout=6,
            )
        elif target < 0:
            self.notify("this is the first sample of the queue", timeout=2)
        else:
            self.index = target
            self._load(self.queue[target])

    def action_score(self, value: int) -> None:
        """Score the selected criterion (0 clears it) and select the next criterion."""
        if self.view is None:
            self.notify("no sample to score: build a queue (ctrl+r)", severity="warning")
            return
        name = CRITERIA[self.criterion]
        if value:
            self.draft[name] = value
            self.criterion = (self.criterion + 1) % len(CRITERIA)
        else:
            self.draft.pop(name, None)
        self._show_scores()

    def action_criterion(self, delta: int) -> None:
        """Select another criterion for the digit keys."""
        self.criterion = (self.criterion + delta) % len(CRITERIA)
        self._show_scores()

    def action_focus_note(self) -> None:
        """Type a note for this sample."""
        self.note.focus()

    def action_focus_card(self) -> None:
        """Back to the sample (the review keys work there)."""
        self.card.focus()

    @on(Input.Submitted, "#review-note")
    @on(Input.Submitted, "#review-name")
    def _back_to_card(self, event: Input.Submitted) -> None:
        event.stop()
        self.card.focus()

    @on(Input.Submitted, "#review-size")
    def _size_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_build()
        self.card.focus()

    # --- the judge ---------------------------------------------------------------------------

    def action_judge(self) -> None:
        """Run the rubric judge as a job (on the chosen generator, or all)."""
        generator = self.form.generator
        generators = [generator] if generator else None
        self.panel.start("judge", judge_job(generators, self.judge_models), unit="samples")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "review-build":
            event.stop()
            self.action_build()
        elif event.button.id == "review-judge":
            event.stop()
            self.action_judge()

    def on_job_panel_finished(self, message: JobPanel.Finished) -> None:
        self.ended += 1
        self._after_judge()
        self.notify(judge_summary(message.result), title="judge done", timeout=8)
        for warning in getattr(message.result, "warnings", []):
            self.notify(warning, title="judge", severity="warning", timeout=15)

    def on_job_panel_stopped(self, message: JobPanel.Stopped) -> None:
        self.ended += 1
        self._after_judge()

    def on_job_panel_failed(self, message: JobPanel.Failed) -> None:
        self.ended += 1

    def _after_judge(self) -> None:
        """New judge scores: build the queue again (its order may depend on them)."""
        if self.view is not None and self.changed:  # keep a draft the reviewer is writing
            self.notify(
                "judge scores stored: save this sample, then rebuild the queue (ctrl+r)",
                timeout=6,
            )
            return
        self.action_build()
