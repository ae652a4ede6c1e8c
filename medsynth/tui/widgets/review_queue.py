"""The Review screen's side form: who reviews, and how the queue is drawn (order, generator,
size, unreviewed only). It reads its fields into a :class:`QueueSettings` or raises
:class:`FormError` naming the field and the fix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select

from medsynth.tui.widgets.form import FormError, whole_number
from medsynth.tui.widgets.synth_form import GENERATORS

ORDERS = (
    ("random", "random"),
    ("lowest judge score first", "lowest"),
    ("per generator", "generator"),
)
ALL = "*all*"  # the generator Select's value for every generator
DEFAULT_SIZE = 50


@dataclass(frozen=True)
class QueueSettings:
    """What building a queue passes to ``medsynth.review.data.queue``."""

    order: str
    generator: str | None
    limit: int
    unreviewed_only: bool


def default_reviewer() -> str:
    """The login name, as a first guess at the reviewer (the field stays editable)."""
    return os.environ.get("USER") or os.environ.get("USERNAME") or ""


def _field(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


class QueueForm(Vertical):
    """Reviewer name, queue order, generator filter, size, unreviewed only; the two buttons."""

    def compose(self) -> ComposeResult:
        yield Label("Reviewer", classes="section")
        yield Input(
            default_reviewer(), placeholder="your name (required)", id="review-name", compact=True
        )
        yield Label("Queue", classes="section")
        yield _field(
            "order",
            Select(ORDERS, value="random", allow_blank=False, id="review-order", compact=True),
        )
        generators = [("all generators", ALL), *((g, g) for g in GENERATORS)]
        yield _field(
            "generator",
            Select(generators, value=ALL, allow_blank=False, id="review-generator", compact=True),
        )
        yield _field(
            "size", Input(str(DEFAULT_SIZE), id="review-size", type="integer", compact=True)
        )
        yield Checkbox("unreviewed only", True, id="review-unreviewed", compact=True)
        yield Button("Build queue (ctrl+r)", id="review-build", variant="primary", compact=True)
        yield Button("Judge (ctrl+g)", id="review-judge", compact=True)

    @property
    def reviewer(self) -> str:
        """The reviewer's name as typed, trimmed ('' when none)."""
        return self.query_one("#review-name", Input).value.strip()

    @property
    def generator(self) -> str | None:
        """The chosen generator (None: all)."""
        value = self.query_one("#review-generator", Select).value
        return None if value == ALL or not isinstance(value, str) else value

    def settings(self) -> QueueSettings:
        """The queue fields, checked (raises :class:`FormError`)."""
        size = whole_number(self.query_one("#review-size", Input).value, "queue size", minimum=1)
        order = self.query_one("#review-order", Select).value
        return QueueSettings(
            order=str(order),
            generator=self.generator,
            limit=int(size or DEFAULT_SIZE),
            unreviewed_only=self.query_one("#review-unreviewed", Checkbox).value,
        )


def require_reviewer(name: str) -> str:
    """``name``, or a :class:`FormError` saying a review needs one.

    >>> require_reviewer(" dr. lee ")
    'dr. lee'
    """
    name = name.strip()
    if not name:
        raise FormError(
            "no reviewer name",
            source="reviewer",
            hint="type your name in the Reviewer field: every review records who made it",
        )
    return name
