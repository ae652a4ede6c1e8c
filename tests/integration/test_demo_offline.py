"""``medsynth demo`` end to end, in a fresh process that records every network attempt.

The process installs a Python audit hook before importing MedSynth: any ``socket.connect`` or
name lookup is recorded. The demo loads real models (MiniLM from its PyPI package) and must not
reach any address at all: no hub, no telemetry.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AUDITED_RUN = r"""
import json, sys
events = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                 "socket.sendto", "socket.bind") or event.startswith("urllib.Request"):
        events.append([event, repr(args)[:200]])
sys.addaudithook(hook)
import io, contextlib
from medsynth.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["demo", "-w", sys.argv[1], "--json"])
print(json.dumps({"code": code, "events": events, "demo": json.loads(out.getvalue())}))
"""


def run_demo(workspace: Path) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workspace.parent), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", AUDITED_RUN, str(workspace)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_demo_runs_offline_and_again_without_redoing_work(tmp_path: Path) -> None:
    first = run_demo(tmp_path / "demo")
    assert first["code"] == 0
    assert first["events"] == [], first["events"]
    demo = first["demo"]
    stats = demo["stats"]
    assert stats["entities"] >= 40
    assert len(stats["entities_by_type"]) >= 3
    assert stats["entities_by_type"]["system"] >= 4
    assert stats["triples"] >= 200
    assert stats["entities_with_images"] >= 15
    assert demo["import"]["rejects"] == []
    assert {i["name"]: i["built"] and not i["stale"] for i in stats["indexes"]} == {
        "entity_text": True,
        "entity_image": True,
    }
    image_index = next(i for i in stats["indexes"] if i["name"] == "entity_image")
    assert image_index["weak"] is True
    location = demo["paths"]["Lung Cancer"][0]
    assert location["text"] == "Lung Cancer -[location]-> Lung -[belong to]-> Respiratory System"
    top = {query: hits[0]["name"] for query, hits in demo["text_search"].items()}
    assert top["enlarged heart"] == "Cardiomegaly"  # an alias in the demo KG
    assert top["stone in the kidney"] == "Kidney Stone"
    assert demo["image_search"]["hits"][0]["name"] == "Kidney Stone"

    assert demo["ingest"]["records_new"] == demo["ingest"]["kept_new"] == 4
    ground = demo["ground"]
    assert ground["records"] == 4 and len(ground["record_matches"]) == 4
    synth = demo["synth"]
    ran = set(synth["tasks"]) | set(synth["tasks_failed"])
    assert {"multihop", "hardneg", "describe", "instruct", "reasoning"} <= ran
    assert synth["totals"]["hardneg"]["kept"] >= 4  # m = 2 per record, model-free
    assert_no_hard_negative_contradicts_a_caption(tmp_path / "demo")
    assert synth["rejected_by_detector"]  # the gate's counts reach the report (and the demo)
    assert sum(synth["model_calls"].values()) > 0
    assert "medical content is poor" in " ".join(synth["warnings"])
    # the embedded model reads text only: every kept sample was written from text alone
    kept = {g: c["kept"] for g, c in synth["totals"].items() if c.get("kept")}
    use = synth["image_use"]
    assert {g: c["with_image"] + c["text_only"] for g, c in use.items()} == kept
    assert all(c["with_image"] == 0 for c in use.values())
    assert synth["blinded"] and all(use[g]["text_only"] >= n for g, n in synth["blinded"].items())
    sft = demo["exports"]["trl-sft"]
    assert sft["samples"] > 0
    lines = Path(sft["out"], "sft.jsonl").read_text().splitlines()
    assert len(lines) == sft["samples"]
    first_sample = json.loads(lines[0])
    assert first_sample["messages"][-1]["role"] == "assistant"
    assert all((Path(sft["out"]) / image).is_file() for image in first_sample["images"])
    assert (Path(sft["out"]) / "dataset_card.md").is_file()
    assert demo["exports"]["trl-grpo"]["samples"] > 0

    second = run_demo(tmp_path / "demo")
    assert second["events"] == []
    assert second["demo"]["import"]["triples_new"] == 0
    assert second["demo"]["link_images"]["links_new"] == 0
    assert all(not i["rebuilt"] for i in second["demo"]["indexes"])
    again = second["demo"]
    assert again["ingest"]["records_new"] == 0
    assert again["ground"]["records"] == 0
    assert sum(again["synth"]["model_calls"].values()) == 0  # nothing left to ask
    assert sum(again["synth"]["tasks"].values()) == 0
    assert again["synth"]["totals"] == synth["totals"]
    assert again["exports"]["trl-sft"]["samples"] == sft["samples"]


# what each demo caption states (its disease, and the other findings it affirms)
STATED = {
    "case01_chest": {"Lung Cancer"},
    "case02_abdomen": {"Kidney Stone", "Hydronephrosis"},
    "case03_chest": {"Cardiomegaly"},
    "case04_liver": {"Liver Cyst"},
}


def assert_no_hard_negative_contradicts_a_caption(workspace: Path) -> None:
    """Issue 13's wrong labels: "Does this image show Kidney Stone? -> No." on the kidney-stone
    record, "Liver Cyst -> No." on the liver-cyst record."""
    import sqlite3

    db = sqlite3.connect(workspace / "medsynth.db")
    rows = db.execute(
        "SELECT r.key, s.meta FROM samples s JOIN records r ON r.id = s.record_id "
        "WHERE s.generator = 'hardneg' AND s.status = 'kept'"
    ).fetchall()
    db.close()
    assert rows
    for key, meta in rows:
        stem = Path(key).stem
        assert json.loads(meta)["negative"] not in STATED[stem], (stem, meta)


def test_the_audit_hook_does_see_connection_attempts() -> None:
    """Control: the same hook records a real attempt, so an empty list above means something."""
    probe = AUDITED_RUN.split("import io")[0] + (
        "import socket\n"
        "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError:\n    pass\n"
        "print(json.dumps(events))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    events = json.loads(done.stdout)
    assert any(event == "socket.connect" and "127.0.0.1" in args for event, args in events)
