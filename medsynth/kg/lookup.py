"""Exact lookup of a name in the KG: exact spelling, then normalised name, then normalised alias.

Image linking uses it untyped; grounding's stage 1 uses it typed. Every entity sharing a key is
kept with its type, so a disease mention finds a disease and an organ mention an organ or system
even when an alias is shared. Entities typed ``other`` (the KG did not say) are the fallback of
both kinds; an entity of the wrong type never matches (grounding then tries its fuzzy stage).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import sqlite_utils

from medsynth.kg.normalize import normalize
from medsynth.kg.queries import alias_norms, entity_norms

Kind = Literal["disease", "organ"]
KINDS: tuple[Kind, ...] = ("disease", "organ")
KIND_TYPES: dict[str, tuple[str, ...]] = {"disease": ("disease",), "organ": ("organ", "system")}
UNTYPED = "other"


class EntityRef(NamedTuple):
    """A KG entity as the matchers see it."""

    id: int
    name: str
    type: str


class ExactMatcher:
    """Typed name/alias lookup held in memory (one pass over entities and aliases)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.by_name: dict[str, list[EntityRef]] = {}
        self.by_norm: dict[str, list[EntityRef]] = {}
        self.by_alias: dict[str, list[EntityRef]] = {}
        self.entities: dict[int, EntityRef] = {}
        for entity_id, name, norm, kind in entity_norms(db):
            ref = EntityRef(entity_id, name, kind)
            self.entities[entity_id] = ref
            self.by_name.setdefault(name, []).append(ref)
            self.by_norm.setdefault(norm, []).append(ref)
        for entity_id, norm in alias_norms(db):
            alias_of = self.entities.get(entity_id)
            if alias_of is not None and alias_of not in self.by_alias.get(norm, []):
                self.by_alias.setdefault(norm, []).append(alias_of)

    def match(self, mention: str, kind: Kind | None) -> EntityRef | None:
        """The entity ``mention`` names exactly, of a type fitting ``kind`` (None: any type)."""
        mention = mention.strip()
        norm = normalize(mention)
        tables = (
            self.by_name.get(mention, []),
            self.by_norm.get(norm, []),
            self.by_alias.get(norm, []),
        )
        if kind is None:
            return next((refs[0] for refs in tables if refs), None)
        for allowed in (KIND_TYPES[kind], (UNTYPED,)):
            for refs in tables:
                for ref in refs:
                    if ref.type in allowed:
                        return ref
        return None
