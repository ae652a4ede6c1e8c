"""``medsynth demo``: the main job end to end on the demo KG the project ships.

Init a workspace, import ``kg/demo`` (triples + procedurally generated images), build the vector
indexes, then show what the KG holds: stats, paths, and nearest entities by text and by image.
Running it again reuses the workspace and redoes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.kg.images import open_image
from medsynth.kg.indexes import search_image, search_text
from medsynth.kg.service import build_indexes, entity_paths, import_kg, kg_stats, link_entity_images
from medsynth.workspace import Workspace

DEMO_PATH_ENTITIES = ("Lung Cancer", "Liver")
DEMO_TEXT_QUERIES = ("lung mass", "enlarged heart", "stone in the kidney")
DEMO_IMAGE_QUERY = ("Kidney Stone", "1.png")
DEMO_CAPTIONS = (
    "Axial CT of the chest shows a spiculated mass in the right upper lobe of the lung.",
    "Non-contrast CT of the abdomen: a bright calculus in the left kidney with mild "
    "hydronephrosis.",
    "Chest radiograph with an enlarged cardiac silhouette, consistent with cardiomegaly.",
)


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


def run_demo(workspace: Path, progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Run every demo step; returns what each step produced."""
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    kg_dir = demo_kg_dir()

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)

    say(f"[1/6] workspace {workspace.resolve()}")
    ws = Workspace.init(workspace)
    step("init")
    say(f"[2/6] importing the demo KG from {kg_dir / 'triples.tsv'}")
    imported = import_kg(ws, kg_dir / "triples.tsv", "triples")
    step("import")
    say(f"[3/6] linking entity images from {kg_dir / 'images'}")
    linked = link_entity_images(ws, kg_dir / "images", "folders")
    step("link_images")
    say("[4/6] building vector indexes (MiniLM text encoder, thumbnail image fallback)")
    indexes = build_indexes(ws)
    step("index")
    say("[5/6] querying the KG")
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
    say("[6/6] asking the embedded chat model (llama.cpp) for each demo caption's entities")
    extraction = extract_demo_entities(ws)
    step("extract")
    result = {
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
        "extraction": extraction,
        "seconds": timings,
    }
    ws.close()
    return result


def extract_demo_entities(ws: Workspace) -> dict[str, Any]:
    """Extract {disease, organ} from the demo captions with the generator role, logged and
    cached in llm_calls, and match the names exactly against the KG (grounding's first stage)."""
    from medsynth.backends.base import InvalidOutput
    from medsynth.backends.calllog import CallLog
    from medsynth.backends.registry import EMBEDDED_WARNING, chat_model, is_embedded
    from medsynth.ground.extract import Extractor
    from medsynth.kg.lookup import KINDS, ExactMatcher
    from medsynth.store.runs import RunRecorder, record_reject

    role = ws.config.models.generator
    model = chat_model(ws.config, "generator")
    matcher = ExactMatcher(ws.db)
    rows = []
    with RunRecorder(ws.db, "demo extract", {"role": role.model_dump()}) as run:
        calllog = CallLog(ws.db, model, role="generator", run_id=run.run_id)
        extractor = Extractor(calllog, max_tokens=96)
        for number, caption in enumerate(DEMO_CAPTIONS, 1):
            row: dict[str, Any] = {"caption": caption}
            try:
                found = extractor.extract(None, caption, derived=False)
            except InvalidOutput as exc:
                record_reject(
                    ws.db,
                    stage="demo extract",
                    source=f"caption {number}",
                    raw=exc.raw,
                    reason=exc.message,
                    run_id=run.run_id,
                )
                row["rejected"] = exc.message
                rows.append(row)
                continue
            extracted = {"disease": found.disease, "organ": found.organ}
            row.update(extracted=extracted, call_id=found.call_id, cached=found.cached)
            row["kg_matches"] = {
                kind: (match.name if (match := matcher.match(extracted[kind], kind)) else None)
                for kind in KINDS
            }
            rows.append(row)
        run.summary = {"model_calls": calllog.model_calls, "cache_hits": calllog.cache_hits}
    return {
        "model": f"{model.backend}:{Path(model.model).name}",
        "warning": EMBEDDED_WARNING if is_embedded(role) else "",
        "model_calls": calllog.model_calls,
        "cache_hits": calllog.cache_hits,
        "captions": rows,
    }
