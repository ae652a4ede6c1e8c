"""The Review screen: a queue of samples, accept / reject / scores / a note stored with the
reviewer's name and time, the queue orders, exports that honour reviews, and the judge as a job
(scripted model) that keeps its scores when cancelled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.review.data import CRITERIA, judge_scores, review_history, save_judgement
from medsynth.tui.app import MedSynthApp
from medsynth.tui.screens.help import HelpScreen
from medsynth.tui.screens.review import ReviewScreen
from medsynth.tui.widgets.image_view import ImageView
from medsynth.tui.widgets.review_card import ScoreBar
from tests.tui.conftest import REVIEW_SAMPLES, SIZE, wait_for

REVIEWER = "Dr. Ada Test"


async def open_review(
    app: MedSynthApp, pilot: Pilot[None], reviewer: str = REVIEWER
) -> ReviewScreen:
    """F9, the reviewer's name typed, the card focused (where the review keys work)."""
    await pilot.press("f9")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    screen.query_one("#review-name", Input).value = reviewer
    screen.card.focus()
    await pilot.pause()
    return screen


def text_of(screen: ReviewScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def kept_ids(app: MedSynthApp) -> list[int]:
    return [
        r[0] for r in app.ws.db.execute("SELECT id FROM samples WHERE status = 'kept' ORDER BY id")
    ]


async def test_the_screen_shows_one_sample_in_full(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        assert app.current_mode == "review"
        assert sorted(screen.queue) == kept_ids(app) and len(screen.queue) == len(REVIEW_SAMPLES)
        assert screen.view is not None and screen.view.id == screen.queue[0]
        status = text_of(screen, "#review-status")
        assert f"sample 1 of {len(REVIEW_SAMPLES)}" in status
        assert f"0 / {len(REVIEW_SAMPLES)} reviewed, 0 accepted" in status

        row = app.ws.db.execute(
            "SELECT s.question, s.answer, s.key_answer, s.images, r.context, s.model "
            "FROM samples s JOIN records r ON r.id = s.record_id WHERE s.id = ?",
            [screen.queue[0]],
        ).fetchone()
        card = text_of(screen, "#review-text")
        assert f"Q: {row[0]}" in card and f"A: {row[1]}" in card
        assert (f"key answer: {row[2]}" in card) == bool(row[2])
        assert " ".join(row[4].split())[:40] in " ".join(card.split())  # the record's context
        assert "Lung → Respiratory System" in card  # the KG path
        assert f"model: {row[5]}" in card and "judge: not judged yet" in card
        assert "earlier reviews (0):" in card
        image = screen.query_one("#review-image", ImageView)
        assert image.path == Path(json.loads(row[3])[0])

        # j / k step through the queue
        await pilot.press("j")
        await pilot.pause()
        assert screen.view.id == screen.queue[1]
        assert "sample 2 of" in text_of(screen, "#review-status")
        await pilot.press("k")
        await pilot.pause()
        assert screen.view.id == screen.queue[0]


async def test_accept_reject_scores_and_a_note_are_stored(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        first, second = screen.queue[:2]

        # 4 and 5 score accuracy and relevance in turn; c skips completeness; 3 scores usefulness
        await pilot.press("4", "5", "c", "3")
        assert screen.draft == {"accuracy": 4, "relevance": 5, "usefulness": 3}
        bar = str(screen.query_one(ScoreBar).render())
        assert "accuracy [4]" in bar and "completeness [ ]" in bar and "usefulness [3]" in bar
        await pilot.press("n")
        assert app.focused is screen.note
        await pilot.press(*"fine", "space", *"answer", "enter")
        assert app.focused is screen.card  # enter in the note comes back to the sample
        await pilot.press("a")
        await pilot.pause()

        reviews = review_history(app.ws.db, first)
        assert len(reviews) == 1
        review = reviews[0]
        assert review.verdict == "accept" and review.reviewer == REVIEWER
        assert review.scores == {"accuracy": 4, "relevance": 5, "usefulness": 3}
        assert review.note == "fine answer" and review.source == "tui"
        assert review.created_at[:4].isdigit() and "T" in review.created_at
        assert screen.view is not None and screen.view.id == second  # moved on
        assert screen.draft == {} and screen.note.value == ""

        await pilot.press("2", "r")
        await pilot.pause()
        rejected = review_history(app.ws.db, second)
        assert [(r.verdict, r.scores) for r in rejected] == [("reject", {"accuracy": 2})]
        status = text_of(screen, "#review-status")
        assert f"2 / {len(screen.queue)} reviewed, 1 accepted, 1 rejected" in status

        # back to the accepted sample: its review is shown and loaded for editing
        await pilot.press("k", "k")
        await pilot.pause()
        assert screen.view.id == first
        assert screen.draft == review.scores and screen.note.value == "fine answer"
        assert f"{REVIEWER}: accept" in text_of(screen, "#review-text")

        # a rebuilt queue of unreviewed samples leaves both out
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert first not in screen.queue and second not in screen.queue
        assert len(screen.queue) == len(REVIEW_SAMPLES) - 2


async def test_no_reviewer_name_no_review(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot, reviewer="  ")
        shown = screen.view.id if screen.view else None
        await pilot.press("a")
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "no reviewer name" in errors[-1].message
        assert "Reviewer field" in errors[-1].message
        assert app.focused is screen.query_one("#review-name", Input)
        assert app.ws.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0
        assert screen.view is not None and screen.view.id == shown  # not moved on


async def test_scores_without_a_verdict_are_kept_when_moving_on(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        first = screen.queue[0]
        await pilot.press("right", "right", "right", "1")  # usefulness 1; accuracy is next
        assert screen.draft == {"usefulness": 1} and screen.criterion == 0
        await pilot.press("left", "0")  # back to usefulness, cleared
        assert screen.draft == {} and screen.criterion == CRITERIA.index("usefulness")
        await pilot.press("left", "5", "n", *"blurry", "escape")  # completeness 5, a note
        assert app.focused is screen.card  # escape leaves the note
        await pilot.press("j")  # next sample
        await pilot.pause()
        reviews = review_history(app.ws.db, first)
        assert [(r.verdict, r.scores, r.note) for r in reviews] == [
            (None, {"completeness": 5}, "blurry")
        ]
        assert screen.view is not None and screen.view.id == screen.queue[1]


async def test_an_empty_queue_and_a_vanished_sample_say_what_to_do(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        gone = screen.queue[1]
        with app.ws.db.conn:
            app.ws.db.execute("DELETE FROM samples WHERE id = ?", [gone])
        await pilot.press("j")
        await pilot.pause()
        assert screen.view is None
        text = text_of(screen, "#review-text")
        assert f"no sample {gone}" in text and "ctrl+r" in text

        with app.ws.db.conn:
            app.ws.db.execute("DELETE FROM samples")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert screen.queue == [] and screen.view is None
        assert "no unreviewed samples to review" in text_of(screen, "#review-text")
        assert text_of(screen, "#review-status") == "no samples in the queue"
        await pilot.press("a")
        await pilot.pause()
        warnings = [n for n in app._notifications if n.severity == "warning"]
        assert warnings and "no sample to review" in warnings[-1].message
        assert app.ws.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def _judge_all(app: MedSynthApp, scores: dict[int, int]) -> None:
    for sample_id, score in scores.items():
        save_judgement(
            app.ws.db,
            sample_id,
            dict.fromkeys(CRITERIA, score),
            "test",
            model="fake:test",
            template="judge_rubric",
            template_version="1",
            call_id=None,
            run_id=None,
        )


async def test_queue_lowest_judge_score_first_and_per_generator(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        ids = kept_ids(app)
        scores = {sample_id: 5 - n % 5 for n, sample_id in enumerate(ids[:-1])}  # last unjudged
        _judge_all(app, scores)
        screen.query_one("#review-order", Select).value = "lowest"
        await pilot.press("ctrl+r")
        await pilot.pause()
        lowest = min(scores, key=lambda i: (scores[i], i))
        assert screen.queue[0] == lowest and screen.view is not None and screen.view.id == lowest
        means = [scores.get(i, 99) for i in screen.queue]
        assert means == sorted(means) and screen.queue[-1] == ids[-1]
        assert f"judge: accuracy {scores[lowest]}" in text_of(screen, "#review-text")

        # per generator: the first samples come from different generators; a filter keeps one
        screen.query_one("#review-order", Select).value = "generator"
        await pilot.press("ctrl+r")
        await pilot.pause()
        rows = dict(app.ws.db.execute("SELECT id, generator FROM samples").fetchall())
        assert len({rows[i] for i in screen.queue[:3]}) == 3
        screen.query_one("#review-generator", Select).value = "hardneg"
        screen.query_one("#review-size", Input).value = "1"
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert len(screen.queue) == 1 and rows[screen.queue[0]] == "hardneg"


async def test_an_export_after_a_reject_leaves_the_sample_out(review_ws: Path) -> None:
    from medsynth.export import export_samples

    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        rejected = screen.queue[0]
        await pilot.press("r")
        await pilot.pause()
        question = app.ws.db.execute(
            "SELECT question FROM samples WHERE id = ?", [rejected]
        ).fetchone()[0]
        out = review_ws / "exports" / "reviewed"
        report = export_samples(app.ws, out, "llava")
        entries = json.loads((out / "llava.json").read_text())
        asked = [e["conversations"][0]["value"] for e in entries]
        assert len(entries) == report.samples == len(REVIEW_SAMPLES) - 1
        assert not any(question in text for text in asked)
        assert report.left_out == {"rejected_by_reviewer": 1}


def _scores(messages: list[Message]) -> str:
    return json.dumps({**dict.fromkeys(CRITERIA, 4), "accuracy": 3, "rationale": "plausible"})


async def test_judge_job_stores_scores_and_a_cancel_keeps_them(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        screen.judge_models = {"verifier": ScriptedChat(_scores, latency_s=0.4)}
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.panel.job is not None, timeout=5)
        job = screen.panel.job
        await wait_for(pilot, lambda: len(judge_scores(app.ws.db)) >= 1, timeout=30)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: screen.ended == 1, timeout=30)
        assert screen.panel.state == "cancelled" and job is not None and job.cancelled
        judged = judge_scores(app.ws.db)
        assert 1 <= len(judged) < len(REVIEW_SAMPLES)
        expected = {**dict.fromkeys(CRITERIA, 4), "accuracy": 3}
        assert all(scores == expected for scores in judged.values())
        status = app.ws.db.execute(
            "SELECT status FROM runs WHERE command = 'judge' ORDER BY id DESC"
        ).fetchone()[0]
        assert status == "cancelled"

        # again, to the end: only the rest is asked; the queue is rebuilt with the new scores
        model = ScriptedChat(_scores)
        screen.judge_models = {"verifier": model}
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.ended == 2, timeout=30)
        assert screen.panel.state == "done"
        assert len(model.calls) == len(REVIEW_SAMPLES) - len(judged)
        assert set(judge_scores(app.ws.db)) == set(kept_ids(app))
        assert "judge: accuracy 3 · relevance 4" in text_of(screen, "#review-text")
        done = [n for n in app._notifications if n.title == "judge done"]
        assert (
            done and f"{len(model.calls)} sample(s) judged with fake:scripted" in done[-1].message
        )


async def test_help_lists_the_review_keys(review_ws: Path) -> None:
    app = MedSynthApp(review_ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(app, pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("Markdown").source  # type: ignore[attr-defined]
        for key, what in (("a", "accept"), ("r", "reject"), ("n", "note"), ("ctrl+g", "judge")):
            assert f"| {key} | {what} |" in text
        assert "F9 | go to Review" in text and "score 5" in text


def test_review_screen_snapshot(snap_compare: Any, review_ws: Path) -> None:
    from tests.tui import test_snapshots as snapshots

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, MedSynthApp)
        await open_review(app, pilot)
        await pilot.press("4", "5")
        await snapshots.steady(pilot)

    assert snap_compare(MedSynthApp(review_ws), terminal_size=SIZE, run_before=run_before)
