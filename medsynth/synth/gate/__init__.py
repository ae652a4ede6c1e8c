"""The quality gate: named detectors every draft passes before it can be kept.

Each detector is a small pure function of the draft's text and the record's evidence (no model
call), so what it lets through does not depend on how good the generator is. A detector that
fires returns reasons of the form ``"<detector>: <what and where>"``; the sample is stored
``rejected`` with them, never dropped silently. Thresholds live in ``[synth.checks]``
(:class:`medsynth.config.ChecksConfig`).

Detectors: ``repetition``, ``prompt_copy``, ``notation``, ``truncation``, ``stages``,
``path_unused``, ``key_answer_absent``, ``unsupported`` and ``label`` (see each function).
The form detectors live in :mod:`.form`, the content ones in :mod:`.claims`, the order in
:mod:`.inspection`.
"""

from medsynth.synth.gate.claims import (
    contradiction,
    key_answer_absent,
    label,
    path_unused,
    presence_question,
    unsupported,
    uses,
)
from medsynth.synth.gate.form import notation, prompt_copy, repetition, stages, truncation
from medsynth.synth.gate.inspection import detector_of, inspect
from medsynth.synth.gate.model import DETECTORS, Candidate, Facts

__all__ = [
    "DETECTORS",
    "Candidate",
    "Facts",
    "contradiction",
    "detector_of",
    "inspect",
    "key_answer_absent",
    "label",
    "notation",
    "path_unused",
    "presence_question",
    "prompt_copy",
    "repetition",
    "stages",
    "truncation",
    "unsupported",
    "uses",
]
