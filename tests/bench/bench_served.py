"""Synthesis against served models: how close to the ideal wall time the pipeline keeps the servers.

Two OpenAI-compatible fake servers (``tests/fakes/openai_server.py``), each its own process on
loopback, answer every synthesis prompt after a fixed latency. Every generator runs over N
grounded records through the real ``openai`` backend (a server pool over both URLs).
Efficiency = ideal / measured (goal >= 0.97).

Ideal wall time = ceil(calls answered / calls in flight) x latency. With at most K calls in
flight, the calls can be laid out on K lanes, one call at a time on each (interval graphs are
K-colourable), so some lane serves at least ceil(calls / K) calls of ``latency`` seconds each:
no schedule, however clever, finishes sooner. (The earlier ideal, calls x latency / K, counted
a fraction of a call per lane: at 64 in flight its 34.3 s for 2,196 calls is a wall time no
schedule can reach, 35 s being the least; it is printed as ``fluid``.) The longest chain of
dependent calls (a record's hardneg call, then a reasoning trajectory of five steps written at
most twice: 11 calls) is far under the capacity bound, so it never decides the ideal here.

What is timed is what ``medsynth synth`` pays from the moment it starts (``synthesize``):
building the run's clients, which the backend warms there (a client imports the modules of its
chat resource on first use: about 25 ms on one thread, more when a whole first round of calls
hits it at once), planning, every call, the writes. One thing is left out, and printed beside
the result: ``import openai``, the package itself (0.6-1.1 s here, once per process). It is
process start-up, like importing medsynth and Python's own start, which no ideal here counts
either: it happens before any server is contacted, does not grow with the work, and is the
same for any schedule. (A second setting in the same process finds the client's modules
imported by the first: about 25 ms less, under 0.1 % of its time; give one ``--setting`` per
process to compare settings exactly.)

The fake servers answer each call ``latency`` seconds after it arrives (their own parsing and
answer writing fall inside that time, as a real server's do), so a call holds a server for the
latency the ideal counts, however busy the shared CPU is.

``.venv/bin/python tests/bench/bench_served.py [--records 60] [--setting 32x1.0 --setting 4x0.5]``
(``just bench``). A setting ``KxS`` is K calls in flight per server (2 servers) and S seconds per
call; the defaults are the issue's two settings (64 in flight at 1 s, 8 in flight at 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from medsynth.config import ChatRole, SynthConfig
from medsynth.synth.service import synthesize
from tests.fakes.synth import make_kg, make_records

SERVER = Path(__file__).resolve().parents[1] / "fakes" / "openai_server.py"


@contextmanager
def servers(count: int, latency: float) -> Iterator[list[str]]:
    """``count`` server processes; yields their base URLs."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(SERVER), "--latency", str(latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        urls = []
        for proc in procs:
            assert proc.stdout is not None
            port = proc.stdout.readline().split()[1]
            urls.append(f"http://127.0.0.1:{port}/v1")
        yield urls
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def answered(url: str) -> int:
    """Calls a fake server has answered."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=5) as response:
        return int(json.load(response)["calls"])


def import_library() -> float:
    """Import the openai package (process start-up, not timed: see the module doc); the
    seconds it took, 0 when it was already imported. Nothing else is warmed."""
    started = time.perf_counter()
    already = "openai" in sys.modules
    import openai  # noqa: F401

    return 0.0 if already else time.perf_counter() - started


def ideal_wall(calls: int, in_flight: int, latency: float) -> float:
    """The least wall time for ``calls`` calls of ``latency`` seconds, ``in_flight`` at a time.

    >>> ideal_wall(2196, 64, 1.0), ideal_wall(128, 64, 1.0), ideal_wall(129, 64, 0.5)
    (35.0, 2.0, 1.5)
    """
    return math.ceil(calls / in_flight) * latency


def run(records: int, per_server: int, latency: float, count: int = 2) -> dict[str, float]:
    """One synthesis run in a fresh workspace; its wall time against the ideal."""
    imported = import_library()

    with tempfile.TemporaryDirectory() as tmp, servers(count, latency) as urls:
        ws = make_kg(Path(tmp))
        make_records(ws, Path(tmp), records)
        role = ChatRole(backend="openai", model="bench", servers=urls, concurrency=per_server)
        for name in ("generator", "vision_generator", "verifier"):
            setattr(ws.config.models, name, role)
        in_flight = per_server * count
        started = time.perf_counter()
        report = synthesize(ws, options=SynthConfig(concurrency=in_flight))
        wall = time.perf_counter() - started
        calls = sum(answered(url) for url in urls)
        ideal = ideal_wall(calls, in_flight, latency)
        return {
            "records": records,
            "in_flight": in_flight,
            "latency": latency,
            "calls": calls,
            "tasks": sum(report.tasks.values()),
            "wall": wall,
            "ideal": ideal,
            "fluid": calls * latency / in_flight,
            "efficiency": ideal / wall,
            "fluid_efficiency": calls * latency / in_flight / wall,
            "import": imported,
        }


def main() -> None:
    """Print the efficiency at each setting."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--setting", action="append", default=[])
    args = parser.parse_args()
    for setting in args.setting or ["32x1.0", "4x0.5"]:
        per_server, latency = setting.split("x")
        r = run(args.records, int(per_server), float(latency))
        print(
            f"served: {r['records']} records, 2 servers x {per_server} in flight "
            f"({r['in_flight']}), {r['latency']:.2f} s per call, {r['calls']} calls, "
            f"{r['tasks']} tasks: {r['wall']:.2f} s (ideal {r['ideal']:.2f} s, "
            f"fluid {r['fluid']:.2f} s), "
            f"efficiency {r['efficiency']:.3f} (goal >= 0.97), fluid {r['fluid_efficiency']:.3f}"
            + (f"; openai import {r['import']:.2f} s, not timed" if r["import"] else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
