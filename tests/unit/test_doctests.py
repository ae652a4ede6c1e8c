"""Run the doctests in MedSynth's modules (worked examples in docstrings must stay true)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import medsynth

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(medsynth.__path__, "medsynth.")
    if not m.name.startswith(("medsynth.cli", "medsynth.__main__"))
)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
