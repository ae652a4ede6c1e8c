"""A fatal error in ground or synth (a dead server, a bug) stops the run, but the answers
already on their way are written before it is raised: nothing a model finished is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.config import CONFIG_FILE, write_config
from medsynth.ground import ground
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes import synth as synth_fakes
from tests.fakes.records import add_dataset, add_record, png
from tests.unit.test_ground_stages import make_kg


class CrashBesideRunningCalls:
    """A model script whose ``beside + 1``-th call raises while the ``beside`` calls before it
    are still running (``ScriptedChat(..., latency_s=LATENCY_S)`` holds each answer outside
    its lock); every other call answers. The crash always comes with answers on their way,
    however the workers were scheduled."""

    def __init__(self, answer: object, beside: int = 3) -> None:
        self.answer, self.beside = answer, beside
        self.calls = 0
        self.answered = 0  # ScriptedChat calls the script under its own lock

    def __call__(self, messages: list[Message]) -> str:
        self.calls += 1
        if self.calls == self.beside + 1:
            raise RuntimeError("simulated crash beside the running calls")
        self.answered += 1
        return self.answer(messages) if callable(self.answer) else str(self.answer)


LATENCY_S = 1.0  # how long the calls beside the crash are in flight


def test_ground_writes_the_answers_in_flight_then_raises(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    ws.config.ground.concurrency = 4
    write_config(ws.root / CONFIG_FILE, ws.config)
    dataset_id = add_dataset(ws, "cases", tmp_path / "data")
    for n in range(1, 21):
        png(tmp_path / "data" / f"{n}.png", seed=n)
        add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:03d}: lung cancer")
    extractor = CrashBesideRunningCalls(json.dumps({"disease": "Lung Cancer", "organ": "Lung"}))
    with pytest.raises(RuntimeError, match="simulated crash beside"):
        ground(
            ws, extractor=ScriptedChat(extractor, latency_s=LATENCY_S), verifier=ScriptedChat([])
        )
    grounded = ws.db.execute("SELECT count(DISTINCT record_id) FROM matches").fetchone()[0]
    assert extractor.answered >= 3  # the three calls running beside the failed one
    assert grounded == extractor.answered  # every finished answer was written
    assert extractor.calls < 20  # the queued records were never asked
    ws.close()


def test_synth_writes_the_tasks_in_flight_then_raises(tmp_path: Path) -> None:
    ws: Workspace = synth_fakes.make_kg(tmp_path)
    synth_fakes.make_records(ws, tmp_path, 8)
    ws.config.synth.concurrency = 4
    model = CrashBesideRunningCalls(synth_fakes.reply)
    chat = ScriptedChat(model, latency_s=LATENCY_S)
    with pytest.raises(RuntimeError, match="simulated crash beside"):
        synthesize(
            ws,
            ["multihop"],
            models={"generator": chat, "vision_generator": chat, "verifier": chat},
        )
    done = ws.db.execute("SELECT count(*) FROM synth_tasks").fetchone()[0]
    calls_ok = ws.db.execute("SELECT count(*) FROM llm_calls WHERE status = 'ok'").fetchone()[0]
    assert model.answered >= 3
    assert calls_ok == model.answered
    assert done == model.answered  # one call per multihop task: every finished task written
    ws.close()


def test_judge_writes_the_scores_in_flight_then_raises(tmp_path: Path) -> None:
    from medsynth.review.judge import judge
    from tests.fakes.review import copy_workspace, judge_reply, synth_workspace

    ws = copy_workspace(synth_workspace(tmp_path / "built", records=4), tmp_path / "ws")
    ws.config.synth.concurrency = 4
    kept = ws.db.execute("SELECT count(*) FROM samples WHERE status = 'kept'").fetchone()[0]
    model = CrashBesideRunningCalls(judge_reply)
    with pytest.raises(RuntimeError, match="simulated crash beside"):
        judge(ws, models={"verifier": ScriptedChat(model, latency_s=LATENCY_S)})
    judged = ws.db.execute("SELECT count(DISTINCT sample_id) FROM judgements").fetchone()[0]
    assert kept > 12
    assert model.answered >= 3
    assert judged == model.answered  # every score the judge finished was written
    assert model.calls < kept  # the queued samples were never asked
    ws.close()
