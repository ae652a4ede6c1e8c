"""Synthesis streams across stages: a record's next stage starts when its own tasks are written,
the reasoning checker is a step of its own, the backlog stays bounded, and none of this changes
what is stored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.synth.flow import TaskFlow
from medsynth.synth.model import Draft, RecordContext, Task
from medsynth.synth.runtime import Runtime
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.synth import make_kg, make_records, reply


def kind(messages: list[Message]) -> str:
    system = str(messages[0]["content"])
    for key, name in (
        ("teaching questions", "multihop"),
        ("key answer", "keyanswer"),
        ("medical imaging expert", "describe"),
        ("step of a radiologist's reasoning", "reasoning"),  # each stage of the chain
        ("You check", "check"),
    ):
        if key in system:
            return name
    return "?"


def run(folder: Path, records: int, concurrency: int) -> tuple[Workspace, list[str]]:
    ws = make_kg(folder)
    make_records(ws, folder, records)
    model = ScriptedChat(reply, latency_s=0.005)
    options = ws.config.synth.model_copy(update={"concurrency": concurrency})
    synthesize(
        ws,
        options=options,
        models={"generator": model, "vision_generator": model, "verifier": model},
    )
    return ws, [kind(c["messages"]) for c in model.calls]  # type: ignore[arg-type]


def stored(ws: Workspace) -> set[tuple[Any, ...]]:
    return set(
        ws.db.execute(
            "SELECT task_key, position, record_id, generator, question, answer, key_answer, "
            "status, reason FROM samples"
        ).fetchall()
    )


def test_later_stages_start_before_the_first_stage_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a backlog of one ready step per call in flight: new records wait for the ready steps
    monkeypatch.setattr("medsynth.synth.service.BACKLOG_PER_SLOT", 1)
    _, calls = run(tmp_path, 12, concurrency=4)
    last_multihop = max(i for i, k in enumerate(calls) if k == "multihop")
    first_keyanswer = calls.index("keyanswer")
    first_reasoning = calls.index("reasoning")
    # stage by stage, every multihop call came before any key answer or reasoning call
    assert first_keyanswer < last_multihop
    assert first_reasoning < last_multihop


def test_the_checker_is_a_step_of_its_own(tmp_path: Path) -> None:
    _, calls = run(tmp_path, 6, concurrency=1)
    reasoning = [i for i, k in enumerate(calls) if k == "reasoning"]
    checks = [i for i, k in enumerate(calls) if k == "check"]
    assert reasoning and checks
    # inside one task the check followed its reasoning call at once; as a step of its own it
    # waits while other tasks are ready, and the checks fill the end of the run
    assert sum(1 for i in reasoning if i + 1 in checks) < len(checks)
    assert calls[-1] == "check"


def test_streaming_stores_what_one_task_at_a_time_stores(tmp_path: Path) -> None:
    inline, _ = run(tmp_path / "one", 10, concurrency=1)
    streamed, _ = run(tmp_path / "many", 10, concurrency=8)
    expected = stored(inline)
    assert len(expected) > 100
    assert stored(streamed) == expected


@dataclass
class Planner:
    """A generator with one task per record (stage 0) or per record after stage 0 (stage 1)."""

    name: str
    roles: tuple[str, ...] = ()

    def plan(self, ctx: RecordContext, rt: Runtime) -> list[Task]:
        return [Task(self.name, ctx.id, "u", 1)]

    def run(self, task: Task, ctx: RecordContext, rt: Runtime) -> list[Draft]:
        return []


def contexts(count: int) -> list[RecordContext]:
    return [
        RecordContext(
            id=n,
            dataset_id=1,
            dataset="d",
            root=Path("/nonexistent"),
            images=[],
            image_sha256=[],
            context="",
            derived=False,
            meta={},
            groundings=[],
            triple_ids=[],
            mentions={},
        )
        for n in range(1, count + 1)
    ]


def test_the_backlog_bounds_the_records_in_progress() -> None:
    first, second = Planner("first"), Planner("second")
    flow = TaskFlow(
        [[first], [second]],
        None,
        iter(contexts(200)),
        set(),
        backlog=4,  # type: ignore[arg-type]
    )
    in_flight: list[Any] = []
    most_open = 0
    finished = {"first": 0, "second": 0}
    while True:
        while len(in_flight) < 3:  # three calls in flight
            try:
                in_flight.append(next(flow))
            except StopIteration:
                break
        if not in_flight:
            break
        item = in_flight.pop(0)
        finished[item[0].name] += 1
        flow.finished(item)
        most_open = max(most_open, flow.in_progress)
    assert finished == {"first": 200, "second": 200}
    assert most_open <= 4 + 3 + 1


def test_done_tasks_are_skipped_and_the_record_moves_on() -> None:
    first, second = Planner("first"), Planner("second")
    done = {Task("first", n, "u", 1).key for n in range(1, 4)}
    flow = TaskFlow(
        [[first], [second]],
        None,
        iter(contexts(3)),
        done,
        backlog=4,  # type: ignore[arg-type]
    )
    items = list(flow)
    assert [i[0].name for i in items] == ["second", "second", "second"]
