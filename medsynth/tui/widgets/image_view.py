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

from medsynth.tui.terminal import ENV, preload

__all__ = ["ENV", "ImageView", "preload"]


class ImageView(Vertical):
    """One image (or a text line saying why there is none) over a caption."""

    DEFAULT_CLASSES = "image-view"

    def __init__(self, *, id: str | None = None, max_pixels: int = 40_000_000) -> None:
        super().__init__(id=id)
        self.max_pixels = max_pixels
        self.path: Path | None = None
        self.described = ""

    def compose(self) -> ComposeResult:
        yield Static("no image", classes="image-caption")

    def show(self, path: Path | None, caption: str = "") -> None:
        """Show the image at ``path`` (None clears the view); the same image again only
        changes the caption (decoding and drawing it again would cost the event loop)."""
        label = self.query_one(".image-caption", Static)
        if path is not None and path == self.path and self.query_children(".image-pixels"):
            label.update(f"{caption}  {self.described}" if caption else self.described)
            return
        self.path = path
        for old in self.query_children(".image-pixels"):
            old.remove()
        if path is None:
            label.update(caption or "no image")
            return
        try:
            from medsynth.files import open_image

            image = open_image(path, self.max_pixels)
        except Exception as exc:  # unreadable, too large, missing: say so, keep going
            label.update(f"{path.name}: cannot show ({exc})".splitlines()[0])
            return
        text = self.described = f"{path.name} {image.width}×{image.height} {image.mode}"
        label.update(f"{caption}  {text}" if caption else text)
        if os.environ.get(ENV, "auto") == "text":
            return
        widget = _image_widget(image)
        if widget is not None:
            self.mount(widget, before=label)


CELL_PIXELS = 2  # half cells: two pixel rows per character (Sixel / Kitty get more)
MAX_CELLS = 48  # the widest an image is drawn (its width is set in the screens' .tcss)


def _image_widget(image: Any) -> Any:
    try:
        from textual_image.renderable import HalfcellImage, UnicodeImage
        from textual_image.widget import Image
    except Exception:
        return None
    rgb = image.convert("RGB")
    # textual-image scales the picture on every repaint: hand it no more pixels than the
    # terminal can show, so a repaint of the screen stays cheap (a 384x384 slice cost ~50 ms)
    text_only = getattr(Image, "_Renderable", None) in (HalfcellImage, UnicodeImage)
    limit = MAX_CELLS * CELL_PIXELS if text_only else 512
    rgb.thumbnail((limit, limit))
    return Image(rgb, classes="image-pixels")
