"""Plain data types shared by the KG importers and the writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

EntityType = Literal["disease", "organ", "system", "other"]
ENTITY_TYPES: tuple[EntityType, ...] = ("disease", "organ", "system", "other")
# When two sources disagree about an entity's type, the higher rank wins.
TYPE_RANK: dict[str, int] = {"other": 0, "organ": 1, "disease": 2, "system": 3}

# Relations whose tail is an entity, and the type that tail has (MedKInstruct paths use them).
ENTITY_RELATIONS: dict[str, EntityType] = {"location": "organ", "belong to": "system"}
# The relation whose head is the type below when nothing else says.
HEAD_TYPES: dict[str, EntityType] = {"location": "disease", "belong to": "organ"}
ALIAS_RELATION = "alias"


class RawTriple(NamedTuple):
    """One parsed row, before entities are resolved (a tuple: a million of them are cheap)."""

    head: str
    relation: str
    tail: str
    source: str
    language: str = "en"
    head_type: EntityType | None = None
    tail_type: EntityType | None = None
    explicit_types: bool = False  # types named in the file itself outrank inferred ones


@dataclass(frozen=True, slots=True)
class RawAlias:
    """An alternative name for an entity (``name``), e.g. a translation or a synonym."""

    name: str
    alias: str
    source: str
    language: str = "en"
    name_type: EntityType | None = None


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be imported, with where it is and why."""

    source: str
    raw: str
    reason: str


@dataclass
class ParsedKG:
    """Everything one importer read from its input."""

    triples: list[RawTriple]
    aliases: list[RawAlias]
    bad_rows: list[BadRow]
    files: list[str]
