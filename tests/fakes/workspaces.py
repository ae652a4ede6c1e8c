"""A grounded demo workspace, as the TUI tests and the TUI benchmark use it."""

from __future__ import annotations

from pathlib import Path

from medsynth.workspace import Workspace


def grounded_demo(folder: Path) -> Path:
    """``folder/ws``: the demo KG (indexed), the four demo records ingested and grounded with the
    embedded SmolLM2 (real llama.cpp); returns the workspace folder."""
    from medsynth.demo import demo_kg_dir
    from medsynth.demo_records import write_demo_records
    from medsynth.ground import ground
    from medsynth.ingest import ingest
    from medsynth.kg.service import build_indexes, import_kg, link_entity_images

    ws = Workspace.init(folder / "ws")
    kg = demo_kg_dir()
    import_kg(ws, kg / "triples.tsv", "triples")
    link_entity_images(ws, kg / "images", "folders")
    build_indexes(ws)
    ingest(ws, write_demo_records(folder / "records"), "folder", name="demo")
    ground(ws, "demo")
    ws.close()
    return folder / "ws"
