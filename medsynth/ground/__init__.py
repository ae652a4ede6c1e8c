"""Grounding: link ingested records to KG entities (MedKInstruct's two-stage matching).

:mod:`~medsynth.ground.extract` asks the vision generator for a record's disease and organ;
:class:`~medsynth.kg.lookup.ExactMatcher` matches names and aliases exactly;
:mod:`~medsynth.ground.fuzzy` ranks KG entities by image + text similarity and lets the verifier
confirm one;
:mod:`~medsynth.ground.service` runs it all resumably; :mod:`~medsynth.ground.report` sums it up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medsynth.ground.model import GroundReport
    from medsynth.ground.report import exact_coverage_slake, ground_report
    from medsynth.ground.service import ground

__all__ = ["GroundReport", "exact_coverage_slake", "ground", "ground_report"]

# imported on first use, so that reading the workspace (medsynth.ground.queries, which the TUI
# loads at start) does not load the grounding service and its vector index (hnswlib)
_HOMES = {
    "GroundReport": "medsynth.ground.model",
    "exact_coverage_slake": "medsynth.ground.report",
    "ground_report": "medsynth.ground.report",
    "ground": "medsynth.ground.service",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
