"""MedSynth: knowledge-grounded medical instruction data, trained and evaluated locally.

Importing the package switches the model-hub libraries to offline mode before any of them load:
MedSynth never downloads anything at run time.
"""

from __future__ import annotations

import logging
import os

__version__ = "0.1.0"

_OFFLINE_SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _key, _value in _OFFLINE_SWITCHES.items():
    os.environ.setdefault(_key, _value)

# bitsandbytes (imported by transformers / peft when present) warns on every CPU import that it
# cannot fetch optimised kernels from the hub ("kernels-community"); MedSynth never fetches
# anything, so the warning is noise.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def _import_sqlite_utils_without_pandas() -> None:
    """Import sqlite-utils with pandas hidden: it imports pandas (~0.3 s) only to map
    ``pandas.Timestamp`` columns, which MedSynth never writes; every command starts faster.
    pandas itself stays importable afterwards (datasets uses it)."""
    import sys

    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]  # makes `import pandas` fail
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["pandas"]


_import_sqlite_utils_without_pandas()
