"""A workspace: one folder with ``medsynth.toml``, ``medsynth.db`` and the files MedSynth makes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from medsynth.config import CONFIG_FILE, Config, load_config, write_config
from medsynth.errors import InputError, WorkspaceError
from medsynth.store.db import open_database
from medsynth.store.runs import mark_interrupted

DB_FILE = "medsynth.db"
ENV_VAR = "MEDSYNTH_WORKSPACE"
SUBDIRS = ("indexes", "images", "exports", "adapters", "logs")


def default_workspace_path() -> Path:
    """``$MEDSYNTH_WORKSPACE`` if set, else the current folder."""
    return Path(os.environ.get(ENV_VAR) or ".")


@dataclass
class Workspace:
    """An opened workspace: its folder, validated config and migrated database."""

    root: Path
    config: Config
    db: sqlite_utils.Database = field(repr=False)

    @classmethod
    def init(cls, root: Path, config: Config | None = None) -> Workspace:
        """Create (or complete) a workspace in ``root``; an existing config is kept as it is."""
        root = root.expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise WorkspaceError(
                "exists and is not a folder", source=str(root), hint="choose another path"
            )
        old_umask = os.umask(0o077)
        try:
            root.mkdir(parents=True, exist_ok=True)
            for sub in SUBDIRS:
                (root / sub).mkdir(exist_ok=True)
            config_path = root / CONFIG_FILE
            if not config_path.exists():
                write_config(config_path, config or Config())
            db = open_database(root / DB_FILE, create=True)
        finally:
            os.umask(old_umask)
        return cls(root=root, config=load_config(config_path), db=db)

    @classmethod
    def open(cls, root: Path | None = None) -> Workspace:
        """Open an existing workspace (``root`` defaults to :func:`default_workspace_path`);
        runs left ``running`` by a process that is gone are marked ``interrupted``."""
        root = (root or default_workspace_path()).expanduser().resolve()
        if not (root / CONFIG_FILE).exists() or not (root / DB_FILE).exists():
            raise WorkspaceError(
                "not a MedSynth workspace (no medsynth.toml / medsynth.db)",
                source=str(root),
                hint=f"run `medsynth init {root}`, or pass --workspace/-w (or set {ENV_VAR})",
            )
        config = load_config(root / CONFIG_FILE)
        for sub in SUBDIRS:
            (root / sub).mkdir(mode=0o700, exist_ok=True)
        db = open_database(root / DB_FILE)
        mark_interrupted(db, root)
        return cls(root=root, config=config, db=db)

    def path(self, *parts: str) -> Path:
        """A path inside the workspace; refuses anything that would escape it."""
        candidate = self.root.joinpath(*parts).resolve()
        if not candidate.is_relative_to(self.root):
            raise InputError(
                "path escapes the workspace", source="/".join(parts), hint="use a relative path"
            )
        return candidate

    def close(self) -> None:
        """Close the database connection."""
        self.db.conn.close()
