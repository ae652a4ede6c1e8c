"""Entity lookup and MedKInstruct reasoning paths over the stored KG.

Short paths hold organ- and system-level entities (organ -belong to-> system, and an organ's
attributes up to its system); they ground questions about what is visible. Long paths start at a
disease: its location chain (disease -location-> organ -belong to-> system) and each of its
attribute values joined to that chain; they ground knowledge questions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlite_utils

from medsynth.errors import InputError
from medsynth.kg.model import ALIAS_RELATION
from medsynth.kg.normalize import normalize

MAX_CHAIN = 4  # belong-to hops followed upwards before giving up (guards against cycles)
CHAIN_RELATIONS = ("location", "belong to")


@dataclass(frozen=True)
class Triple:
    """A stored triple with its head entity's name."""

    id: int
    head_id: int
    head: str
    relation: str
    tail: str
    tail_id: int | None
    language: str


@dataclass
class KGPath:
    """A chain of triples; ``relation`` names what the path is about."""

    kind: Literal["short", "long"]
    relation: str
    triples: list[Triple] = field(default_factory=list)

    @property
    def entities(self) -> list[str]:
        """Entity names and attribute values along the path, in order, without repeats."""
        seen: list[str] = []
        for triple in self.triples:
            for name in (triple.head, triple.tail):
                if name not in seen:
                    seen.append(name)
        return seen

    def text(self) -> str:
        """Human-readable rendering, e.g. ``A -[location]-> B -[belong to]-> C``."""
        parts: list[str] = []
        current: str | None = None
        for triple in self.triples:
            if current == triple.head:
                parts[-1] += f" -[{triple.relation}]-> {triple.tail}"
            else:
                parts.append(f"{triple.head} -[{triple.relation}]-> {triple.tail}")
            current = triple.tail
        return " ; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "relation": self.relation,
            "text": self.text(),
            "triple_ids": [t.id for t in self.triples],
            "entities": self.entities,
        }


_TRIPLE_SQL = (
    "SELECT t.id, t.head_id, e.name, t.relation, t.tail, t.tail_id, t.language "
    "FROM triples t JOIN entities e ON e.id = t.head_id "
)


def _triples(db: sqlite_utils.Database, where: str, params: list[Any]) -> list[Triple]:
    return [Triple(*row) for row in db.execute(_TRIPLE_SQL + where + " ORDER BY t.id", params)]


def find_entity(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    """The entity called ``name``: exact name, then normalised name, then alias."""
    row = db.execute("SELECT * FROM entities WHERE name = ? LIMIT 1", [name]).fetchone()
    norm = normalize(name)
    if row is None:
        row = db.execute(
            "SELECT * FROM entities WHERE norm = ? ORDER BY id LIMIT 1", [norm]
        ).fetchone()
    if row is None:
        row = db.execute(
            "SELECT e.* FROM aliases a JOIN entities e ON e.id = a.entity_id WHERE a.norm = ? "
            "ORDER BY a.id LIMIT 1",
            [norm],
        ).fetchone()
    if row is None:
        names = [r[0] for r in db.execute("SELECT name FROM entities")]
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
        hint = (
            f"did you mean: {', '.join(close)}?"
            if close
            else "list entities with `medsynth kg stats`"
        )
        raise InputError("no such entity in the knowledge graph", source=name, hint=hint)
    columns = [c.name for c in db.table("entities").columns]
    return dict(zip(columns, row, strict=True))


def entity_triples(
    db: sqlite_utils.Database, entity_id: int, language: str | None = None
) -> list[Triple]:
    """Triples whose head is ``entity_id`` (optionally of one language)."""
    if language:
        return _triples(db, "WHERE t.head_id = ? AND t.language = ?", [entity_id, language])
    return _triples(db, "WHERE t.head_id = ?", [entity_id])


def _upward_chains(
    db: sqlite_utils.Database,
    entity_id: int,
    language: str | None,
    depth: int = 0,
    seen: frozenset[int] = frozenset(),
) -> list[list[Triple]]:
    """All belong-to chains from ``entity_id`` upwards (one empty chain at the top)."""
    if depth >= MAX_CHAIN:
        return [[]]
    where = "WHERE t.head_id = ? AND t.relation = 'belong to' AND t.tail_id IS NOT NULL"
    params: list[Any] = [entity_id]
    if language:
        where += " AND t.language = ?"
        params.append(language)
    chains: list[list[Triple]] = []
    for triple in _dedupe(_triples(db, where, params)):
        if triple.tail_id is None or triple.tail_id in seen:
            continue
        for rest in _upward_chains(db, triple.tail_id, language, depth + 1, seen | {entity_id}):
            chains.append([triple, *rest])
    return chains or [[]]


def _dedupe(triples: list[Triple]) -> list[Triple]:
    """Drop triples that repeat an earlier (relation, tail) of the same entity (spelling variants
    of one head such as SLAKE's Gallstone / Gallstones)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for triple in triples:
        key = (triple.relation, normalize(triple.tail))
        if key not in seen:
            seen.add(key)
            kept.append(triple)
    return kept


def entity_type(db: sqlite_utils.Database, entity_id: int) -> str | None:
    """The entity's type (disease, organ, system, ...); None when there is no such entity."""
    row = db.execute("SELECT type FROM entities WHERE id = ?", [entity_id]).fetchone()
    return None if row is None else str(row[0])


def paths_for(
    db: sqlite_utils.Database, entity_id: int, *, language: str | None = "en"
) -> list[KGPath]:
    """Short and long paths starting at ``entity_id`` (for a system: its organs' short paths)."""
    kind = entity_type(db, entity_id)
    if kind is None:
        raise InputError(
            f"no entity with id {entity_id}", hint="look it up with `medsynth kg show`"
        )
    triples = _dedupe(entity_triples(db, entity_id, language))
    paths: list[KGPath] = []
    if kind == "system":
        where = "WHERE t.tail_id = ? AND t.relation = 'belong to'"
        params: list[Any] = [entity_id]
        if language:
            where += " AND t.language = ?"
            params.append(language)
        return [KGPath("short", "belong to", [t]) for t in _dedupe(_triples(db, where, params))]
    if kind == "disease":
        chains: list[list[Triple]] = []
        for location in (t for t in triples if t.relation == "location"):
            if location.tail_id is None:
                chains.append([location])
                continue
            chains += [[location, *up] for up in _upward_chains(db, location.tail_id, language)]
        for chain in chains:
            paths.append(KGPath("long", "location", chain))
        for triple in triples:
            if triple.relation in CHAIN_RELATIONS or triple.relation == ALIAS_RELATION:
                continue
            for chain in chains or [[]]:
                paths.append(KGPath("long", triple.relation, [triple, *chain]))
        return paths
    chains = _upward_chains(db, entity_id, language)
    for chain in chains:
        if chain:
            paths.append(KGPath("short", "belong to", chain))
    for triple in triples:
        if triple.relation in CHAIN_RELATIONS or triple.relation == ALIAS_RELATION:
            continue
        for chain in chains:
            paths.append(KGPath("short", triple.relation, [triple, *chain]))
    return paths
