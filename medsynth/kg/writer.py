"""Write parsed KG rows into the store: resolve entities, infer types, deduplicate triples.

Importing is idempotent: entities are keyed by their normalised name (or an alias of it), triples
by (head, relation, tail), aliases by (entity, normalised alias). Everything happens in one
transaction, so an import either lands whole or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from medsynth.errors import InputError
from medsynth.kg.model import (
    ALIAS_RELATION,
    ENTITY_RELATIONS,
    HEAD_TYPES,
    TYPE_RANK,
    BadRow,
    EntityType,
    ParsedKG,
)
from medsynth.kg.normalize import normalize
from medsynth.store.runs import record_reject

_ALIAS_SPLIT = re.compile(r"[,，;；、]")


@dataclass
class ImportReport:
    """What one import did."""

    files: list[str]
    rows_read: int = 0
    triples_new: int = 0
    triples_already_present: int = 0
    duplicates: list[dict[str, str]] = field(default_factory=list)
    entities_new: int = 0
    entities_retyped: int = 0
    aliases_new: int = 0
    rejects: list[BadRow] = field(default_factory=list)
    distinct_triples_by_language: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "files": self.files,
            "rows_read": self.rows_read,
            "triples_new": self.triples_new,
            "triples_already_present": self.triples_already_present,
            "duplicate_rows": len(self.duplicates),
            "duplicates": self.duplicates,
            "entities_new": self.entities_new,
            "entities_retyped": self.entities_retyped,
            "aliases_new": self.aliases_new,
            "distinct_triples_by_language": self.distinct_triples_by_language,
            "rejects": [
                {"source": r.source, "reason": r.reason, "raw": r.raw} for r in self.rejects
            ],
        }


class _Entities:
    """In-memory view of the entity and alias tables while an import runs."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.by_norm: dict[str, int] = {}
        self.types: dict[int, str] = {}
        self.original_types: dict[int, str] = {}
        self.alias_norm: dict[str, int] = {}
        self.aliases: set[tuple[int, str]] = set()
        for row in db.execute("SELECT id, norm, type FROM entities").fetchall():
            self.by_norm[row[1]] = row[0]
            self.types[row[0]] = row[2]
        self.original_types = dict(self.types)
        for entity_id, norm in db.execute("SELECT entity_id, norm FROM aliases").fetchall():
            self.alias_norm.setdefault(norm, entity_id)
            self.aliases.add((entity_id, norm))
        self.next_id = 1 + (db.execute("SELECT max(id) FROM entities").fetchone()[0] or 0)
        self.new: dict[int, dict[str, Any]] = {}
        self.explicit: dict[int, str] = {}

    def resolve(
        self,
        name: str,
        kind: EntityType | None,
        language: str,
        source: str,
        explicit: bool = False,
    ) -> int:
        """The id of the entity called ``name`` (by name, then alias), created if unknown."""
        norm = normalize(name)
        entity_id = self.by_norm.get(norm)
        if entity_id is None:
            entity_id = self.alias_norm.get(norm)
        if entity_id is None:
            entity_id = self.next_id
            self.next_id += 1
            self.by_norm[norm] = entity_id
            self.types[entity_id] = kind or "other"
            self.new[entity_id] = {
                "id": entity_id,
                "name": name,
                "norm": norm,
                "language": language,
                "source": source,
            }
        elif kind and not explicit and TYPE_RANK[kind] > TYPE_RANK[self.types[entity_id]]:
            self.types[entity_id] = kind
        if kind and explicit:
            current = self.explicit.get(entity_id)
            if current is None or TYPE_RANK[kind] > TYPE_RANK[current]:
                self.explicit[entity_id] = kind
        return entity_id

    def final_types(self) -> dict[int, str]:
        """Types after the import: a type named in a file beats one inferred from relations."""
        return self.types | self.explicit


