"""Start-up cost and layering: the TUI starts fast, and core code never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_utils_is_imported_without_pandas_and_pandas_still_works() -> None:
    code = (
        "import sys, medsynth, sqlite_utils.db as d; "
        "assert 'pandas' not in sys.modules, 'pandas loaded at start-up'; "
        "assert d.pd is None; import pandas; print(pandas.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "pandas"


def test_the_tui_start_path_loads_no_heavy_library() -> None:
    code = (
        "import sys, medsynth.cli, medsynth.tui.app; "
        "heavy = sorted(m for m in ('torch', 'transformers', 'llama_cpp', 'hnswlib', 'pandas', "
        "'sentence_transformers', 'open_clip', 'trl', 'datasets') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_never_imports_the_tui_and_the_layers_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Core never imports the TUI (or Textual) KEPT" in out.stdout
    assert "each layer imports only the layers below it KEPT" in out.stdout
    assert "2 kept, 0 broken" in out.stdout
