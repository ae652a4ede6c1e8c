"""The demo's own image-caption records: procedural CT-like slices (``kg/phantom.py``, variants
the KG's entity images do not use) upscaled to 384x384, each with a caption written for it, in
the ``folder`` layout ``ingest`` reads (``NAME.png`` + ``NAME.txt``). Made on the fly, so the
repository ships no extra images; deterministic."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from medsynth.kg.phantom import render

SIZE = 384
VARIANT = 7  # not one of the KG's own entity images (variants 0 and 1)
DEMO_RECORDS: tuple[tuple[str, str, str], ...] = (
    (
        "case01_chest",
        "Lung Cancer",
        "Axial contrast-enhanced CT of the chest shows a spiculated mass in the right upper lobe "
        "of the lung, suspicious for lung cancer; no pleural effusion and the mediastinum is "
        "unremarkable.",
    ),
    (
        "case02_abdomen",
        "Kidney Stone",
        "Non-contrast CT of the abdomen: a dense calculus in the left kidney with mild "
        "hydronephrosis, consistent with a kidney stone; the liver and spleen are normal.",
    ),
    (
        "case03_chest",
        "Cardiomegaly",
        "Axial CT of the chest with an enlarged heart: cardiomegaly with a widened cardiac "
        "silhouette; the lungs are clear without consolidation or pleural effusion.",
    ),
    (
        "case04_liver",
        "Liver Cyst",
        "Contrast-enhanced CT of the abdomen shows a well-defined hypodense lesion in the liver, "
        "a simple liver cyst; the kidney and spleen appear normal.",
    ),
)


def write_demo_records(out: Path) -> Path:
    """Write the demo records into ``out`` (kept if already there); returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, entity, caption in DEMO_RECORDS:
        image = out / f"{name}.png"
        if not image.exists():
            big = render(entity, VARIANT).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
            big.save(image, format="PNG")
        text = out / f"{name}.txt"
        if not text.exists():
            text.write_text(caption + "\n", encoding="utf-8")
    return out
