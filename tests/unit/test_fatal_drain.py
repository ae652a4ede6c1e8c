"""A fatal error in ground or synth (a dead server, a bug) stops the run, but the answers
already on their way are written before it is raised: nothing a model finished is lost."""

from __future__ import annotations

import json
import threading
import time
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


class FirstCallFails:
    """Raises at once on the first call; every other call answers after ``latency_s``."""

    def __init__(self, answer: object, latency_s: float = 0.4) -> None:
        self.answer, self.latency_s = answer, latency_s
        self.lock = threading.Lock()
        self.calls = 0
        self.answered = 0

    def __call__(self, messages: list[Message]) -> str:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            raise RuntimeError("simulated crash on the first call")
        time.sleep(self.latency_s)
        reply = self.answer(messages) if callable(self.answer) else str(self.answer)
        with self.lock:
            self.answered += 1
        return reply


def test_ground_writes_the_answers_in_flight_then_raises(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    ws.config.ground.concurrency = 4
    write_config(ws.root / CONFIG_FILE, ws.config)
    dataset_id = add_dataset(ws, "cases", tmp_path / "data")
    for n in range(1, 21):
        png(tmp_path / "data" / f"{n}.png", seed=n)
        add_record(ws, dataset_id, [f"{n}.png"], f"case-{n:03d}: lung cancer")
    extractor = FirstCallFails(json.dumps({"disease": "Lung Cancer", "organ": "Lung"}))
    with pytest.raises(RuntimeError, match="simulated crash"):
        ground(ws, extractor=ScriptedChat(extractor), verifier=ScriptedChat([]))
    grounded = ws.db.execute("SELECT count(DISTINCT record_id) FROM matches").fetchone()[0]
    assert extractor.answered >= 3  # the three calls running beside the failed one
    assert grounded == extractor.answered  # every finished answer was written
    assert extractor.calls < 20  # the queued records were never asked
    ws.close()


def test_synth_writes_the_tasks_in_flight_then_raises(tmp_path: Path) -> None:
    ws: Workspace = synth_fakes.make_kg(tmp_path)
    synth_fakes.make_records(ws, tmp_path, 8)
    ws.config.synth.concurrency = 4
    model = FirstCallFails(synth_fakes.reply)
    chat = ScriptedChat(model)
    with pytest.raises(RuntimeError, match="simulated crash"):
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
    model = FirstCallFails(judge_reply)
    with pytest.raises(RuntimeError, match="simulated crash"):
        judge(ws, models={"verifier": ScriptedChat(model)})
    judged = ws.db.execute("SELECT count(DISTINCT sample_id) FROM judgements").fetchone()[0]
    assert kept > 12
    assert model.answered >= 3
    assert judged == model.answered  # every score the judge finished was written
    assert model.calls < kept  # the queued samples were never asked
    ws.close()
