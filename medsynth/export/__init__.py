"""Export kept samples as training files: LLaVA JSON, ShareGPT for LLaMA-Factory, TRL SFT and GRPO
JSONL, with the images they use, ``dataset_card.md`` and ``manifest.json``.

An export folder::

    images/<16 hex>.png   each image once: its pixels re-encoded as a bare PNG (no EXIF, ICC or
                          text chunks; EXIF orientation applied), named by the first 16 hex digits
                          of the PNG's SHA-256, so source file names (which can hold patient
                          identifiers) never appear. With ``link=True`` a plain PNG/JPEG becomes a
                          symbolic link to the original file instead, named by the file's SHA-256
                          (``.png`` / ``.jpg``): the original metadata stays in it.
    llava.json | sharegpt.json + dataset_info.json | sft.jsonl | grpo.jsonl
                          the samples (``*_eval`` beside them with ``split_eval``)
    dataset_card.md       counts, KG coverage, models, templates, rejects, intended use
    manifest.json         selection, counts, every file with its SHA-256; written last, so an
                          export without it did not finish

Rows that cannot be exported (missing or unreadable image, a path outside its dataset root,
malformed JSON) are skipped, listed in the manifest and the card with the sample id and a reason
that names no file, and stored in ``rejects`` (stage ``export``) with the details.
"""

from medsynth.export.formats import FORMATS, grpo_eligible
from medsynth.export.images import png_bytes
from medsynth.export.writer import ExportReport, Skipped, export_samples, held_out

__all__ = [
    "FORMATS",
    "ExportReport",
    "Skipped",
    "export_samples",
    "grpo_eligible",
    "held_out",
    "png_bytes",
]
