"""The rubric judge on synthesised samples with scripted models: scores stored per sample and
criterion, images sent with their file keys, cached and skipped on a re-run, invalid output as a
reject tried again, progress / cancel, and the prompt's content."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medsynth.backends.base import BackendError, TransientBackendError
from medsynth.backends.fake import ScriptedChat
from medsynth.errors import Cancelled, ConfigError
from medsynth.review.data import CRITERIA, sample_view
from medsynth.review.judge import judge
from medsynth.workspace import Workspace
from tests.fakes.review import copy_workspace, judge_reply, synth_workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_workspace(tmp_path_factory.mktemp("judge"))


@pytest.fixture()
def ws(built: Path, tmp_path: Path) -> Workspace:
    opened = copy_workspace(built, tmp_path)
    yield opened
    opened.close()


def kept(ws: Workspace) -> list[int]:
    return [r[0] for r in ws.db.execute("SELECT id FROM samples WHERE status = 'kept' ORDER BY id")]


def scores_per_sample(ws: Workspace) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    for sample_id, criterion, score in ws.db.execute(
        "SELECT sample_id, criterion, score FROM judgements ORDER BY id"
    ):
        assert criterion not in found.setdefault(sample_id, {}), "scored twice"
        found[sample_id][criterion] = score
    return found


class TextOnly(ScriptedChat):
    supports_images = False


def test_judge_scores_every_kept_sample(ws: Workspace) -> None:
    model = ScriptedChat(judge_reply)
    seen: list[tuple[int, int]] = []
    report = judge(ws, models={"verifier": model}, progress=lambda d, t: seen.append((d, t)))
    ids = kept(ws)
    assert report.kept == report.judged == len(ids) > 40 and report.failed == 0
    assert seen[-1] == (len(ids), len(ids)) and len(seen) == len(ids)
    scores = scores_per_sample(ws)
    assert sorted(scores) == ids and all(set(s) == set(CRITERIA) for s in scores.values())
    assert all(1 <= v <= 5 for s in scores.values() for v in s.values())
    row = ws.db.execute(
        "SELECT model, template, template_version, call_id, run_id, rationale FROM judgements "
        "LIMIT 1"
    ).fetchone()
    assert row[:3] == ("fake:scripted", "judge_rubric", "1") and row[3] and row[5]
    assert row[4] == report.run_id
    run = ws.db.execute("SELECT command, status FROM runs WHERE id = ?", [report.run_id]).fetchone()
    assert run == ("judge", "ok")
    assert sum(report.by_generator.values()) == len(ids)
    assert report.model_calls == len(ids) and report.cache_hits == 0
    # every call: temperature 0, a seed, the schema, the record's image under its file key
    assert all(c["temperature"] == 0.0 and c["seed"] is not None for c in model.calls)
    assert all(c["images"] == 1 and c["schema"] for c in model.calls)
    hashes = {
        json.loads(r[0])[0]
        for r in ws.db.execute("SELECT image_hashes FROM llm_calls WHERE role = 'verifier'")
        if r[0] != "[]"
    }
    assert hashes and all(h.startswith("file-sha256:") for h in hashes)
    assert sample_view(ws.db, ids[0]).judge == scores[ids[0]]


def test_rerun_skips_judged_and_resume_uses_the_call_log(ws: Workspace) -> None:
    judge(ws, models={"verifier": ScriptedChat(judge_reply)})
    before = scores_per_sample(ws)
    again = ScriptedChat(judge_reply)
    report = judge(ws, models={"verifier": again})
    assert report.judged == 0 and report.already_judged == report.kept and again.calls == []
    ids = kept(ws)[:5]
    with ws.db.conn:  # as if killed before these were written
        ws.db.execute(
            f"DELETE FROM judgements WHERE sample_id IN ({', '.join('?' * len(ids))})", ids
        )
    report = judge(ws, models={"verifier": again})
    assert report.judged == 5 and report.cache_hits == 5 and again.calls == []
    assert scores_per_sample(ws) == before
    other = ScriptedChat(judge_reply, model="bigger")
    report = judge(ws, models={"verifier": other}, limit=3)  # another judge: its own rows
    assert report.judged == 3 and len(other.calls) == 3
    assert report.already_judged == 0


def test_prompt_holds_question_answer_context_and_path(ws: Workspace) -> None:
    model = ScriptedChat(judge_reply)
    judge(ws, models={"verifier": model}, generators=["multihop"], limit=1)
    (call,) = model.calls
    sample_id = kept(ws)[0]
    view = sample_view(ws.db, sample_id)
    assert view.generator == "multihop"
    system, user = (str(m["content"]) for m in call["messages"])  # type: ignore[union-attr]
    for criterion in CRITERIA:
        assert criterion in system
    assert "The image comes with this message." in user
    for text in (view.question, view.answer, view.path, " ".join(view.context.split())):
        assert text in user


def test_text_only_judge_gets_no_image(ws: Workspace) -> None:
    model = TextOnly(judge_reply)
    report = judge(ws, models={"verifier": model}, generators=["hardneg"])
    assert report.judged > 0 and all(c["images"] == 0 for c in model.calls)
    assert "The image comes with this message." not in str(model.calls[0]["messages"])
    assert any("cannot read images" in w for w in report.warnings)


def test_invalid_output_is_a_reject_tried_again(ws: Workspace) -> None:
    target = kept(ws)[0]
    question = sample_view(ws.db, target).question

    def script(messages: list[dict[str, object]]) -> str:
        if question in str(messages[1]["content"]):
            return '{"accuracy": 9, "rationale": "?"}'  # fails the schema, and so does the repair
        return judge_reply(messages)  # type: ignore[arg-type]

    report = judge(ws, models={"verifier": ScriptedChat(script)})
    assert report.failed >= 1 and target not in scores_per_sample(ws)
    reject = ws.db.execute("SELECT source, reason FROM rejects WHERE stage = 'judge'").fetchone()
    assert reject[0] == f"sample {target}" and "schema" in reject[1]
    # the next run tries the sample again (a better model answers it)
    report = judge(ws, models={"verifier": ScriptedChat(judge_reply, model="scripted")})
    assert report.judged == 0 and report.failed >= 1  # same model: the log's answer again
    fixed = judge(ws, models={"verifier": ScriptedChat(judge_reply, model="better")})
    assert fixed.failed == 0 and fixed.judged == fixed.kept
    better = ws.db.execute(
        "SELECT count(*) FROM judgements WHERE sample_id = ? AND model = 'fake:better'", [target]
    ).fetchone()[0]
    assert better == len(CRITERIA)


def test_unreadable_image_and_backend_errors(ws: Workspace) -> None:
    target = kept(ws)[0]
    record = ws.db.execute("SELECT record_id FROM samples WHERE id = ?", [target]).fetchone()[0]
    with ws.db.conn:
        ws.db.execute(
            "UPDATE records SET images = ? WHERE id = ?", [json.dumps(["../../x.png"]), record]
        )
    report = judge(ws, models={"verifier": ScriptedChat(judge_reply)})
    assert report.failed > 0
    sources = {r[0] for r in ws.db.execute("SELECT reason FROM rejects WHERE stage = 'judge'")}
    assert any("escapes the dataset root" in s for s in sources)

    def down(messages: list[dict[str, object]]) -> str:
        raise TransientBackendError("connection refused", source="http://127.0.0.1:9")

    with pytest.raises(TransientBackendError):
        judge(ws, models={"verifier": TextOnly(down, model="down")})
    status = ws.db.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert status == "failed"

    def refuse(messages: list[dict[str, object]]) -> str:
        raise BackendError("model refused")

    report = judge(ws, models={"verifier": TextOnly(refuse, model="refuses")}, limit=2)
    assert report.failed == 2 and report.judged == 0


def test_cancel_keeps_what_was_judged(ws: Workspace) -> None:
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 4:
            raise Cancelled()

    with pytest.raises(Cancelled):
        judge(ws, models={"verifier": ScriptedChat(judge_reply)}, tick=tick)
    assert len(scores_per_sample(ws)) == 4
    status = ws.db.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert status == "cancelled"


def test_generator_filter_and_limit_checks(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="unknown generator"):
        judge(ws, models={"verifier": ScriptedChat(judge_reply)}, generators=["nope"])
    report = judge(ws, models={"verifier": ScriptedChat(judge_reply)}, generators=["describe"])
    describe = ws.db.execute(
        "SELECT count(*) FROM samples WHERE status = 'kept' AND generator = 'describe'"
    ).fetchone()[0]
    assert report.judged == describe == report.kept and report.by_generator == {
        "describe": describe
    }


def test_concurrent_judging_stores_the_same_scores(
    ws: Workspace, built: Path, tmp_path: Path
) -> None:
    judge(ws, models={"verifier": ScriptedChat(judge_reply)})
    other = copy_workspace(built, tmp_path / "concurrent")
    other.config.synth.concurrency = 3
    model = ScriptedChat(judge_reply, latency_s=0.002)
    report = judge(other, models={"verifier": model})
    assert report.judged == report.kept == len(model.calls)
    assert scores_per_sample(other) == scores_per_sample(ws)
    other.close()


def test_sigkill_at_three_points_then_resume(ws: Workspace) -> None:
    """Scripted judge in a subprocess, killed three times, then run to the end: one score per
    sample and criterion, and no prompt sent to the model twice."""
    total = len(kept(ws))
    watcher = sqlite3.connect(ws.root / "medsynth.db", timeout=30)
    kills = []
    for point in (total // 5, total // 2, (4 * total) // 5):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.review", str(ws.root), "0.01"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        done = 0
        while done < point:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, f"the child never reached {point} samples"
            time.sleep(0.005)
            done = watcher.execute("SELECT count(DISTINCT sample_id) FROM judgements").fetchone()[0]
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        kills.append(done)
    watcher.close()
    assert kills[-1] < total
    final = ScriptedChat(judge_reply)
    report = judge(ws, models={"verifier": final})
    assert report.already_judged + report.judged == total
    assert all(len(s) == len(CRITERIA) for s in scores_per_sample(ws).values())
    assert len(scores_per_sample(ws)) == total
    repeated = ws.db.execute(
        "SELECT prompt_hash, count(*) FROM llm_calls WHERE role = 'verifier' GROUP BY prompt_hash, "
        "image_hashes HAVING count(*) > 1"
    ).fetchall()
    assert repeated == []
    assert len(final.calls) == report.judged - report.cache_hits
