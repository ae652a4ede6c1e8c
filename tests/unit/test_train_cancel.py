"""``train(on_step=...)``: every recorded step reaches the callback; a ``Cancelled`` raised there
saves a checkpoint at that step, marks the run cancelled, and ``resume`` goes on from it. And
``prepare`` (the TUI's preflight) estimates exactly what ``train`` records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medsynth.errors import Cancelled
from medsynth.train import preflight
from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace
from tests.unit.train_fixtures import build_export

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def tiny(tiny_llava: Path) -> Path:
    return tiny_llava


@pytest.fixture
def tws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws")
    build_export(workspace.path("exports") / "export-1")
    yield workspace
    workspace.close()


def options(tiny: Path, **more: Any) -> TrainOptions:
    return TrainOptions(kind="sft", model=str(tiny), smoke=True, **more)


def step_rows(ws: Workspace, train_run_id: int) -> list[dict[str, Any]]:
    return list(
        ws.db.table("train_steps").rows_where("train_run_id = ?", [train_run_id], order_by="step")
    )


def test_on_step_sees_every_recorded_step(tws: Workspace, tiny: Path) -> None:
    from medsynth.train.service import train

    seen: list[tuple[int, int, float | None]] = []
    result = train(
        tws,
        options(tiny, name="steps", max_steps=3),
        echo=lambda _line: None,
        on_step=lambda step, total, fields: seen.append((step, total, fields["loss"])),
    )
    rows = step_rows(tws, result.train_run_id)
    assert [(r["step"], 3, r["loss"]) for r in rows] == seen
    assert [s for s, _, _ in seen] == [1, 2, 3]


def test_cancel_saves_a_checkpoint_and_resume_finishes(tws: Workspace, tiny: Path) -> None:
    from medsynth.train.service import train

    def stop_at_two(step: int, total: int, fields: dict[str, Any]) -> None:
        if step == 2:
            raise Cancelled("stop")

    # save_steps 10: the checkpoint at step 2 can only come from the cancel
    with pytest.raises(Cancelled, match="cancelled at step 2"):
        train(
            tws,
            options(tiny, name="stopped", max_steps=4, save_steps=10),
            echo=lambda _line: None,
            on_step=stop_at_two,
        )
    first = tws.db.table("train_runs").rows_where("name = ?", ["stopped"])
    (row,) = list(first)
    assert row["status"] == "cancelled"
    assert [r["step"] for r in step_rows(tws, row["id"])] == [1, 2]
    out = Path(row["output_dir"])
    assert (out / "checkpoint-2").is_dir() and not (out / "adapter").exists()
    run = tws.db.table("runs").get(row["run_id"])
    assert run["status"] == "cancelled"

    resumed = train(
        tws,
        options(tiny, name="stopped", max_steps=4, save_steps=10, resume=True),
        echo=lambda _line: None,
    )
    assert resumed.status == "ok" and resumed.steps == 4
    second = tws.db.table("train_runs").get(resumed.train_run_id)
    assert second["status"] == "ok" and second["resumed_from"].endswith("checkpoint-2")
    assert [r["step"] for r in step_rows(tws, resumed.train_run_id)] == [3, 4]
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_prepare_estimates_what_train_records(
    tws: Workspace, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medsynth.train.service import prepare, train

    monkeypatch.setattr(preflight, "current_rss", lambda: 700 * 1024**2)
    monkeypatch.setattr(preflight, "device_budget", lambda d, f=0.95: (8 * preflight.GIB, "test"))
    planned = prepare(tws, options(tiny, name="same", max_steps=1, batch_size=1))
    assert planned.name == "same" and planned.estimate.fits
    result = train(
        tws, options(tiny, name="same", max_steps=1, batch_size=1), echo=lambda _line: None
    )
    row = tws.db.table("train_runs").get(result.train_run_id)
    assert row["estimate_bytes"] == planned.estimate.total
    assert result.estimate == planned.estimate.as_dict()
