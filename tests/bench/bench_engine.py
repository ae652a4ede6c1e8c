"""Engine efficiency: model calls through the call log at bounded concurrency vs the ideal.

1,000 calls to a fake model that takes 50 ms each, 8 at a time: the ideal wall time is
1000 * 0.05 / 8 = 6.25 s. Every call is logged in a real workspace database, as in a run.
Then the same 1,000 calls again: all answered from the log (cache), zero model calls.
Run as ``.venv/bin/python tests/bench/bench_engine.py [--calls N]`` (``just bench``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medsynth.backends.calllog import CallLog, Template
from medsynth.backends.engine import run_bounded
from medsynth.backends.fake import ScriptedChat
from medsynth.workspace import Workspace


def main() -> None:
    """Print measured vs ideal wall time and the cached re-run rate."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        model = ScriptedChat(
            lambda messages: f"answer to {messages[-1]['content']}", latency_s=args.latency
        )
        calllog = CallLog(ws.db, model, role="generator")
        template = Template("bench", "1")

        def work(i: int) -> str:
            return calllog.call([{"role": "user", "content": f"q{i}"}], template=template).text

        start = time.perf_counter()
        results = list(run_bounded(range(args.calls), work, concurrency=args.concurrency))
        wall = time.perf_counter() - start
        failures = sum(isinstance(r, BaseException) for _, r in results)
        ideal = args.calls * args.latency / args.concurrency
        print(
            f"engine: {args.calls} calls x {args.latency * 1000:.0f} ms at concurrency "
            f"{args.concurrency}: {wall:.2f} s (ideal {ideal:.2f} s), efficiency "
            f"{ideal / wall:.3f} (goal >= 0.95), failures {failures}"
        )
        cached = CallLog(ws.db, ScriptedChat([]), role="generator")

        def again(i: int) -> str:
            return cached.call([{"role": "user", "content": f"q{i}"}], template=template).text

        start = time.perf_counter()
        list(run_bounded(range(args.calls), again, concurrency=args.concurrency))
        rerun = time.perf_counter() - start
        print(
            f"re-run from the call log: {rerun:.2f} s, {args.calls / rerun:,.0f} calls/s, "
            f"model calls {cached.model_calls}, cache hits {cached.cache_hits}"
        )
        ws.close()


if __name__ == "__main__":
    main()
