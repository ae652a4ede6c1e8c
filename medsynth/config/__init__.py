"""Typed workspace configuration (``medsynth.toml``) with documented defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, Field, ValidationError

from medsynth.config.base import Section
from medsynth.config.data import GroundConfig, ImageConfig, IndexConfig, IngestConfig, KGConfig
from medsynth.config.models import ChatRole, EncoderRole, ModelsConfig
from medsynth.config.stages import (
    ChecksConfig,
    EvalConfig,
    RewardWeights,
    SynthConfig,
    TrainConfig,
)
from medsynth.errors import ConfigError

CONFIG_FILE = "medsynth.toml"

__all__ = [
    "CONFIG_FILE",
    "ChatRole",
    "ChecksConfig",
    "Config",
    "EncoderRole",
    "EvalConfig",
    "GroundConfig",
    "ImageConfig",
    "IndexConfig",
    "IngestConfig",
    "KGConfig",
    "ModelsConfig",
    "RewardWeights",
    "SynthConfig",
    "TrainConfig",
    "load_config",
    "render_config",
    "write_config",
]


class Config(Section):
    """The whole ``medsynth.toml``."""

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    kg: KGConfig = Field(default_factory=KGConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    images: ImageConfig = Field(default_factory=ImageConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    ground: GroundConfig = Field(default_factory=GroundConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


def load_config(path: Path) -> Config:
    """Read and validate a config file; missing sections take their defaults."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "no medsynth.toml here", source=str(path), hint="run `medsynth init DIR` first"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"not valid TOML: {exc}",
            source=str(path),
            hint="fix the syntax or delete the file "
            "and run `medsynth init` again to write the defaults",
        ) from exc
    return validate_config(data, path)


def validate_config(data: dict[str, Any], path: Path) -> Config:
    """``data`` (a parsed ``medsynth.toml``) as a :class:`Config`; a ConfigError naming each
    invalid key of ``path`` otherwise."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}",
            source=str(path),
            hint="correct the values (defaults and help: `medsynth config show`)",
        ) from exc


def render_config(config: Config) -> str:
    """TOML text of ``config`` with every field's description as a comment above it."""
    lines = [
        "# MedSynth workspace settings. Every key is optional: a missing key takes the default",
        "# shown here. Run `medsynth config show` to see the values in force.",
    ]
    _render_table(config, [], lines)
    return "\n".join(lines) + "\n"


def _render_table(model: BaseModel, path: list[str], lines: list[str]) -> None:
    fields = type(model).model_fields
    scalars = [n for n in fields if not isinstance(getattr(model, n), BaseModel)]
    tables = [n for n in fields if isinstance(getattr(model, n), BaseModel)]
    if path and scalars:
        lines += ["", f"[{'.'.join(path)}]"]
        lines += [f"# {doc}" for doc in [" ".join((type(model).__doc__ or "").split())] if doc]
    for name in scalars:
        lines += [f"# {d}" for d in [fields[name].description] if d]
        value: Any = getattr(model, name)
        lines.append(tomli_w.dumps({name: value}).strip())
    for name in tables:
        _render_table(getattr(model, name), [*path, name], lines)


def write_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` (owner-only permissions)."""
    from medsynth.files import write_private

    write_private(path, render_config(config))
