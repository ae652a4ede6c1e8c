"""A workspace with synthesised samples for judge and review tests (scripted models, every
generator), a scripted judge, and a judge run that a test can start in a subprocess and kill."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.review.data import CRITERIA
from medsynth.workspace import Workspace
from tests.fakes.synth import make_kg, make_records, reply


def synth_workspace(folder: Path, records: int = 3) -> Path:
    """``folder/ws`` with ``records`` grounded records and their samples (every generator, scripted
    model), all of them kept; returns the workspace folder."""
    from medsynth.synth.service import STAGES, synthesize

    ws = make_kg(folder)
    make_records(ws, folder, records)
    model = ScriptedChat(reply)
    models = {"generator": model, "vision_generator": model, "verifier": model}
    for stage in STAGES:  # later stages read the kept samples of earlier ones
        synthesize(ws, list(stage), models=models)
        with ws.db.conn:  # scripted text may fail the quality gate: these tests want them all
            ws.db.execute("UPDATE samples SET status = 'kept', reason = ''")
    ws.close()
    return folder / "ws"


def copy_workspace(built: Path, folder: Path) -> Workspace:
    """An opened copy of a built workspace (its records still point at the original images)."""
    shutil.copytree(built, folder / "ws")
    return Workspace.open(folder / "ws")


def judge_reply(messages: list[Message]) -> str:
    """Deterministic rubric scores (1-5) that depend on the prompt."""
    digest = hashlib.sha256(str(messages[-1]["content"]).encode()).digest()
    scores = {c: 1 + digest[i] % 5 for i, c in enumerate(CRITERIA)}
    return json.dumps({**scores, "rationale": f"scored {digest[:3].hex()}"})


def kill_target(workspace: str, latency: float) -> None:
    """Judge with a scripted model until killed."""
    from medsynth.review.judge import judge

    ws = Workspace.open(Path(workspace))
    judge(ws, models={"verifier": ScriptedChat(judge_reply, latency_s=latency)})


if __name__ == "__main__":
    kill_target(sys.argv[1], float(sys.argv[2]))
