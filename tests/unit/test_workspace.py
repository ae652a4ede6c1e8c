"""Workspace creation, permissions, WAL, migrations and config validation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from medsynth.config import Config, load_config, render_config
from medsynth.errors import ConfigError, InputError, WorkspaceError
from medsynth.store.migrations import MIGRATIONS, applied_migrations
from medsynth.workspace import SUBDIRS, Workspace


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_owner_only_files(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    assert mode(ws.root / "medsynth.toml") == 0o600
    assert mode(ws.root / "medsynth.db") == 0o600
    assert mode(ws.root) == 0o700
    for sub in SUBDIRS:
        assert (ws.root / sub).is_dir()
        assert mode(ws.root / sub) == 0o700
    assert ws.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert applied_migrations(ws.db) == [n for n, _, _ in MIGRATIONS]
    for table in ("entities", "aliases", "triples", "entity_images", "runs", "rejects"):
        assert table in ws.db.table_names()


def test_init_twice_keeps_config_and_data(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "medsynth.toml").write_text('[kg]\ndefault_language = "zh"\n')
    ws.db.table("entities").insert(
        {"name": "Lung", "norm": "lung", "type": "organ", "language": "en"}
    )
    ws.close()
    again = Workspace.init(tmp_path / "ws")
    assert again.config.kg.default_language == "zh"
    assert again.db.table("entities").count == 1


def test_open_requires_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a MedSynth workspace") as info:
        Workspace.open(tmp_path)
    assert "medsynth init" in info.value.hint


def test_open_uses_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Workspace.init(tmp_path / "ws").close()
    monkeypatch.setenv("MEDSYNTH_WORKSPACE", str(tmp_path / "ws"))
    assert Workspace.open().root == (tmp_path / "ws").resolve()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.db.table("_migrations").insert({"number": 999, "name": "future", "applied_at": "x"})
    ws.close()
    with pytest.raises(WorkspaceError, match="schema version 999"):
        Workspace.open(tmp_path / "ws")


def test_paths_cannot_escape_the_workspace(ws: Workspace) -> None:
    assert ws.path("exports", "a.json").parent == ws.root / "exports"
    with pytest.raises(InputError, match="escapes"):
        ws.path("..", "elsewhere")


def test_config_round_trip_and_comments() -> None:
    text = render_config(Config())
    assert "# hnswlib ef at query time" in text
    assert "[index]" in text
    import tomllib

    assert Config.model_validate(tomllib.loads(text)) == Config()


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "medsynth.toml"
    path.write_text("[index]\nhnsw_m = 1\n")
    with pytest.raises(ConfigError, match=r"index\.hnsw_m") as info:
        load_config(path)
    assert info.value.source == str(path)
    path.write_text("[index\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    path.write_text("[index]\nunknown_key = 1\n")
    with pytest.raises(ConfigError, match="unknown_key"):
        load_config(path)