def write_kg(
    db: sqlite_utils.Database, parsed: ParsedKG, *, run_id: int | None, strict: bool = False
) -> ImportReport:
    """Store ``parsed`` in ``db``; bad rows become rejects (or, with ``strict``, an error)."""
    report = ImportReport(files=parsed.files, rows_read=len(parsed.triples) + len(parsed.bad_rows))
    if strict and parsed.bad_rows:
        first = parsed.bad_rows[0]
        raise InputError(
            f"{len(parsed.bad_rows)} bad row(s), first: {first.reason}",
            source=first.source,
            hint="fix the rows, or import without --strict to keep the good rows "
            "(nothing was written)",
        )
    report.rejects = list(parsed.bad_rows)
    entities = _Entities(db)
    new_aliases: list[tuple[int, str, str, str, str]] = []

    def add_alias(entity_id: int, alias: str, language: str, source: str) -> None:
        norm = normalize(alias)
        if not norm or (entity_id, norm) in entities.aliases:
            return
        if entities.by_norm.get(norm) == entity_id:
            return  # the alias is the entity's own name
        entities.aliases.add((entity_id, norm))
        entities.alias_norm.setdefault(norm, entity_id)
        new_aliases.append((entity_id, alias, norm, language, source))

    for alias in parsed.aliases:
        owner = entities.resolve(alias.name, alias.name_type, "en", alias.source)
        add_alias(owner, alias.alias, alias.language, alias.source)

    # Aliases first (name maps, then the alias relation), so that every triple below resolves
    # its names against the complete alias table whatever the file order.
    for triple in parsed.triples:
        if triple.relation == ALIAS_RELATION:
            owner = entities.resolve(triple.head, triple.head_type, triple.language, triple.source)
            for name in _ALIAS_SPLIT.split(triple.tail):
                if name.strip():
                    add_alias(owner, name.strip(), triple.language, triple.source)

    # A triple is a statement as written: its key is the exact (head, relation, tail) text, while
    # head_id / tail_id point at the (normalised, merged) entities.
    first_source: dict[tuple[str, str, str], str] = {}
    rows: list[tuple[int, str, str, str, int | None, str, str]] = []
    for triple in parsed.triples:
        key = (triple.head, triple.relation, triple.tail)
        if key in first_source:
            report.duplicates.append(
                {
                    "source": triple.source,
                    "duplicate_of": first_source[key],
                    "triple": f"{triple.head} | {triple.relation} | {triple.tail}",
                }
            )
            continue
        first_source[key] = triple.source
        head_type = triple.head_type or HEAD_TYPES.get(triple.relation)
        head_id = entities.resolve(
            triple.head,
            head_type,
            triple.language,
            triple.source,
            explicit=triple.explicit_types and triple.head_type is not None,
        )
        tail_id: int | None = None
        tail_type = triple.tail_type or ENTITY_RELATIONS.get(triple.relation)
        if tail_type:
            tail_id = entities.resolve(
                triple.tail,
                tail_type,
                triple.language,
                triple.source,
                explicit=triple.explicit_types and triple.tail_type is not None,
            )
        rows.append(
            (
                head_id,
                triple.head,
                triple.relation,
                triple.tail,
                tail_id,
                triple.language,
                triple.source,
            )
        )

    final_types = entities.final_types()
    with db.conn:
        if entities.new:
            db.conn.executemany(
                "INSERT INTO entities (id, name, norm, type, language, source) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        e["id"],
                        e["name"],
                        e["norm"],
                        final_types[e["id"]],
                        e["language"],
                        e["source"],
                    )
                    for e in entities.new.values()
                ],
            )
        retyped = [
            (kind, entity_id)
            for entity_id, kind in final_types.items()
            if entity_id in entities.original_types and entities.original_types[entity_id] != kind
        ]
        if retyped:
            db.conn.executemany("UPDATE entities SET type = ? WHERE id = ?", retyped)
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO triples "
            "(head_id, head, relation, tail, tail_id, language, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        report.triples_new = db.conn.total_changes - before
        if new_aliases:
            db.conn.executemany(
                "INSERT OR IGNORE INTO aliases (entity_id, alias, norm, language, source) "
                "VALUES (?, ?, ?, ?, ?)",
                new_aliases,
            )
        for bad in parsed.bad_rows:
            record_reject(
                db,
                stage="kg import",
                source=bad.source,
                raw=bad.raw,
                reason=bad.reason,
                run_id=run_id,
            )
    report.triples_already_present = len(rows) - report.triples_new
    report.entities_new = len(entities.new)
    report.entities_retyped = len(retyped)
    report.aliases_new = len(new_aliases)
    for row in rows:
        language = row[5]
        report.distinct_triples_by_language[language] = (
            report.distinct_triples_by_language.get(language, 0) + 1
        )
    return report
