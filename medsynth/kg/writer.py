"""Write parsed KG rows into the store: resolve entities, infer types, deduplicate triples.

Importing is idempotent: entities are keyed by their normalised name (or an alias of it), triples
by (head, relation, tail), aliases by (entity, normalised alias). Everything happens in one
transaction, so an import either lands whole or not at all.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from medsynth.errors import InputError
from medsynth.kg.failures import FileFailure, file_failures, summary
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
from medsynth.text import has_cjk

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
    entities_chinese_only: int = 0  # new entities named only in Chinese (no English merge)
    aliases_new: int = 0
    rejects: list[BadRow] = field(default_factory=list)
    failed_files: list[FileFailure] = field(default_factory=list)
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
            "entities_chinese_only": self.entities_chinese_only,
            "aliases_new": self.aliases_new,
            "distinct_triples_by_language": self.distinct_triples_by_language,
            "rejects": [
                {"source": r.source, "reason": r.reason, "raw": r.raw} for r in self.rejects
            ],
            "failed_files": [f.as_dict() for f in self.failed_files],
        }


class _Entities:
    """In-memory view of the entity and alias tables while an import runs."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.by_norm: dict[str, int] = {}
        self.types: dict[int, str] = {}
        self.alias_norm: dict[str, int] = {}
        self.aliases: set[tuple[int, str]] = set()
        for row in db.execute("SELECT id, norm, type FROM entities").fetchall():
            self.by_norm[row[1]] = row[0]
            self.types[row[0]] = row[2]
        self.original_types: dict[int, str] = dict(self.types)
        for entity_id, norm in db.execute(
            "SELECT entity_id, norm FROM aliases ORDER BY id"
        ).fetchall():
            self.alias_norm.setdefault(norm, entity_id)
            self.aliases.add((entity_id, norm))
        self.next_id = 1 + (db.execute("SELECT max(id) FROM entities").fetchone()[0] or 0)
        self.new: dict[int, dict[str, Any]] = {}
        self.explicit: dict[int, str] = {}
        self.seen: dict[tuple[str, str | None, bool], int] = {}

    def resolve(
        self,
        name: str,
        kind: EntityType | None,
        language: str,
        source: str,
        explicit: bool = False,
    ) -> int:
        """The id of the entity called ``name`` (by name, then alias), created if unknown."""
        key = (name, kind, explicit)
        known = self.seen.get(key)
        if known is not None:
            return known
        entity_id = self._resolve(name, kind, language, source, explicit)
        self.seen[key] = entity_id
        return entity_id

    def _resolve(
        self, name: str, kind: EntityType | None, language: str, source: str, explicit: bool
    ) -> int:
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


class _Abort(Exception):
    """Raised inside the import's transaction to roll it back."""


def write_kg(
    db: sqlite_utils.Database,
    parsed: ParsedKG,
    *,
    run_id: int | None,
    strict: bool = False,
    keep_going: bool = True,
) -> ImportReport:
    """Store ``parsed`` in ``db``; bad rows become rejects (or, with ``strict``, an error).

    A file that failed as a whole (see :mod:`medsynth.kg.failures`) stops the import, writing
    nothing, unless ``keep_going``; the error says what the import would have cost."""
    report = ImportReport(files=parsed.files, rows_read=len(parsed.triples) + len(parsed.bad_rows))
    report.failed_files = file_failures(parsed)
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
    db.execute("PRAGMA foreign_keys=OFF")  # every id below is resolved here, in one transaction
    try:
        with db.conn:
            _write_triples(db, parsed, report, entities)
            _write_rest(db, parsed, report, entities, new_aliases, run_id)
            if report.failed_files and not keep_going:
                raise _Abort
    except _Abort:
        raise InputError(
            summary(report.failed_files, report.entities_new, report.entities_chinese_only),
            source=", ".join(f.file for f in report.failed_files),
            hint="fix or remove the file(s) and import again, or add --keep-going to import "
            "the rest anyway (nothing was written)",
        ) from None
    finally:
        db.execute("PRAGMA foreign_keys=ON")
    return report


TRIPLE_SQL = (
    "INSERT OR IGNORE INTO triples (head_id, head, relation, tail, tail_id, language, source) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
CHUNK = 20_000


def _write_triples(
    db: sqlite_utils.Database, parsed: ParsedKG, report: ImportReport, entities: _Entities
) -> None:
    """Resolve each triple's entities and insert it; exact repeats are counted, not stored.

    A triple is a statement as written: its key is the exact (head, relation, tail) text, while
    head_id / tail_id point at the (normalised, merged) entities.
    """
    by_language: Counter[str] = Counter()
    rows: list[tuple[int, str, str, str, int | None, str, str]] = []
    resolve, seen = entities.resolve, entities.seen  # hot loop: a million rows in a few seconds
    inserted = 0
    for head, relation, tail, source, language, head_hint, tail_hint, explicit in parsed.triples:
        head_type = head_hint or HEAD_TYPES.get(relation)
        head_explicit = explicit and head_hint is not None
        head_id = seen.get((head, head_type, head_explicit))
        if head_id is None:
            head_id = resolve(head, head_type, language, source, head_explicit)
        tail_id: int | None = None
        tail_type = tail_hint or ENTITY_RELATIONS.get(relation)
        if tail_type:
            tail_explicit = explicit and tail_hint is not None
            tail_id = seen.get((tail, tail_type, tail_explicit))
            if tail_id is None:
                tail_id = resolve(tail, tail_type, language, source, tail_explicit)
        rows.append((head_id, head, relation, tail, tail_id, language, source))
        by_language[language] += 1
        if len(rows) >= CHUNK:
            inserted += db.conn.executemany(TRIPLE_SQL, rows).rowcount
            rows = []
    inserted += db.conn.executemany(TRIPLE_SQL, rows).rowcount
    # INSERT OR IGNORE kept the first of any repeated triple. Only when something was ignored
    # do we look for repeats inside this input, to report them with both file:line sources.
    ignored = len(parsed.triples) - inserted
    distinct = len(parsed.triples)
    if ignored:
        first_source: dict[tuple[str, str, str], str] = {}
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
                by_language[triple.language] -= 1
            else:
                first_source[key] = triple.source
        distinct = len(first_source)
    report.triples_new = inserted
    report.triples_already_present = distinct - inserted
    report.distinct_triples_by_language = {k: v for k, v in by_language.items() if v}


def _write_rest(
    db: sqlite_utils.Database,
    parsed: ParsedKG,
    report: ImportReport,
    entities: _Entities,
    new_aliases: list[tuple[int, str, str, str, str]],
    run_id: int | None,
) -> None:
    """Insert new entities (with their final types), type changes, aliases and rejects."""
    final_types = entities.final_types()
    if entities.new:
        db.conn.executemany(
            "INSERT INTO entities (id, name, norm, type, language, source) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (e["id"], e["name"], e["norm"], final_types[e["id"]], e["language"], e["source"])
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
    if new_aliases:
        db.conn.executemany(
            "INSERT OR IGNORE INTO aliases (entity_id, alias, norm, language, source) "
            "VALUES (?, ?, ?, ?, ?)",
            new_aliases,
        )
    for bad in parsed.bad_rows:
        record_reject(
            db, stage="kg import", source=bad.source, raw=bad.raw, reason=bad.reason, run_id=run_id
        )
    report.entities_new = len(entities.new)
    report.entities_chinese_only = sum(1 for e in entities.new.values() if has_cjk(e["name"]))
    report.entities_retyped = len(retyped)
    report.aliases_new = len(new_aliases)
