"""Ingest throughput: SLAKE train (English) with every filter on, and a folder of generated
512x512 PNGs with captions (filters on, filters off, and a finished re-run).

Run as ``.venv/bin/python tests/bench/bench_ingest.py [--images N] [--skip-slake]``. It prints
numbers and never asserts. The MiniLM load is timed on its own, outside the ingest numbers.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from medsynth.ingest import IngestReport, ingest  # noqa: E402
from medsynth.workspace import Workspace  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
MODALITIES = ("Axial CT", "Coronal CT", "T2-weighted MRI", "FLAIR MRI", "Chest radiograph")
ORGANS = ("left lung", "right lung", "liver", "spleen", "pancreas", "left kidney", "brain")
FINDINGS = ("nodule", "mass", "cyst", "abscess", "hematoma", "infarct", "calcification", "edema")
EXTRAS = ("pleural effusion", "ascites", "lymphadenopathy", "atelectasis", "hydronephrosis")
SIZES = ("small", "large", "ill-defined", "well-circumscribed", "lobulated", "enhancing")


def caption(rng: random.Random) -> str:
    """A varied synthetic radiology caption with at least five medical terms."""
    return (
        f"{rng.choice(MODALITIES)} of the {rng.choice(ORGANS)} shows a {rng.choice(SIZES)} "
        f"{rng.choice(FINDINGS)} measuring {rng.randint(4, 60)} mm, with "
        f"{rng.choice(EXTRAS)} and {rng.choice(EXTRAS)}; no {rng.choice(FINDINGS)} in the "
        f"{rng.choice(ORGANS)}."
    )


def generate_folder(root: Path, count: int, size: int = 512, seed: int = 7) -> float:
    """``count`` smooth random greyscale PNGs with sidecar captions; returns seconds taken."""
    started = time.perf_counter()
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        low = np_rng.integers(0, 255, (16, 16), dtype=np.uint8)
        image = Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC)
        image.save(root / f"case{i:05d}.png", compress_level=1)
        (root / f"case{i:05d}.txt").write_text(caption(rng), encoding="utf-8")
    return time.perf_counter() - started


def line(label: str, report: IngestReport, seconds: float) -> None:
    """One printed result."""
    totals = report.totals
    items = report.records_new + report.records_existing
    print(
        f"{label:44} {items:6d} items {seconds:7.2f} s  {items / seconds:8.1f} items/s  "
        f"kept {totals['kept']}, filtered {totals['filtered_by']}, rejects {totals['rejects']}"
    )


def timed_ingest(
    ws: Workspace, path: Path, fmt: str, **kwargs: object
) -> tuple[IngestReport, float]:
    """Run one ingest and time it."""
    started = time.perf_counter()
    report = ingest(ws, path, fmt, **kwargs)  # type: ignore[arg-type]
    return report, time.perf_counter() - started


def main() -> None:
    """Run the benchmarks and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=2000, help="generated PNGs (512x512)")
    parser.add_argument("--skip-slake", action="store_true", help="only the generated folder")
    args = parser.parse_args()
    from medsynth.backends.encoders import text_encoder

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        started = time.perf_counter()
        text_encoder(ws.config.models.text_encoder)
        print(f"MiniLM text encoder load: {time.perf_counter() - started:.2f} s (not counted)")
        if not args.skip_slake:
            from medsynth.kg.service import import_kg

            import_kg(ws, SHARED / "slake" / "KG", "slake")
            report, seconds = timed_ingest(ws, SHARED / "slake", "slake", filters=True)
            line("SLAKE train en, every filter on", report, seconds)
            report, seconds = timed_ingest(ws, SHARED / "slake", "slake", filters=True)
            line("SLAKE train en, re-run (nothing new)", report, seconds)
        folder = Path(tmp) / "folder"
        made = generate_folder(folder, args.images)
        print(f"generated {args.images} 512x512 PNGs with captions in {made:.1f} s")
        report, seconds = timed_ingest(ws, folder, "folder", name="gen-filters")
        line(f"folder {args.images} PNG, every filter on", report, seconds)
        report, seconds = timed_ingest(ws, folder, "folder", name="gen-nofilters", filters=False)
        line(f"folder {args.images} PNG, --no-filters", report, seconds)
        report, seconds = timed_ingest(ws, folder, "folder", name="gen-filters")
        line(f"folder {args.images} PNG, re-run (nothing new)", report, seconds)
        ws.close()


if __name__ == "__main__":
    main()
