"""The Synthesize screen's two forms: the run settings and the export settings.

Each form reads its fields into a small frozen value (``SynthSettings``, ``ExportSettings``) or
raises :class:`FormError` naming the field and the fix; the screen turns that into a
notification. Defaults come from ``ws.config.synth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select

from medsynth.config import SynthConfig
from medsynth.tui.widgets.form import FormError, whole_number

# medsynth.synth.model.GENERATORS and medsynth.export.FORMATS, copied so that opening the
# screen does not import the synthesis and export code (numpy, PIL); a test keeps them equal.
GENERATORS = ("multihop", "hardneg", "keyanswer", "describe", "instruct", "reasoning")
FORMATS = ("llava", "sharegpt", "trl-sft", "trl-grpo")
ALL = "*all*"  # the dataset Select's value for every dataset


@dataclass(frozen=True)
class SynthSettings:
    """What the Run action passes to ``synthesize``."""

    generators: list[str]
    dataset: str | None
    limit: int | None
    options: SynthConfig


@dataclass(frozen=True)
class ExportSettings:
    """What the Export action passes to ``export_samples``."""

    fmt: str
    out: Path
    split_eval: float | None
    include_contaminated: bool
    replace: bool


def _field(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


class SynthForm(VerticalScroll):
    """Generators, dataset, limit, seed, multihop k, negatives m and mode, concurrency."""

    def __init__(self, config: SynthConfig, datasets: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config = config
        self.datasets = datasets

    def compose(self) -> ComposeResult:
        c = self.config
        yield Label("Generators", classes="section")
        for name in GENERATORS:
            yield Checkbox(name, True, id=f"gen-{name}", compact=True)
        yield Label("Settings", classes="section")
        datasets = [("all datasets", ALL), *((name, name) for name in self.datasets)]
        yield _field(
            "dataset",
            Select(datasets, value=ALL, allow_blank=False, id="synth-dataset", compact=True),
        )
        yield _field(
            "limit",
            Input(placeholder="all records", id="synth-limit", type="integer", compact=True),
        )
        yield _field("seed", Input(str(c.seed), id="synth-seed", type="integer", compact=True))
        yield _field(
            "multihop k",
            Input(str(c.multihop_per_record), id="synth-k", type="integer", compact=True),
        )
        yield _field(
            "negatives m", Input(str(c.negatives), id="synth-m", type="integer", compact=True)
        )
        modes = [("similar", "similar"), ("random", "random")]
        yield _field(
            "neg. mode",
            Select(modes, value=c.negatives_mode, allow_blank=False, id="synth-mode", compact=True),
        )
        yield _field(
            "concurrency",
            Input(str(c.concurrency), id="synth-concurrency", type="integer", compact=True),
        )
        yield Button("Run (ctrl+r)", id="synth-run", variant="primary", compact=True)

    def settings(self) -> SynthSettings:
        """The form's values, checked (raises :class:`FormError`)."""
        generators = [g for g in GENERATORS if self.query_one(f"#gen-{g}", Checkbox).value]
        if not generators:
            raise FormError("no generator chosen", source="generators", hint="tick at least one")
        dataset = self.query_one("#synth-dataset", Select).value
        value = {
            i: self.query_one(f"#synth-{i}", Input).value
            for i in ("limit", "seed", "k", "m", "concurrency")
        }
        updates = {
            "seed": whole_number(value["seed"], "seed"),
            "multihop_per_record": whole_number(value["k"], "multihop k", minimum=1),
            "negatives": whole_number(value["m"], "negatives m"),
            "negatives_mode": self.query_one("#synth-mode", Select).value,
            "concurrency": whole_number(value["concurrency"], "concurrency", minimum=1),
        }
        try:
            options = self.config.model_validate(self.config.model_dump() | updates)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise FormError(
                first["msg"], source=where, hint="correct the value in the form"
            ) from None
        return SynthSettings(
            generators=generators,
            dataset=None if dataset == ALL else str(dataset),
            limit=whole_number(
                value["limit"], "limit", minimum=1, empty_ok=True, empty_hint=" (or leave it empty)"
            ),
            options=options,
        )


class ExportForm(VerticalScroll):
    """Format, output folder, eval split, contaminated samples, replace an earlier export."""

    def __init__(self, root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.root = root

    def default_out(self, fmt: str) -> str:
        """``<workspace>/exports/tui-<format>``."""
        return str(self.root / "exports" / f"tui-{fmt}")

    def compose(self) -> ComposeResult:
        yield Label("Export", classes="section")
        formats = [(f, f) for f in FORMATS]
        yield _field(
            "format",
            Select(formats, value="trl-sft", allow_blank=False, id="export-format", compact=True),
        )
        yield Label("output folder", classes="field-title")
        yield Input(self.default_out("trl-sft"), id="export-out", compact=True)
        yield _field(
            "eval split",
            Input(placeholder="none (0-1)", id="export-split", type="number", compact=True),
        )
        yield Checkbox("include contaminated", False, id="export-contaminated", compact=True)
        yield Checkbox("replace an earlier export", True, id="export-replace", compact=True)
        yield Button("Export (ctrl+o)", id="export-run", variant="success", compact=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "export-format":
            return
        out = self.query_one("#export-out", Input)
        if out.value in {self.default_out(f) for f in FORMATS}:
            out.value = self.default_out(str(event.value))

    def settings(self) -> ExportSettings:
        """The form's values, checked (raises :class:`FormError`)."""
        fmt = str(self.query_one("#export-format", Select).value)
        out_text = self.query_one("#export-out", Input).value.strip()
        if not out_text:
            raise FormError("no output folder", source="output folder", hint="enter a folder path")
        split_text = self.query_one("#export-split", Input).value.strip()
        split: float | None = None
        if split_text:
            try:
                split = float(split_text)
            except ValueError:
                split = -1.0
            if not 0.0 < split < 1.0:
                raise FormError(
                    f"{split_text} is not a fraction between 0 and 1",
                    source="eval split",
                    hint="enter e.g. 0.1, or leave it empty for no split",
                )
        out = Path(out_text).expanduser()
        return ExportSettings(
            fmt=fmt,
            out=out if out.is_absolute() else self.root / out,
            split_eval=split,
            include_contaminated=self.query_one("#export-contaminated", Checkbox).value,
            replace=self.query_one("#export-replace", Checkbox).value,
        )
