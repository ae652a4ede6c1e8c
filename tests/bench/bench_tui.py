"""TUI benchmarks: time from ``medsynth tui`` to the first frame, and the longest event-loop
stall while a synthesis job runs (goals: < 1.5 s, < 100 ms).

First frame: the command starts in a pseudo-terminal (120x40) and the clock stops when the
dashboard's tab bar has been written to the terminal. Stall: a coroutine in the app's event
loop asks to wake every 10 ms during a synthesis run started from the Synthesize screen; the
largest lateness is the longest stall.

    python tests/bench/bench_tui.py [--runs 5] [--workspace WS]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fakes.workspaces import grounded_demo  # noqa: E402

MARKER = b"Dashboard"


def first_frame(workspace: Path, timeout: float = 30.0) -> float:
    """Seconds from starting ``medsynth tui`` in a terminal until its dashboard is on screen.

    The terminal is tmux (a real emulator that answers textual-image's capability queries, as
    the user's terminal would); without tmux, a bare pseudo-terminal that answers nothing
    (textual-image then waits out its query timeouts: a worst case).
    """
    medsynth = Path(sys.executable).parent / "medsynth"
    if shutil.which("tmux"):
        return _first_frame_tmux(medsynth, workspace, timeout)
    return _first_frame_pty(medsynth, workspace, timeout)


def _first_frame_tmux(medsynth: Path, workspace: Path, timeout: float) -> float:
    session = f"bench-tui-{os.getpid()}"
    command = f"{medsynth} tui {workspace}"
    time.sleep(0.3)  # the previous run's tmux server may still be exiting
    started = time.perf_counter()
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command],
        check=True,
    )
    elapsed = float("nan")
    try:
        while time.perf_counter() - started < timeout:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session],
                capture_output=True,
                check=False,
            ).stdout
            if MARKER in screen and b"Recent runs" in screen:
                elapsed = time.perf_counter() - started
                break
            time.sleep(0.01)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    return elapsed


def _first_frame_pty(medsynth: Path, workspace: Path, timeout: float) -> float:
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["TERM"] = "xterm-256color"
        os.execv(str(medsynth), [str(medsynth), "tui", str(workspace)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            if MARKER in seen:
                elapsed = time.perf_counter() - started
                break
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return elapsed


async def _stall_during_synth(workspace: Path, generators: list[str]) -> dict[str, float]:
    from textual.widgets import Checkbox

    from medsynth.tui.app import MedSynthApp
    from medsynth.tui.widgets.job_panel import JobPanel

    app = MedSynthApp(workspace, start="synth")
    worst = 0.0
    samples = 0
    async with app.run_test(size=(130, 42)) as pilot:
        screen = app.screen
        panel = screen.query_one(JobPanel)
        for box in screen.query(Checkbox):
            if (box.id or "").startswith("gen-"):
                box.value = box.id.removeprefix("gen-") in generators
        await pilot.pause()
        screen.action_run()  # type: ignore[attr-defined]  # what ctrl+r does
        loop = asyncio.get_running_loop()
        began = time.perf_counter()
        ended: float | None = None  # keep measuring 1 s past the end (the final refresh)
        while ended is None or time.perf_counter() - ended < 1.0:
            before = loop.time()
            await asyncio.sleep(0.01)
            worst = max(worst, loop.time() - before - 0.01)
            samples += 1
            if ended is None and panel.state not in ("idle", "running"):
                ended = time.perf_counter()
            if time.perf_counter() - began > 900:
                break
        seconds = (ended or time.perf_counter()) - began
        await pilot.pause()
    return {"stall_ms": worst * 1000, "ticks": samples, "job_s": seconds, "state": panel.state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", type=Path, help="an existing grounded workspace")
    parser.add_argument("--generators", default="multihop,hardneg,describe,keyanswer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.workspace:
            workspace = Path(tmp) / "ws"
            shutil.copytree(args.workspace, workspace)
        else:
            print("building a grounded demo workspace…", flush=True)
            workspace = grounded_demo(Path(tmp))
        first_frame(workspace)  # warm the file cache
        times = [first_frame(workspace) for _ in range(args.runs)]
        print(
            f"tui first frame: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
            f"over {len(times)} runs (goal < 1.5 s)"
        )
        stall = asyncio.run(_stall_during_synth(workspace, args.generators.split(",")))
        print(
            f"tui event-loop stall during synthesis ({args.generators}): longest "
            f"{stall['stall_ms']:.0f} ms over {stall['ticks']} ticks, job {stall['job_s']:.1f} s, "
            f"{stall['state']} (goal < 100 ms)"
        )


if __name__ == "__main__":
    main()
