"""Writing commands that a test starts in a subprocess: held at a known point to be killed, or
started together with another writer on one workspace.

``python -m tests.fakes.writers hold COMMAND WORKSPACE [DATA]`` runs ingest, ground, synth or
eval with models (or an ingest progress hook) that stall, so the run's row is ``running`` when
the test kills it. ``python -m tests.fakes.writers cli WORKSPACE LATENCY BARRIER NAME ARGS...``
runs the real ``medsynth`` command line with the scripted synthesis model: it first touches
``BARRIER/NAME`` and waits until two such files exist, so both writers start together.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from medsynth.backends.fake import ScriptedChat
from medsynth.workspace import Workspace
from tests.fakes.records import script_reply
from tests.fakes.synth import reply

STALL_S = 300.0  # a stalled call outlasts any test: the test kills the process first
EVAL_N = 6


def ground_answers() -> dict[str, dict[str, str]]:
    """Scripted extraction answers for the records ``tests.fakes.synth.make_records`` writes."""
    return {f"case-{n:03d}": {"disease": "Lung Cancer", "organ": "Lung"} for n in range(50)}


def eval_request(slake: Path) -> Any:
    """A small SLAKE validation eval request (the same in the killed and the resumed run)."""
    from medsynth.eval.runner import EvalRequest

    return EvalRequest(
        dataset="slake", path=slake, split="validate", limit=EVAL_N, name="", model="fake"
    )


def run(command: str, ws: Workspace, data: Path | None, latency: float) -> None:
    """Run ``command`` on ``ws`` with scripted models whose every call takes ``latency``."""
    if command == "ingest":
        from medsynth.ingest import ingest

        assert data is not None
        ingest(ws, data, "folder", progress=lambda _seen, _total: time.sleep(latency))
    elif command == "ground":
        from medsynth.ground import ground

        ground(
            ws,
            extractor=ScriptedChat(script_reply(ground_answers()), latency_s=latency),
            verifier=ScriptedChat(lambda _m: '{"same": false}', latency_s=latency),
        )
    elif command == "synth":
        from medsynth.synth.service import synthesize

        model = ScriptedChat(reply, latency_s=latency)
        synthesize(ws, models={"generator": model, "vision_generator": model, "verifier": model})
    elif command == "eval":
        from medsynth.eval.runner import run_eval

        assert data is not None
        run_eval(ws, eval_request(data), model=ScriptedChat(lambda _m: "yes", latency_s=latency))
    else:
        raise SystemExit(f"unknown command {command}")


def cli(workspace: str, latency: float, barrier: Path, name: str, args: list[str]) -> int:
    """The real command line, with the synthesis models replaced by the scripted one."""
    import medsynth.synth.service as service
    from medsynth.cli import main

    model = ScriptedChat(reply, latency_s=latency)
    service.load_models = lambda _ws, _roles: {  # type: ignore[assignment]
        "generator": model,
        "vision_generator": model,
        "verifier": model,
    }
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / name).touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    return main([*args, "-w", workspace])


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        data_arg = Path(sys.argv[4]) if len(sys.argv) > 4 else None
        run(sys.argv[2], Workspace.open(Path(sys.argv[3])), data_arg, STALL_S)
    else:
        sys.exit(cli(sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]), sys.argv[5], sys.argv[6:]))
