"""Convert the tiny Idefics3 (SmolVLM layout) of ``models/tiny`` to GGUF + mmproj with llama.cpp's
own converter (``just gguf-tools`` fetches it once), offline: ``just tiny-gguf [OUT]``.

The tests do the same in a session fixture (``tests/conftest.py::tiny_gguf``); this script is for
trying the llamacpp backend with images by hand, e.g.
``medsynth chat -m llamacpp:models/tiny/gguf/tiny-idefics3-f16.gguf,mmproj=...``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from medsynth.train.gguf_convert import Converted, convert


def convert_tiny(source: Path, out: Path) -> tuple[Converted, Converted]:
    """The tiny Idefics3 folder ``source`` as ``tiny-idefics3-f16.gguf`` and
    ``mmproj-tiny-idefics3-f16.gguf`` in ``out``. Our tiny tokenizer is a GPT-2-style byte-level
    BPE that llama.cpp's hash table cannot know, so its pre-tokenizer is named (``gpt-2``)."""
    model = convert(source, out / "tiny-idefics3-f16.gguf", pretokenizer_fallback="gpt-2")
    mmproj = convert(source, out / "mmproj-tiny-idefics3-f16.gguf", mmproj=True)
    return model, mmproj


def main(argv: list[str]) -> int:
    """Write ``tiny-idefics3-f16.gguf`` and ``mmproj-tiny-idefics3-f16.gguf`` into OUT."""
    here = Path(__file__).resolve().parent
    out = Path(argv[0]) if argv else here / "tiny" / "gguf"
    source = here / "tiny" / "idefics3"
    if not (source / "config.json").is_file():
        print(f"no tiny Idefics3 at {source}: run `just tiny-models` first", file=sys.stderr)
        return 2
    started = time.perf_counter()
    model, mmproj = convert_tiny(source, out)
    print(f"{model.path} ({model.seconds:.1f} s)\n{mmproj.path} ({mmproj.seconds:.1f} s)")
    print(f"both in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
