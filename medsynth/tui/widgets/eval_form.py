"""The Evaluate screen's form: dataset, path, model spec, split, language, answer type, limit,
name, image ablation, closed questions as choices; read into :class:`EvalSettings` (the job
turns it into an ``EvalRequest``, so opening the screen does not import the evaluation code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Select

from medsynth.tui.widgets.form import FormError

SPLITS = {
    "slake": ("test", "validate", "train"),
    "vqa-rad": ("test", "train"),
    "pathvqa": ("test", "validation", "train"),
    "pmc-vqa": ("test", "train"),
    "omnimedvqa": ("test",),
}
DATASETS = [("SLAKE", "slake"), ("VQA-RAD", "vqa-rad"), ("PathVQA", "pathvqa")]
DATASETS += [("PMC-VQA", "pmc-vqa"), ("OmniMedVQA", "omnimedvqa")]
ABLATIONS = [("real images", ""), ("blank", "blank"), ("noise", "noise")]
ABLATIONS += [("shuffled", "shuffled")]


@dataclass(frozen=True)
class EvalSettings:
    """What the Run action evaluates (the fields of ``EvalRequest``)."""

    dataset: str
    path: Path
    model: str
    split: str
    language: str
    answer_type: str
    limit: int | None
    name: str
    image_ablation: str = ""
    choices: bool = False


def _field(label: str, widget: Any) -> Horizontal:
    return Horizontal(Label(label, classes="ef-label"), widget, classes="ef-row")


class EvalForm(Vertical):
    """The run's settings; ``paths`` are the question files of earlier runs by dataset."""

    def __init__(
        self, *, model: str, paths: dict[str, str], specs: list[str], id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.paths = paths
        self.specs = specs

    def compose(self) -> ComposeResult:
        yield _field(
            "dataset",
            Select(
                DATASETS,
                value="slake",
                allow_blank=False,
                id="ef-dataset",
            ),
        )
        yield _field(
            "path",
            Input(
                self.paths.get("slake", ""),
                placeholder="dataset folder or question file",
                id="ef-path",
            ),
        )
        yield _field(
            "model",
            Input(
                self.model,
                placeholder="role or spec (llamacpp:/m.gguf, hf:/folder,adapter=/a)",
                suggester=SuggestFromList(self.specs, case_sensitive=True),
                id="ef-model",
            ),
        )
        yield _field(
            "split",
            Select(self._splits("slake"), value="test", allow_blank=False, id="ef-split"),
        )
        yield _field(
            "language",
            Select([("en", "en"), ("zh", "zh")], value="en", allow_blank=False, id="ef-lang"),
        )
        yield _field(
            "answer type",
            Select(
                [("all", "all"), ("open", "open"), ("closed", "closed")],
                value="all",
                allow_blank=False,
                id="ef-type",
            ),
        )
        yield _field("limit", Input(type="integer", placeholder="all questions", id="ef-limit"))
        yield _field("name", Input(placeholder="label for compare (base, sft...)", id="ef-name"))
        yield _field(
            "images",
            Select(ABLATIONS, value="", allow_blank=False, id="ef-ablation"),
        )
        yield _field(
            "closed as",
            Select(
                [("free text", "free"), ("multiple choice", "choices")],
                value="free",
                allow_blank=False,
                id="ef-choices",
            ),
        )
        with Horizontal(id="ef-buttons"):
            yield Button("Run ^r", id="ef-run", variant="primary")
            yield Button("Compare ^o", id="ef-compare")

    @staticmethod
    def _splits(dataset: str) -> list[tuple[str, str]]:
        return [(s, s) for s in SPLITS[dataset]]

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "ef-dataset":
            return
        dataset = str(event.value)
        split = self.query_one("#ef-split", Select)
        split.set_options(self._splits(dataset))
        split.value = "test"
        path = self.query_one("#ef-path", Input)
        if path.value in ("", *self.paths.values()):  # not edited: follow the dataset
            path.value = self.paths.get(dataset, "")

    def read(self) -> EvalSettings:
        """The form's settings; FormError names a field that cannot be used."""
        path_text = self.query_one("#ef-path", Input).value.strip()
        if not path_text:
            raise FormError(
                "no dataset path",
                source="path",
                hint="type the folder holding the dataset's question file and images",
            )
        path = Path(path_text).expanduser()
        if not path.exists():
            raise FormError(
                "no such file or folder",
                source=str(path),
                hint="type the folder holding the dataset's question file and images",
            )
        limit_text = self.query_one("#ef-limit", Input).value.strip()
        limit = None
        if limit_text:
            limit = int(limit_text) if limit_text.isdigit() else 0
            if limit < 1:
                raise FormError(
                    f"{limit_text} is not a whole number ≥ 1",
                    source="limit",
                    hint="enter how many questions to ask, or leave it empty for all",
                )
        model = self.query_one("#ef-model", Input).value.strip()
        if not model:
            raise FormError(
                "no model",
                source="model",
                hint="name a role of medsynth.toml (base_model, generator...) or a spec such as "
                "llamacpp:embedded",
            )
        return EvalSettings(
            dataset=str(self.query_one("#ef-dataset", Select).value),
            path=path,
            model=model,
            split=str(self.query_one("#ef-split", Select).value),
            language=str(self.query_one("#ef-lang", Select).value),
            answer_type=str(self.query_one("#ef-type", Select).value),
            limit=limit,
            name=self.query_one("#ef-name", Input).value.strip(),
            image_ablation=str(self.query_one("#ef-ablation", Select).value),
            choices=self.query_one("#ef-choices", Select).value == "choices",
        )
