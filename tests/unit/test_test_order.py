"""The suite's longest files go first (so that parallel workers never end on a long test)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FIRST, REPO


def test_every_listed_file_exists_once() -> None:
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [name for name in LONGEST_FIRST if not (REPO / name).is_file()] == []


def test_the_longest_files_come_first(request: object) -> None:
    session = request.session  # type: ignore[attr-defined]
    files = [Path(item.nodeid.split("::")[0]).as_posix() for item in session.items]
    listed = [f for f in files if f in LONGEST_FIRST]
    if listed:  # the whole suite (or part of the list) was collected
        assert files[: len(listed)] == listed
        assert listed == sorted(listed, key=LONGEST_FIRST.index)
