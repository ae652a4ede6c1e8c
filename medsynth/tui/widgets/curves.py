"""Live training curves: loss (left axis) and GRPO reward (right axis) by step, with plotext."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual_plotext import PlotextPlot


class TrainCurves(PlotextPlot):
    """One point per recorded step (``train_steps`` row); :meth:`add` appends, :meth:`load`
    replaces."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: list[int] = []
        self.losses: list[float | None] = []
        self.rewards: list[float | None] = []
        self.caption = "no steps yet"

    @property
    def points(self) -> int:
        """Steps plotted."""
        return len(self.steps)

    def on_mount(self) -> None:
        self.replot()

    def reset(self, caption: str) -> None:
        self.steps, self.losses, self.rewards = [], [], []
        self.caption = caption
        self.replot()

    def add(self, step: int, loss: float | None, reward: float | None) -> None:
        """One recorded step (a repeated step replaces its point, as in ``train_steps``)."""
        if step in self.steps:
            index = self.steps.index(step)
            self.losses[index], self.rewards[index] = loss, reward
        else:
            self.steps.append(step)
            self.losses.append(loss)
            self.rewards.append(reward)
        self.replot()

    def load(self, caption: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Every step of a stored run (rows with step, loss, reward)."""
        self.caption = caption
        self.steps = [int(r["step"]) for r in rows]
        self.losses = [r["loss"] for r in rows]
        self.rewards = [r["reward"] for r in rows]
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(self.caption)
        plt.xlabel("step")
        for values, label, side in (
            (self.losses, "loss", "left"),
            (self.rewards, "reward", "right"),
        ):
            pairs = [(s, v) for s, v in zip(self.steps, values, strict=True) if v is not None]
            if pairs:
                xs, ys = zip(*pairs, strict=True)
                plt.plot(list(xs), list(ys), label=label, yside=side, marker="braille")
        self.refresh()
