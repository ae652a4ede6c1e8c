"""Grounding: link ingested records to KG entities (MedKInstruct's two-stage matching).

:mod:`~medsynth.ground.extract` asks the vision generator for a record's disease and organ;
:class:`~medsynth.kg.lookup.ExactMatcher` matches names and aliases exactly;
:mod:`~medsynth.ground.fuzzy` ranks KG entities by image + text similarity and lets the verifier
confirm one;
:mod:`~medsynth.ground.service` runs it all resumably; :mod:`~medsynth.ground.report` sums it up.
"""

from medsynth.ground.model import GroundReport
from medsynth.ground.report import exact_coverage_slake, ground_report
from medsynth.ground.service import ground

__all__ = ["GroundReport", "exact_coverage_slake", "ground", "ground_report"]
