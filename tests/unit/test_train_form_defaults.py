"""The TUI's training form shows, for an empty field, what the training settings' own layering
gives (defaults -> workspace [train] -> smoke preset): one rule, not a copy of it."""

from __future__ import annotations

from medsynth.config import TrainConfig
from medsynth.train.settings import SMOKE, layer
from medsynth.tui.widgets.train_form import FORM_FIELDS, defaults


def test_empty_fields_show_the_layered_settings() -> None:
    cfg = TrainConfig(epochs=7, grpo_epochs=2, learning_rate=3e-5, grpo_learning_rate=1e-6)
    assert defaults(cfg, "sft", False)["epochs"] == 7
    assert defaults(cfg, "grpo", False)["epochs"] == 2  # GRPO reads its own [train] keys
    assert defaults(cfg, "grpo", False)["learning_rate"] == 1e-6
    assert defaults(cfg, "grpo", True)["epochs"] == SMOKE["epochs"]  # smoke is laid over both
    assert defaults(cfg, "sft", True)["max_steps"] == SMOKE["max_steps"]
    for kind in ("sft", "grpo"):
        for smoke in (False, True):
            layered = layer(kind, cfg, device="cpu", smoke=smoke, overrides={}).values
            assert defaults(cfg, kind, smoke) == {f: layered.get(f) for f in FORM_FIELDS}
