"""An image in the terminal (textual-image: Sixel / Kitty graphics where the terminal has them,
coloured half cells otherwise), with a caption and a text fallback.

Images are decoded with MedSynth's own checked reader (size limit, broken files refused), never
by path alone; ``MEDSYNTH_TUI_IMAGES=text`` shows only the caption and size (slow links, or a
terminal that garbles graphics).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

ENV = "MEDSYNTH_TUI_IMAGES"


def preload() -> None:
    """Import textual-image before the app starts (it asks the terminal what it can draw, which
    is impossible once Textual owns the terminal); skipped in text mode."""
    if os.environ.get(ENV, "auto") != "text":
        try:
            import textual_image.widget  # noqa: F401
        except Exception:  # a terminal that does not answer: fall back to text
            os.environ[ENV] = "text"


class ImageView(Vertical):
    """One image (or a text line saying why there is none) over a caption."""

    DEFAULT_CLASSES = "image-view"

    def __init__(self, *, id: str | None = None, max_pixels: int = 40_000_000) -> None:
        super().__init__(id=id)
        self.max_pixels = max_pixels
        self.path: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static("no image", classes="image-caption")

    def show(self, path: Path | None, caption: str = "") -> None:
        """Show the image at ``path`` (None clears the view)."""
        self.path = path
        for old in self.query(".image-pixels"):
            old.remove()
        label = self.query_one(".image-caption", Static)
        if path is None:
            label.update(caption or "no image")
            return
        try:
            from medsynth.kg.images import open_image

            image = open_image(path, self.max_pixels)
        except Exception as exc:  # unreadable, too large, missing: say so, keep going
            label.update(f"{path.name}: cannot show ({exc})".splitlines()[0])
            return
        text = f"{path.name} {image.width}×{image.height} {image.mode}"
        label.update(f"{caption}  {text}" if caption else text)
        if os.environ.get(ENV, "auto") == "text":
            return
        widget = _image_widget(image)
        if widget is not None:
            self.mount(widget, before=label)


def _image_widget(image: Any) -> Any:
    try:
        from textual_image.widget import Image
    except Exception:
        return None
    return Image(image.convert("RGB"), classes="image-pixels")
