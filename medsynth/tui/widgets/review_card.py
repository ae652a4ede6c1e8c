"""The Review screen's sample card (everything a clinician needs to judge one sample) and its
score bar (the four rubric criteria, the one that digit keys score highlighted).

Both only render a :class:`~medsynth.review.data.SampleView` and the draft scores the screen
holds; reading and writing the workspace is the screen's job, through ``medsynth.review.data``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from medsynth.review.data import CRITERIA, Review, SampleView

PROVENANCE_VALUE = 300  # characters of one provenance value shown (meta can be long)


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= PROVENANCE_VALUE else text[: PROVENANCE_VALUE - 1] + "…"


def scores_text(scores: dict[str, int]) -> str:
    """``accuracy 4 · relevance 5 · …`` in rubric order (criteria without a score left out).

    >>> scores_text({"relevance": 5, "accuracy": 4})
    'accuracy 4 · relevance 5'
    """
    return " · ".join(f"{c} {scores[c]}" for c in CRITERIA if c in scores)


def review_line(review: Review) -> str:
    """One earlier review: when, who, verdict, scores, note."""
    when = review.created_at[:19].replace("T", " ")
    parts = [f"{when}  {review.reviewer}: {review.verdict or 'no verdict'}"]
    if review.scores:
        parts.append(scores_text(review.scores))
    if review.source and review.source != "tui":
        parts.append(f"({review.source})")
    line = " · ".join(parts)
    return line + (f"\n      note: {review.note}" if review.note else "")


def describe_view(view: SampleView) -> str:
    """The sample in full, as plain text: content, record context, KG path, provenance, the
    judge's scores and the earlier reviews."""
    lines = [
        f"#{view.id}  record {view.record_id}  {view.generator}/{view.sample_type}  {view.status}",
        "",
        f"Q: {view.question or ''}",
        "",
        f"A: {view.answer or ''}",
    ]
    if view.key_answer:
        lines.append(f"key answer: {view.key_answer}")
    lines += ["", "record context:", f"  {view.context.strip() or '(none)'}"]
    path = view.path or (" → ".join(view.path_entities) if view.path_entities else "")
    if "\n" in path:
        lines += ["", "KG path:", *(f"  {line}" for line in path.splitlines())]
    else:
        lines += ["", "KG path: " + (path or "(none)")]
    if view.path_entities and view.path:
        lines.append("path entities: " + " → ".join(view.path_entities))
    lines += ["", "provenance:"]
    lines += [f"  {key}: {_value(value)}" for key, value in view.provenance.items()] or ["  -"]
    lines += ["", "judge: " + (scores_text(view.judge) or "not judged yet (ctrl+g runs it)")]
    if view.judge and view.judge_rationale:
        lines.append(f"  why: {view.judge_rationale}")
    lines += ["", f"earlier reviews ({len(view.reviews)}):"]
    lines += [f"  {review_line(r)}" for r in view.reviews] or ["  none"]
    lines += [f"warning: {w}" for w in view.warnings]
    return "\n".join(lines)


class ReviewCard(VerticalScroll):
    """The sample's text; focusable so that the review keys reach the screen. Up/down and the
    page keys scroll it; left/right are left to the screen (they pick the criterion)."""

    inherit_bindings = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_up", "scroll up", show=False),
        Binding("down", "scroll_down", "scroll down", show=False),
        Binding("pageup", "page_up", "page up", show=False),
        Binding("pagedown", "page_down", "page down", show=False),
        Binding("home", "scroll_home", "top", show=False),
        Binding("end", "scroll_end", "bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)

    def compose(self) -> Any:
        yield Static("no sample: build a queue (ctrl+r)", id="review-text", markup=False)

    def show(self, view: SampleView | None, empty: str = "") -> None:
        """Show ``view`` (None: the ``empty`` line) from the top."""
        text = describe_view(view) if view is not None else empty
        self.query_one("#review-text", Static).update(text)
        self.scroll_home(animate=False)


class ScoreBar(Static):
    """``accuracy [4]  relevance [ ]  …``: the draft scores, the selected criterion marked."""

    def show(self, scores: dict[str, int], selected: int, verdict: str | None = None) -> None:
        """Draw the bar for these draft scores and selected criterion index."""
        text = Text()
        for i, name in enumerate(CRITERIA):
            value = str(scores[name]) if name in scores else " "
            style = "reverse bold" if i == selected else ""
            text.append(f" {name} [{value}] ", style=style)
            text.append(" ")
        if verdict:
            colour = "green" if verdict == "accept" else "red"
            text.append(f"  saved: {verdict}", style=colour)
        self.update(text)
