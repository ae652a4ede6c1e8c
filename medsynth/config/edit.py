"""Change model roles in an existing ``medsynth.toml`` in place, keeping the rest of the file.

:func:`medsynth.config.write_config` renders a whole file from the settings, which would drop
whatever the user wrote by hand (their comments, the order of keys). Here the file is edited
with tomlkit instead: only the keys a model spec decides are set, comments (above a key or at
the end of its line) and every other section stay as they were, and the result is validated
before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from medsynth.config import validate_config
from medsynth.config.models import ChatRole
from medsynth.errors import ConfigError

# the keys of a [models.<role>] section that say *which* model runs; the others (context,
# timeout_s, retries, concurrency) are how it runs and are kept when the model changes
SPEC_FIELDS = (
    "backend",
    "model",
    "mmproj",
    "chat_handler",
    "host",
    "servers",
    "adapter",
    "load_in_4bit",
)


@dataclass
class RoleChange:
    """What one role had and has now (only the keys that changed)."""

    role: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return self.before != self.after

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"role": self.role, "before": self.before, "after": self.after}


def _section(doc: tomlkit.TOMLDocument, role: str) -> Any:
    """The ``[models.<role>]`` table of ``doc``, added when the file has none."""
    models = doc.get("models")
    if models is None:
        models = tomlkit.table(is_super_table=True)
        doc["models"] = models
    section = models.get(role)
    if section is None:
        section = tomlkit.table()
        models[role] = section
    return section


def set_chat_roles(path: Path, roles: list[str], chosen: ChatRole) -> list[RoleChange]:
    """Point each of ``roles`` at the model ``chosen`` names, in the file at ``path``; what
    changed per role. Nothing is written when the edited file would not load."""
    from medsynth.files import write_private

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "no medsynth.toml here", source=str(path), hint="run `medsynth init DIR` first"
        ) from exc
    except (TOMLKitError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"not valid TOML: {exc}", source=str(path), hint="fix the syntax, then run this again"
        ) from exc
    current = validate_config(doc.unwrap(), path)
    blank = ChatRole()
    changes = []
    for role in roles:
        old: ChatRole = getattr(current.models, role)
        section = _section(doc, role)
        change = RoleChange(role)
        for key in SPEC_FIELDS:
            value, before = getattr(chosen, key), getattr(old, key)
            if value != before:
                change.before[key], change.after[key] = before, value
            if key in section or value != getattr(blank, key):
                section[key] = value
        changes.append(change)
    validate_config(doc.unwrap(), path)
    if any(c.changed for c in changes):
        write_private(path, tomlkit.dumps(doc))
    return changes
