"""``medsynth demo``: the main job end to end on the demo KG the project ships.

Init a workspace, import ``kg/demo`` (triples + procedurally generated images), build the vector
indexes and query them; then ingest the demo's own image-caption records, ground them, run every
synthesis generator with the embedded model and export the samples (TRL SFT, TRL GRPO, LLaVA).
Running it again reuses the workspace and redoes nothing (model calls come from the call log).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.files import open_image
from medsynth.kg.indexes import search_image, search_text
from medsynth.kg.service import build_indexes, entity_paths, import_kg, kg_stats, link_entity_images
from medsynth.store import overview
from medsynth.workspace import Workspace

DEMO_PATH_ENTITIES = ("Lung Cancer", "Liver")
DEMO_TEXT_QUERIES = ("lung mass", "enlarged heart", "stone in the kidney")
DEMO_IMAGE_QUERY = ("Kidney Stone", "1.png")


def demo_kg_dir() -> Path:
    """The shipped demo KG: inside the installed package, or ``kg/demo`` in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_demo_kg", package.parent / "kg" / "demo"):
        if (candidate / "triples.tsv").exists():
            return candidate
    raise InputError(
        "the demo KG is missing from this installation",
        source=str(package),
        hint="reinstall MedSynth, or run from a source checkout with kg/demo/",
    )


DEMO_FORMATS = ("trl-sft", "trl-grpo", "llava")
# Small enough for the embedded 135M model on two CPU cores; every generator still runs.
DEMO_SYNTH = {
    "multihop_per_record": 2,
    "reasoning_questions": 1,
    "reasoning_rois": 2,
    "reasoning_knowledge": 1,
    # each trajectory is five calls (LOC, VIS, KNO, conclusion, check): no second attempt here
    "reasoning_retries": 0,
    "max_tokens": 256,
    "reformat_max_tokens": 384,
    # the embedded SmolLM2 reads text only: describe / instruct are written blind, and say so
    "allow_blind": True,
}


def run_demo(workspace: Path, progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Run every demo step; returns what each step produced."""
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    kg_dir = demo_kg_dir()

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)

    say(f"[1/9] workspace {workspace.resolve()}")
    ws = Workspace.init(workspace)
    step("init")
    say(f"[2/9] importing the demo KG from {kg_dir / 'triples.tsv'}")
    imported = import_kg(ws, kg_dir / "triples.tsv", "triples")
    step("import")
    say(f"[3/9] linking entity images from {kg_dir / 'images'}")
    linked = link_entity_images(ws, kg_dir / "images", "folders")
    step("link_images")
    say("[4/9] building vector indexes (MiniLM text encoder, thumbnail image fallback)")
    indexes = build_indexes(ws)
    step("index")
    say("[5/9] querying the KG")
    paths = {}
    for name in DEMO_PATH_ENTITIES:
        entity, found = entity_paths(ws, name)
        paths[entity["name"]] = [p.as_dict() for p in found]
    text_hits = {q: [h.as_dict() for h in search_text(ws, q, k=3)] for q in DEMO_TEXT_QUERIES}
    probe = kg_dir / "images" / DEMO_IMAGE_QUERY[0] / DEMO_IMAGE_QUERY[1]
    image_hits = [
        h.as_dict() for h in search_image(ws, open_image(probe, ws.config.images.max_pixels), k=3)
    ]
    step("query")
    result: dict[str, Any] = {
        "workspace": str(ws.root),
        "import": {k: v for k, v in imported.as_dict().items() if k != "duplicates"},
        "link_images": linked.as_dict(),
        "indexes": indexes,
        "stats": kg_stats(ws),
        "paths": paths,
        "text_search": text_hits,
        "image_search": {
            "query": f"{DEMO_IMAGE_QUERY[0]}/{DEMO_IMAGE_QUERY[1]}",
            "encoder_weak": True,
            "hits": image_hits,
        },
    }
    result |= run_pipeline(ws, say, step)
    result["seconds"] = timings
    ws.close()
    return result


def run_pipeline(
    ws: Workspace, say: Callable[[str], Any], step: Callable[[str], None]
) -> dict[str, Any]:
    """Ingest the demo records, ground them, synthesise with every generator, export."""
    from medsynth.demo_records import write_demo_records
    from medsynth.export import export_samples
    from medsynth.ground import ground
    from medsynth.ingest import ingest
    from medsynth.synth.model import GENERATORS
    from medsynth.synth.service import sample_counts, synthesize

    records = write_demo_records(ws.root / "demo_records")
    say(f"[6/9] ingesting {records} (images with captions, folder layout)")
    ingested = ingest(ws, records, "folder", name="demo")
    step("ingest")
    say("[7/9] grounding the records in the KG with the embedded chat model (llama.cpp)")
    grounded = ground(ws, "demo")
    step("ground")
    say(
        "[8/9] synthesising with every generator (multihop, hardneg, keyanswer, describe, "
        "instruct, reasoning)"
    )
    options = ws.config.synth.model_copy(update=DEMO_SYNTH)

    def tick(generator: str, done: int, total: int) -> None:
        if done == total:
            say(f"      {generator}: {total} record(s)")

    synth = synthesize(ws, dataset="demo", options=options, progress=tick)
    step("synth")
    exports = {}
    for fmt in DEMO_FORMATS:
        out = ws.root / "exports" / f"demo-{fmt}"
        say(f"[9/9] exporting {fmt} to {out}")
        # key answers are RL targets (a few words): the SFT-style exports leave them out
        chosen = None if fmt == "trl-grpo" else [g for g in GENERATORS if g != "keyanswer"]
        report = export_samples(ws, out, fmt, generators=chosen, force=True)
        exports[fmt] = {
            "out": str(out),
            "samples": report.samples,
            "files": [str(f) for f in report.files],
            "by_generator": report.by_generator,
        }
    step("export")
    return {
        "ingest": {
            k: v
            for k, v in ingested.as_dict().items()
            if k in ("dataset", "records_new", "kept_new", "filtered_new", "rejects", "totals")
        },
        "ground": {k: v for k, v in grounded.as_dict().items() if k != "reject_reasons"}
        | {"record_matches": grounded_records(ws)},
        "synth": synth.as_dict()
        | {
            "totals": sample_counts(ws),
            "blinded": overview.blinded_counts(ws.db),
            "image_use": overview.image_use_counts(ws.db),
        },
        "examples": example_samples(ws),
        "exports": exports,
    }


def grounded_records(ws: Workspace) -> list[dict[str, Any]]:
    """What grounding found for each demo record."""
    rows = []
    for record_id, context in overview.dataset_contexts(ws.db, "demo"):
        found = {
            kind: {"mention": mention, "stage": stage, "entity": name}
            for kind, mention, stage, name in overview.record_matches(ws.db, record_id)
        }
        rows.append({"record": record_id, "caption": context, "matches": found})
    return rows


def example_samples(ws: Workspace) -> list[dict[str, Any]]:
    """The first kept sample of each generator."""
    return overview.first_kept_samples(ws.db)
