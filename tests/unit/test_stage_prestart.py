"""Synthesis keeps served models busy from the first call: its workers start before any item is
handed out, the first round of tasks is planned before they start, and against server pools a
few spare workers have their next request ready when a slot frees. The runner keeps
``run_bounded``'s contract."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.engine import run_bounded
from medsynth.backends.fake import ScriptedChat
from medsynth.backends.openai_compat import ServerPool
from medsynth.stage import Stage, run_prestarted
from medsynth.synth.flow import TaskFlow
from medsynth.synth.runtime import Runtime
from tests.fakes.synth import make_kg, reply
from tests.unit.test_synth_flow import Planner, contexts

Runner = Callable[..., Iterator[tuple[Any, Any]]]
RUNNERS = [run_bounded, run_prestarted]


@pytest.mark.parametrize("runner", RUNNERS)
def test_all_items_once_and_errors_yielded(runner: Runner) -> None:
    def work(n: int) -> int:
        if n % 7 == 3:
            raise ValueError(f"bad {n}")
        return n * n

    results = dict(runner(range(50), work, concurrency=4))
    assert sorted(results) == list(range(50))
    assert isinstance(results[3], ValueError)
    assert results[4] == 16


@pytest.mark.parametrize("runner", RUNNERS)
def test_stop_drops_queued_work_but_yields_work_already_running(runner: Runner) -> None:
    started: list[int] = []
    lock = threading.Lock()
    release = threading.Event()

    def work(n: int) -> int:
        with lock:
            started.append(n)
        if n == 0:
            raise RuntimeError("fatal")
        release.wait(5)
        return n

    stop = threading.Event()
    seen: dict[int, object] = {}
    for item, result in runner(iter(range(100)), work, concurrency=3, window=12, stop=stop):
        if isinstance(result, RuntimeError):
            stop.set()
            release.set()
        seen[item] = result
    assert sorted(seen) == sorted(started)  # nothing that started is lost
    assert len(started) <= 4 < 12  # the queued rest of the window never ran


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_source_that_grows_after_an_outcome_is_drained(runner: Runner) -> None:
    """An iterator with nothing ready now raises StopIteration and has items again once an
    outcome is handled (how TaskFlow plans a record's next stage)."""
    ready = [1]
    handled: list[int] = []

    class Growing:
        def __iter__(self) -> Growing:
            return self

        def __next__(self) -> int:
            if not ready:
                raise StopIteration
            return ready.pop()

    for item, result in runner(Growing(), lambda n: n, concurrency=2):
        handled.append(result)
        if item < 5:
            ready.append(item + 1)
    assert handled == [1, 2, 3, 4, 5]


def test_closing_early_waits_for_running_work_and_drops_the_rest() -> None:
    ran: list[int] = []

    def work(n: int) -> int:
        time.sleep(0.01)
        ran.append(n)
        return n

    outcomes = run_prestarted(range(100), work, concurrency=2, window=10)
    next(outcomes)
    outcomes.close()
    assert len(ran) < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("medsynth-call-")]


def test_every_worker_runs_before_the_first_item_is_handed_out() -> None:
    """Workers started while the first calls run wait for the GIL: the first round of calls
    trickled out. All of them exist before any work starts."""
    alive: list[int] = []
    before = set(threading.enumerate())  # threads other tests left behind do not count

    def work(_: int) -> None:
        workers = set(threading.enumerate()) - before
        alive.append(len([t for t in workers if t.name.startswith("medsynth-call-")]))

    Stage(None, None, concurrency=8, prestart=True).run(  # type: ignore[arg-type]
        range(8), work, store=lambda item, result: None
    )
    assert alive[0] == 8


def test_the_first_round_is_planned_before_the_workers_start() -> None:
    first, second = Planner("first"), Planner("second")
    records = iter(contexts(50))
    flow = TaskFlow([[first], [second]], None, records, set(), backlog=100)  # type: ignore[arg-type]
    assert flow.prefetch(10) == 10
    assert flow.in_progress == 10  # one task per record: ten records read, no more
    assert next(records).id == 11


def test_spare_workers_against_server_pools_only(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    options = ws.config.synth.model_copy(update={"concurrency": 64})
    pool = ServerPool.from_urls(
        "m", ["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"], concurrency=32
    )
    served = Runtime(ws, None, options, {"generator": pool, "verifier": pool})
    assert served.stage.concurrency == 64 + 16  # the pool still holds 32 calls per server
    assert pool.max_concurrency == 64
    local = Runtime(ws, None, options, {"generator": pool, "verifier": ScriptedChat(reply)})
    assert local.stage.concurrency == 64  # a model without slots of its own gets no more
