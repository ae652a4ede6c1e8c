"""The Train screen's form: SFT / GRPO settings read into ``TrainOptions``.

An empty number field means "the default": the placeholder shows it (the workspace's
``[train]`` value, or the smoke value while Smoke is on), and ``TrainOptions`` gets ``None`` so
that ``train`` resolves it exactly as the command line does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Switch

from medsynth.config import TrainConfig
from medsynth.tui.widgets.form import FormError, number

if TYPE_CHECKING:
    from medsynth.train.settings import TrainOptions

# (field id, label, TrainOptions field, integer?, minimum, GRPO only)
NUMBERS: tuple[tuple[str, str, str, bool, float, bool], ...] = (
    ("tf-epochs", "epochs", "epochs", False, 0.01, False),
    ("tf-max-steps", "max steps", "max_steps", True, 1, False),
    ("tf-batch", "batch size", "batch_size", True, 1, False),
    ("tf-accum", "grad accum", "grad_accum", True, 1, False),
    ("tf-lr", "learning rate", "learning_rate", False, 0.0, False),
    ("tf-rank", "LoRA rank", "lora_rank", True, 1, False),
    ("tf-max-length", "max length", "max_length", True, 32, False),
    ("tf-generations", "generations", "num_generations", True, 2, True),
    ("tf-completion", "completion len", "max_completion_length", True, 4, True),
    ("tf-beta", "beta (KL)", "beta", False, 0.0, True),
)
QUANT = (("auto", "auto"), ("nf4 (4-bit)", "nf4"), ("none", "none"))
RECIPES = (
    ("MedKInstruct", "medkinstruct"),
    ("PubMedVision (2 SFT stages)", "pubmedvision"),
    ("MEDSAGE", "medsage"),
)


def newest_export(exports: Path, kind: str) -> str:
    """The export ``train`` would pick (``train_data.find_export``), or "" when none."""
    name = "sft.jsonl" if kind == "sft" else "grpo.jsonl"
    candidates = [p.parent for p in exports.glob(f"*/{name}")] if exports.is_dir() else []
    if (exports / name).is_file():
        candidates.append(exports)
    if not candidates:
        return ""
    return str(max(candidates, key=lambda p: (p / name).stat().st_mtime))


FORM_FIELDS = (
    "epochs",
    "max_steps",
    "batch_size",
    "grad_accum",
    "learning_rate",
    "lora_rank",
    "max_length",
    "num_generations",
    "max_completion_length",
    "beta",
)


def defaults(cfg: TrainConfig, kind: str, smoke: bool, recipe: str | None = None) -> dict[str, Any]:
    """What an empty field stands for: the training settings' own layering (defaults ->
    workspace ``[train]`` -> recipe -> smoke preset) with no option given."""
    from medsynth.train.settings import layer

    values = layer(kind, cfg, device="cpu", smoke=smoke, overrides={}, recipe=recipe).values
    return {name: values.get(name) for name in FORM_FIELDS}


def options_from_run(row: dict[str, Any], *, force: bool = False) -> TrainOptions:
    """``TrainOptions`` that resume the run of ``train_runs`` row ``row`` with its settings."""
    from medsynth.train.settings import TrainOptions

    config = json.loads(row.get("config") or "{}")
    keys = (
        "epochs",
        "max_steps",
        "batch_size",
        "grad_accum",
        "learning_rate",
        "lora_rank",
        "max_length",
        "gradient_checkpointing",
        "save_steps",
        "num_generations",
        "max_completion_length",
        "temperature",
        "beta",
        "self_check",
        "limit",
    )
    init = config.get("init_adapter") or ""
    kind = str(row["kind"])
    return TrainOptions(
        kind=kind,
        model=str(row["base_model"]),
        data=Path(config.get("data") or row["data_path"]),
        name=str(row["name"]),
        resume=True,
        smoke=bool(row["smoke"]),
        device=config.get("device"),
        force=force,
        quantization=row.get("quantization") or None,
        from_sft=init if init and init != "None" else None,
        fresh_lora=kind == "grpo" and init in ("", "None"),
        recipe=config.get("recipe") or None,
        stage=config.get("recipe_stage") or None,
        reward_weights=dict(config.get("reward_weights") or {}),
        **{k: config.get(k) for k in keys},
    )


def _field(label: str, widget: Any, classes: str = "") -> Horizontal:
    return Horizontal(Label(label, classes="tf-label"), widget, classes=f"tf-row {classes}")


class TrainForm(VerticalScroll):
    """Kind, base model, export, run name, smoke, force, the numbers, quantization, GRPO."""

    def __init__(
        self, cfg: TrainConfig, *, exports: Path, smoke: bool, model: str, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.cfg = cfg
        self.exports = exports
        self.export = newest_export(exports, "sft")
        self.smoke = smoke
        self.model = model

    def compose(self) -> ComposeResult:
        yield _field(
            "kind",
            Select(
                [("SFT", "sft"), ("GRPO", "grpo")], value="sft", allow_blank=False, id="tf-kind"
            ),
        )
        yield _field("base model", Input(id="tf-model"))
        yield _field("export", Input(self.export, placeholder="export folder", id="tf-data"))
        yield _field("run name", Input(placeholder="kind-model-time", id="tf-name"))
        yield _field("smoke", Switch(self.smoke, id="tf-smoke"))
        yield _field("force", Switch(False, id="tf-force"))
        yield _field("recipe", Select(RECIPES, prompt="none", id="tf-recipe", allow_blank=True))
        yield _field("from SFT", Input(placeholder="newest SFT run", id="tf-from-sft"), "grpo")
        for field_id, label, _key, integer, _min, grpo in NUMBERS:
            widget = Input(type="integer" if integer else "number", id=field_id)
            yield _field(label, widget, "grpo" if grpo else "")
        yield _field(
            "quantization", Select(QUANT, prompt="default", id="tf-quant", allow_blank=True)
        )
        with Horizontal(id="tf-buttons"):
            yield Button("Preflight ^f", id="tf-preflight")
            yield Button("Start ^r", id="tf-start", variant="primary")
            yield Button("Resume ^g", id="tf-resume")
            yield Button("Export ^e", id="tf-export")

    def on_mount(self) -> None:
        self.show_defaults()

    @property
    def kind(self) -> str:
        return str(self.query_one("#tf-kind", Select).value)

    @property
    def recipe(self) -> str | None:
        """The paper recipe chosen, or ``None``."""
        value = self.query_one("#tf-recipe", Select).value
        return value if isinstance(value, str) else None

    def show_defaults(self) -> None:
        """Placeholders = what empty fields stand for; GRPO fields only for GRPO."""
        smoke = self.query_one("#tf-smoke", Switch).value
        values = defaults(self.cfg, self.kind, smoke, self.recipe)
        for field_id, _label, key, _int, _min, _grpo in NUMBERS:
            value = values[key]
            shown = "none (epochs)" if value is None else f"{value:g}"
            self.query_one(f"#{field_id}", Input).placeholder = shown
        model = self.query_one("#tf-model", Input)
        model.placeholder = "tiny test model (smoke)" if smoke else self.model or "(none set)"
        quant = self.query_one("#tf-quant", Select)
        quant.prompt = "none (smoke)" if smoke else f"default ({self.cfg.quantization})"
        self.set_class(self.kind == "grpo", "-grpo")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "tf-recipe":
            self.show_defaults()
        elif event.select.id == "tf-kind":
            data = self.query_one("#tf-data", Input)
            if data.value in ("", self.export):  # not edited: follow the kind
                self.export = newest_export(self.exports, self.kind)
                data.value = self.export
            self.show_defaults()

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.id == "tf-smoke":
            self.show_defaults()

    def text(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def read(self) -> TrainOptions:
        """The form as ``TrainOptions``; FormError names a bad field."""
        from medsynth.train.settings import TrainOptions

        kind = self.kind
        values: dict[str, Any] = {}
        for field_id, label, key, integer, minimum, grpo in NUMBERS:
            if grpo and kind != "grpo":
                continue
            values[key] = number(
                self.text(field_id),
                label,
                minimum=minimum,
                integer=integer,
                empty_hint=", or leave it empty for the default",
            )
        name = self.text("tf-name")
        data = self.text("tf-data")
        if not data:
            raise FormError(
                "no export folder",
                source="export",
                hint="synthesize and export samples first (Synthesize screen), or type a folder",
            )
        quant = self.query_one("#tf-quant", Select).value
        return TrainOptions(
            kind=kind,
            model=self.text("tf-model") or None,
            data=Path(data).expanduser(),
            name=name or None,
            smoke=self.query_one("#tf-smoke", Switch).value,
            force=self.query_one("#tf-force", Switch).value,
            quantization=quant if isinstance(quant, str) else None,
            from_sft=(self.text("tf-from-sft") or None) if kind == "grpo" else None,
            recipe=self.recipe,
            **values,
        )
