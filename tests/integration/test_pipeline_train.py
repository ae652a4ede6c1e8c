"""The training issue's "real exported samples": synthesise (scripted model) -> ``export`` in the
two TRL formats -> ``train sft`` and ``train grpo`` in smoke mode on the tiny LLaVA, reading the
exports the way a user's run does (newest export under the workspace's exports/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from medsynth.backends.fake import ScriptedChat
from medsynth.export import export_samples
from medsynth.synth.service import synthesize
from medsynth.train.service import train
from medsynth.train.settings import TrainOptions
from tests.fakes.synth import make_kg, make_records, reply

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def test_synth_export_then_train(tmp_path: Path, tiny_llava: Path) -> None:
    ws = make_kg(tmp_path)
    make_records(ws, tmp_path, 4)
    model = ScriptedChat(reply)
    synthesize(ws, models={"generator": model, "vision_generator": model, "verifier": model})
    sft_export = export_samples(ws, ws.path("exports") / "run-sft", "trl-sft")
    grpo_export = export_samples(ws, ws.path("exports") / "run-grpo", "trl-grpo")
    assert sft_export.samples > 20 and grpo_export.samples > 10
    first = json.loads((ws.path("exports") / "run-grpo" / "grpo.jsonl").read_text().splitlines()[0])
    assert first["key_answer"] and first["path_entities"]

    sft = train(
        ws,
        TrainOptions(kind="sft", model=str(tiny_llava), smoke=True, max_steps=2, name="p-sft"),
    )
    assert sft.status == "ok" and sft.steps == 2 and all(math.isfinite(x) for x in sft.losses)
    row = ws.db.table("train_runs").get(sft.train_run_id)
    assert row["data_path"].endswith("run-sft/sft.jsonl") and row["samples"] == sft_export.samples
    grpo = train(
        ws,
        TrainOptions(kind="grpo", model=str(tiny_llava), smoke=True, max_steps=1, name="p-grpo"),
    )
    assert grpo.status == "ok" and grpo.steps == 1
    row = ws.db.table("train_runs").get(grpo.train_run_id)
    assert row["data_path"].endswith("run-grpo/grpo.jsonl")
    steps = list(ws.db.table("train_steps").rows_where("train_run_id = ?", [row["id"]]))
    assert {"answer", "path", "full_path"} <= set(json.loads(steps[0]["rewards"]))
    ws.close()
