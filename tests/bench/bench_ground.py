"""Grounding throughput on the demo KG (MiniLM text index, thumbnail image index).

Records point at the demo KG's 256x256 phantom images; a scripted extractor answers with a mix
like real data (70 % KG names in other spellings, 20 % near-synonyms for the fuzzy stage, 10 %
nothing) and a scripted verifier confirms the right synonym.

1. Cached: ground every record once to fill the call log, clear the grounding rows, and ground
   again: every model call is answered from the cache (goal: >= 1,000 records/s).
2. Fixed latency: the same kind of records against models that take ``--latency`` s a call, at
   ``--concurrency``, versus the ideal (model calls x latency / concurrency).

Each runs twice: with the record image sent to the extractor (a vision model), and with a
text-only extractor (the embedded SmolLM2 has no vision projector). The call log hashes every
image it is given by PNG-encoding it (about 9 ms for a 256x256 image, holding the GIL), which
bounds the first case.

Run as ``.venv/bin/python tests/bench/bench_ground.py [--records N]`` (``just bench``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.demo import demo_kg_dir
from medsynth.ground import ground
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.store.runs import utc_now
from medsynth.workspace import Workspace

EXACT = [
    ("lung cancer", "LUNGS"),
    ("Kidney Stones", "kidney"),
    ("pulmonary carcinoma", "Lung"),
    ("Liver Cyst", "liver"),
    ("Pneumothorax", "lung"),
    ("renal calculus", "Kidneys"),
    ("BRAIN TUMOR", "Brain"),
]
FUZZY = [("lung mass", "chest", "Lung Cancer"), ("stone in the kidney", "renal", "Kidney Stone")]
SAME = {("lung mass", "Lung Cancer"), ("stone in the kidney", "Kidney Stone"), ("renal", "Kidney")}


def answer(i: int) -> dict[str, str]:
    """The extractor's answer for record ``i`` (7 exact : 2 fuzzy : 1 nothing)."""
    slot = i % 10
    if slot < 7:
        disease, organ = EXACT[(i // 10 + slot) % len(EXACT)]
    elif slot < 9:
        disease, organ, _ = FUZZY[slot - 7]
    else:
        disease, organ = "none", "none"
    return {"disease": disease, "organ": organ}


def extractor_reply(messages: list[Message]) -> str:
    text = str(messages[-1]["content"])
    return json.dumps(answer(int(text.split("record ")[1].split(":")[0])))


def verifier_reply(messages: list[Message]) -> str:
    lines = dict(
        line.split(": ", 1) for line in str(messages[-1]["content"]).splitlines() if ": " in line
    )
    return json.dumps({"same": (lines.get("First term"), lines.get("Second term")) in SAME})


class TextOnly(ScriptedChat):
    """A scripted extractor that, like SmolLM2 without a projector, cannot read images."""

    supports_images = False


def build(root: Path, records: int) -> Workspace:
    """Demo KG, its indexes, and ``records`` records over the demo images."""
    ws = Workspace.init(root)
    kg = demo_kg_dir()
    import_kg(ws, kg / "triples.tsv", "triples")
    link_entity_images(ws, kg / "images", "folders")
    build_indexes(ws)
    images = sorted(
        p.relative_to(kg / "images").as_posix() for p in (kg / "images").glob("*/*.png")
    )
    with ws.db.conn:
        cursor = ws.db.conn.execute(
            "INSERT INTO datasets (name, format, root, options, created_at) VALUES (?, ?, ?, ?, ?)",
            ["bench", "folder", str(kg / "images"), "{}", utc_now()],
        )
        dataset_id = cursor.lastrowid
        digests = {
            name: hashlib.sha256((kg / "images" / name).read_bytes()).hexdigest() for name in images
        }
        ws.db.conn.executemany(
            "INSERT INTO records (dataset_id, key, images, image_sha256, context, "
            "context_derived, status, created_at) VALUES (?, ?, ?, ?, ?, 0, 'kept', ?)",
            [
                (
                    dataset_id,
                    f"{images[i % len(images)]}#{i}",
                    json.dumps([images[i % len(images)]]),
                    json.dumps([digests[images[i % len(images)]]]),  # as ingest stores it
                    f"record {i}: axial CT slice, see findings.",
                    utc_now(),
                )
                for i in range(records)
            ],
        )
    return ws


def clear(ws: Workspace, *, calls: bool = False) -> None:
    """Forget the grounding (and with ``calls`` the call log) so that the records run again."""
    with ws.db.conn:
        for table in ("record_triples", "matches", "extractions", "rejects"):
            ws.db.conn.execute(f"DELETE FROM {table}")
        if calls:
            ws.db.conn.execute("DELETE FROM llm_calls")


def cached_rate(ws: Workspace, records: int, text_only: bool) -> dict[str, Any]:
    """Fill the call log, clear the rows, ground again from the cache."""
    kind = TextOnly if text_only else ScriptedChat
    clear(ws, calls=True)
    ground(ws, extractor=kind(extractor_reply), verifier=ScriptedChat(verifier_reply))
    clear(ws)
    started = time.perf_counter()
    report = ground(ws, extractor=kind([]), verifier=ScriptedChat([]))
    wall = time.perf_counter() - started
    assert report.records == records and sum(report.model_calls.values()) == 0
    return {"wall": wall, "rate": records / wall, "report": report}


def latency_run(ws: Workspace, args: argparse.Namespace, text_only: bool) -> None:
    """Ground every record against models that take ``args.latency`` s a call; print vs ideal."""
    clear(ws, calls=True)
    ws.config.ground.concurrency = args.concurrency
    kind = TextOnly if text_only else ScriptedChat
    extractor = kind(extractor_reply, latency_s=args.latency)
    verifier = ScriptedChat(verifier_reply, latency_s=args.latency)
    started = time.perf_counter()
    report = ground(ws, extractor=extractor, verifier=verifier)
    wall = time.perf_counter() - started
    calls = sum(report.model_calls.values())
    ideal = calls * args.latency / args.concurrency
    label = "text-only extractor" if text_only else "image sent to the extractor"
    print(
        f"fixed latency {args.latency * 1000:.0f} ms at concurrency {args.concurrency}, {label}: "
        f"{report.records} records, {calls} model calls in {wall:.2f} s (ideal {ideal:.2f} s), "
        f"efficiency {ideal / wall:.3f}, {report.records / wall:,.1f} records/s"
    )


def main() -> None:
    """Print the cached and the fixed-latency throughput."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--latency-records", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = build(Path(tmp) / "ws", args.records)
        stages = None
        for text_only in (False, True):
            result = cached_rate(ws, args.records, text_only)
            stages = result["report"].as_dict()["stages"]
            label = "text-only extractor" if text_only else "image sent to the extractor"
            print(
                f"cached re-run, {label}: {args.records} records in {result['wall']:.2f} s = "
                f"{result['rate']:,.0f} records/s (goal >= 1,000), 0 model calls"
            )
        print(f"  stages per kind: {stages}")
        ws.close()
        lat = build(Path(tmp) / "lat", args.latency_records)
        for text_only in (False, True):
            latency_run(lat, args, text_only)
        lat.close()


if __name__ == "__main__":
    main()
