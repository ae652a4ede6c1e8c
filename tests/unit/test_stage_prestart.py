"""Stages keep served models busy from the first call: every worker starts before any item is
handed out (ground, synth, eval and judge share the one runner), synthesis plans its first round
of tasks before they start, and against server pools a few spare workers have their next
request ready when a slot frees."""

from __future__ import annotations

import threading
from pathlib import Path

from medsynth.backends.fake import ScriptedChat
from medsynth.backends.openai_compat import ServerPool
from medsynth.stage import Stage
from medsynth.synth.flow import TaskFlow
from medsynth.synth.runtime import Runtime
from tests.fakes.synth import make_kg, reply
from tests.unit.test_synth_flow import Planner, contexts


def test_every_worker_runs_before_the_first_item_is_handed_out() -> None:
    """Workers started while the first calls run wait for the GIL: the first round of calls
    trickled out. All of them exist before any work starts."""
    alive: list[int] = []
    before = set(threading.enumerate())  # threads other tests left behind do not count

    def work(_: int) -> None:
        workers = set(threading.enumerate()) - before
        alive.append(len([t for t in workers if t.name.startswith("medsynth-call-")]))

    Stage(None, None, concurrency=8).run(  # type: ignore[arg-type]
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
