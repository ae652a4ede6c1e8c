"""What the TUI's forms share: the error a bad field raises, and number fields."""

from __future__ import annotations

from medsynth.errors import MedsynthError


class FormError(MedsynthError):
    """A form field holds a value that cannot be used."""


def number(
    text: str,
    name: str,
    *,
    minimum: float = 0,
    integer: bool = True,
    empty_ok: bool = True,
    empty_hint: str = "",
) -> float | int | None:
    """The field's number (None when empty and ``empty_ok``); a :class:`FormError` naming the
    field and the fix otherwise. ``empty_hint`` ends the hint when an empty field is allowed.

    >>> number(" 3 ", "k", minimum=1), number("", "limit"), number("0.5", "lr", integer=False)
    (3, None, 0.5)
    >>> number("x", "k", minimum=1)
    Traceback (most recent call last):
    medsynth.tui.widgets.form.FormError: k: x is not a whole number ≥ 1
      fix: enter a whole number of at least 1
    """
    text = text.strip()
    if not text and empty_ok:
        return None
    try:
        value: float | int = int(text) if integer else float(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        kind = "a whole number" if integer else "a number"
        raise FormError(
            f"{text or '(empty)'} is not {kind} ≥ {minimum:g}",
            source=name,
            hint=f"enter {kind} of at least {minimum:g}" + (empty_hint if empty_ok else ""),
        )
    return value


def whole_number(
    text: str, name: str, *, minimum: int = 0, empty_ok: bool = False, empty_hint: str = ""
) -> int | None:
    """:func:`number` for whole numbers."""
    value = number(text, name, minimum=minimum, empty_ok=empty_ok, empty_hint=empty_hint)
    return None if value is None else int(value)
