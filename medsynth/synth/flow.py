"""The synthesis tasks of a run as one stream across stages.

Generators come in stages (``service.STAGES``): a later stage reads what an earlier one wrote for
the same record (keyanswer reads multihop's samples, instruct reuses describe's logged call,
reasoning reads key answers and negatives). A record's tasks of stage k+1 are planned, on the
consumer's thread, as soon as all its tasks of stage k are written, so no task waits for other
records and the servers never drain between stages.

A task with further, dependent calls comes back as a :class:`~medsynth.synth.model.Later`;
its next step is queued like a task of its own, and a step may return another Later (the
reasoning chain: localization, visual analysis, knowledge, conclusion, then the checker).

Which ready step goes next: new records' first tasks while the backlog of ready later steps is
small (they start the longest chains), then later-stage tasks, then second steps (leaves: they
fill the servers at the end of a run). Once the backlog reaches ``backlog`` it goes first, so
memory stays bounded on millions of records.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from medsynth.synth.model import Later, RecordContext, Task
from medsynth.synth.runtime import Generator, Runtime

Item = tuple[Generator, Task, RecordContext, Later | None]  # None: the task's first step


class TaskFlow:
    """An iterator of ready ``(generator, task, record, later)`` steps that grows as tasks
    finish.

    It raises StopIteration when nothing is ready *now*; after :meth:`finished` it may have items
    again (``medsynth.stage.Stage.run`` allows that). Tasks whose key is in ``done`` (finished in
    an earlier run) are not run again."""

    def __init__(
        self,
        stages: Sequence[Sequence[Generator]],
        rt: Runtime,
        records: Iterator[RecordContext],
        done: set[str],
        *,
        backlog: int,
        planned: Callable[[str], object] | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.stages = [list(s) for s in stages if s]
        self.rt = rt
        self.records = records
        self.done = done
        self.backlog = backlog
        self.planned = planned
        self.lock = lock  # taken while the next record is read (workers share the connection)
        self.fresh: deque[Item] = deque()  # tasks of records just read
        self.follow: deque[Item] = deque()  # later-stage tasks, ready
        self.second: deque[Item] = deque()  # second steps of tasks (Later)
        self.open: dict[int, list[int]] = {}  # record id -> [stage index, tasks not finished]

    def __iter__(self) -> TaskFlow:
        return self

    def __next__(self) -> Item:
        if len(self.follow) + len(self.second) < self.backlog and self._fill():
            return self.fresh.popleft()
        for queue in (self.follow, self.second):
            if queue:
                return queue.popleft()
        if self._fill():
            return self.fresh.popleft()
        raise StopIteration

    def later(self, item: Item, rest: Later) -> None:
        """A task's first step is done and its second is ready."""
        self.second.append((item[0], item[1], item[2], rest))

    def finished(self, item: Item) -> None:
        """A task's outcome is written: when it was its record's last of the stage, the
        record's next stage is planned."""
        record_id = item[2].id
        state = self.open[record_id]
        state[1] -= 1
        if state[1] == 0:
            del self.open[record_id]
            self._enter(item[2], state[0] + 1, self.follow)

    def prefetch(self, count: int) -> int:
        """Read records until ``count`` first tasks are ready (or the records run out), before
        the workers start: planned on the calling thread alone, the first round of calls
        goes out at once instead of trickling out while new workers contend for the GIL and
        the database lock. Returns the tasks ready."""
        while len(self.fresh) < count and self._read():
            pass
        return len(self.fresh)

    @property
    def in_progress(self) -> int:
        """Records with tasks planned and not all finished."""
        return len(self.open)

    def _fill(self) -> bool:
        """Read records until one has tasks to run (False when the records are used up)."""
        while not self.fresh:
            if not self._read():
                return False
        return True

    def _read(self) -> bool:
        """Read the next record and plan its first stage with tasks left (False: none left)."""
        if self.lock is not None:
            with self.lock:
                ctx = next(self.records, None)
        else:
            ctx = next(self.records, None)
        if ctx is None:
            return False
        self._enter(ctx, 0, self.fresh)
        return True

    def _enter(self, ctx: RecordContext, stage: int, into: deque[Item]) -> None:
        """Plan the record's first stage from ``stage`` on that has tasks left to run."""
        while stage < len(self.stages):
            items: list[Item] = []
            for gen in self.stages[stage]:
                plan = gen.plan(ctx, self.rt)
                items += [(gen, t, ctx, None) for t in plan if t.key not in self.done]
                if self.planned is not None:
                    self.planned(gen.name)
            if items:
                self.open[ctx.id] = [stage, len(items)]
                into.extend(items)
                return
            stage += 1
