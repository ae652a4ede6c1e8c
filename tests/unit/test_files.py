"""medsynth.files: the one home of safe paths, checked images, hashes and owner-only writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medsynth.errors import InputError
from medsynth.files import open_private, private_dir, safe_child, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_writes_ignore_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        write_private(folder / "x.bin", b"\x00\x01")
        with os.fdopen(open_private(folder / "log.txt", append=True), "a") as handle:
            handle.write("one\n")
        with os.fdopen(open_private(folder / "log.txt", append=True), "a") as handle:
            handle.write("two\n")
    finally:
        os.umask(old)
    assert mode(folder) == 0o700
    assert mode(folder / "x.bin") == 0o600 and (folder / "x.bin").read_bytes() == b"\x00\x01"
    assert (folder / "log.txt").read_text() == "one\ntwo\n" and mode(folder / "log.txt") == 0o600


def test_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    link = tmp_path / "link.txt"
    link.symlink_to(outside)
    with pytest.raises(OSError):
        write_private(link, "overwritten")
    assert outside.read_text() == "untouched"


def test_safe_child_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.png").write_bytes(b"x")
    (root / "sneaky.png").symlink_to(tmp_path / "elsewhere.png")
    assert safe_child(root, root / "ok.png") == (root / "ok.png").resolve()
    for bad in (root / ".." / "ok.png", root / "sneaky.png"):
        with pytest.raises(InputError, match="escapes the dataset root"):
            safe_child(root, bad)
