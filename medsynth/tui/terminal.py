"""What the terminal can draw, asked before the app starts (textual-image's queries).

textual-image asks the terminal for Sixel and Kitty graphics support when it is imported, and
waits up to 0.1 s for each answer (a terminal that does not answer one costs the whole wait);
this is impossible once Textual owns the terminal. This module imports no Textual, so that
``medsynth tui`` can ask on a thread while it imports Textual and builds the app.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

ENV = "MEDSYNTH_TUI_IMAGES"


def preload() -> None:
    """Import textual-image before the app starts (it asks the terminal what it can draw, which
    is impossible once Textual owns the terminal); skipped in text mode."""
    if os.environ.get(ENV, "auto") != "text":
        try:
            import textual_image.widget  # noqa: F401
        except Exception:  # a terminal that does not answer: fall back to text
            os.environ[ENV] = "text"


def preload_in_background() -> Callable[[], None]:
    """Start asking the terminal on a thread; returns the function that waits for the answers
    and then does :func:`preload` (call it before Textual starts, also when building the app
    failed: the thread holds the terminal in its answer mode until it ends).

    The thread imports only Pillow and textual-image's renderables (the modules that ask); the
    Rich modules they share with Textual are imported here first, so the caller's imports and
    the thread's never wait on each other's."""
    if os.environ.get(ENV, "auto") == "text":
        return lambda: None
    import rich.console  # what textual-image's renderables share with Textual
    import rich.control
    import rich.measure  # noqa: F401

    thread = threading.Thread(target=_ask_terminal, name="medsynth-terminal-query", daemon=True)
    thread.start()

    def finish() -> None:
        thread.join()
        preload()

    return finish


def _ask_terminal() -> None:
    try:
        import textual_image.renderable  # noqa: F401  (asks for Sixel, then Kitty graphics)
    except Exception:  # a terminal that does not answer: fall back to text
        os.environ[ENV] = "text"
