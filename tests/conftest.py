"""Shared fixtures: workspaces, the real SLAKE data in ../shared/data, the MiniLM encoder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medsynth.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path in ../shared/data; fails (never skips) when the data is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"missing shared data {path}: the tests need ../shared/data beside the repo")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace in a temporary folder."""
    workspace = Workspace.init(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def slake_kg() -> Path:
    """SLAKE's KG folder."""
    return shared_path("slake", "KG")


@pytest.fixture(scope="session")
def slake_imgs() -> Path:
    """SLAKE's imgs folder (xmlabN/source.jpg + detection.json)."""
    return shared_path("slake", "imgs")


def write(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path``, creating folders; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
