"""Read-only views of the knowledge graph, shared by the CLI and the TUI: entity search and one
entity in full for the TUI's KG browser (every such query is indexed or LIMITed: the TUI runs
them on its event loop), an entity's aliases, incoming triples and images (``kg show`` reads
them all, the browser the first few), the KG's counts (``kg stats``), the whole-KG lists exact
lookup and the ingest vocabulary read, the entity image links (written by ``kg link-images``)
and the entity indexes' tables (what each index encodes, its row and its label map: the builder
writes them, search and fuzzy grounding read them). The KG import's bulk writes are
:mod:`medsynth.kg.writer`'s."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from medsynth.files import safe_child
from medsynth.kg.normalize import normalize
from medsynth.kg.paths import paths_for

SEARCH_LIMIT = 200
TRIPLE_LIMIT = 500


@dataclass(frozen=True)
class EntityRow:
    """One search hit: the entity and how much the KG holds about it."""

    id: int
    name: str
    type: str
    triples: int
    images: int


@dataclass
class EntityView:
    """What the browser shows for one entity."""

    id: int
    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    triples: list[tuple[str, str, str]] = field(default_factory=list)  # head, relation, tail
    paths: list[tuple[str, str, str]] = field(default_factory=list)  # kind, relation, text
    images: list[Path] = field(default_factory=list)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_entities(
    db: sqlite_utils.Database, text: str, limit: int = SEARCH_LIMIT
) -> list[EntityRow]:
    """Entities whose name or an alias contains ``text`` (case-insensitive) or whose normalised
    form contains the normalised ``text``; exact matches first, then by name."""
    text = text.strip()
    norm = normalize(text) if text else ""
    raw, folded = _like(text), _like(norm)
    rows = db.execute(
        "SELECT e.id, e.name, e.type, "
        "(SELECT count(*) FROM triples t WHERE t.head_id = e.id), "
        "(SELECT count(*) FROM entity_images i WHERE i.entity_id = e.id) "
        "FROM entities e WHERE ? = '' OR e.name LIKE ? ESCAPE '\\' OR e.norm LIKE ? ESCAPE '\\' "
        "OR e.id IN (SELECT a.entity_id FROM aliases a WHERE a.alias LIKE ? ESCAPE '\\' "
        "OR a.norm LIKE ? ESCAPE '\\') "
        "ORDER BY e.norm = ? DESC, EXISTS (SELECT 1 FROM aliases a WHERE a.entity_id = e.id "
        "AND a.norm = ?) DESC, e.name COLLATE NOCASE LIMIT ?",
        [text, raw, folded, raw, folded, norm, norm, limit],
    ).fetchall()
    return [EntityRow(*row) for row in rows]


def entity_view(
    db: sqlite_utils.Database, root: Path, entity_id: int, language: str | None
) -> EntityView | None:
    """The entity with its aliases, triples (outgoing, then incoming), KG paths and image files
    (a crop inside the workspace ``root``, a whole image inside its own root); None when there
    is no such entity."""
    row = db.execute("SELECT id, name, type FROM entities WHERE id = ?", [entity_id]).fetchone()
    if row is None:
        return None
    view = EntityView(*row)
    view.aliases = [alias for alias, _language in entity_aliases(db, entity_id, limit=50)]
    view.triples = entity_triples(db, entity_id)
    view.paths = [
        (p.kind, p.relation, p.text()) for p in paths_for(db, entity_id, language=language)
    ]
    for image in entity_image_rows(db, entity_id, limit=100):
        image_root, path, crop = image["root"], image["path"], image["crop_path"]
        # a crop (an entity's box) lives in the workspace; the whole image under its root
        base = (root if crop else Path(image_root or root)).resolve()
        try:
            view.images.append(safe_child(base, base / (crop or path)))
        except Exception:  # an image path escaping its root is not shown
            continue
    return view


def entity_triples(db: sqlite_utils.Database, entity_id: int) -> list[tuple[str, str, str]]:
    """(head, relation, tail) of the triples with the entity as head, then as tail."""
    rows: list[Any] = db.execute(
        "SELECT e.name, t.relation, t.tail FROM triples t JOIN entities e ON e.id = t.head_id "
        "WHERE t.head_id = ? ORDER BY t.id LIMIT ?",
        [entity_id, TRIPLE_LIMIT],
    ).fetchall()
    rows += db.execute(
        "SELECT e.name, t.relation, t.tail FROM triples t JOIN entities e ON e.id = t.head_id "
        "WHERE t.tail_id = ? AND t.head_id != ? ORDER BY t.id LIMIT ?",
        [entity_id, entity_id, TRIPLE_LIMIT],
    ).fetchall()
    return [(str(h), str(r), str(t)) for h, r, t in rows]


_FACTS = (
    "SELECT t.id, e.name, t.relation, t.tail FROM triples t JOIN entities e ON e.id = t.head_id "
)


def has_entities(db: sqlite_utils.Database) -> bool:
    """Whether a KG was imported."""
    return db.execute("SELECT 1 FROM entities LIMIT 1").fetchone() is not None


def has_entity_images(db: sqlite_utils.Database) -> bool:
    """Whether entity images were linked (the entity-image index can be searched)."""
    return db.execute("SELECT 1 FROM entity_images LIMIT 1").fetchone() is not None


def records_with_image(db: sqlite_utils.Database, sha256: str) -> list[tuple[int, str]]:
    """``(record id, dataset name)`` of the ingested records holding an image file."""
    return [
        (int(r[0]), str(r[1]))
        for r in db.execute(
            "SELECT DISTINCT r.id, d.name FROM record_images ri JOIN records r ON r.id = "
            "ri.record_id JOIN datasets d ON d.id = r.dataset_id WHERE ri.sha256 = ? ORDER BY r.id",
            [sha256],
        )
    ]


def record_facts(db: sqlite_utils.Database, record_id: int) -> list[tuple[int, str, str, str]]:
    """The English triples grounded for a record: ``(triple id, head, relation, tail)``."""
    return list(
        db.execute(
            _FACTS + "JOIN record_triples rt ON rt.triple_id = t.id "
            "WHERE rt.record_id = ? AND t.language = 'en' ORDER BY t.id",
            [record_id],
        )
    )


def entity_facts(
    db: sqlite_utils.Database, entity_id: int, limit: int = 10
) -> list[tuple[int, str, str, str]]:
    """An entity's first English triples as head: ``(triple id, head, relation, tail)``."""
    return list(
        db.execute(
            _FACTS + "WHERE t.head_id = ? AND t.language = 'en' ORDER BY t.id LIMIT ?",
            [entity_id, limit],
        )
    )


def entity_aliases(
    db: sqlite_utils.Database, entity_id: int, limit: int = -1
) -> list[tuple[str, str]]:
    """(alias, language) of the entity's aliases, in id order (the first ``limit``; -1: all)."""
    return db.execute(
        "SELECT alias, language FROM aliases WHERE entity_id = ? ORDER BY id LIMIT ?",
        [entity_id, limit],
    ).fetchall()


def incoming_triples(db: sqlite_utils.Database, entity_id: int) -> list[tuple[int, str, str, str]]:
    """(triple id, head name, relation, language) of the triples with the entity as tail."""
    return db.execute(
        "SELECT t.id, e.name, t.relation, t.language FROM triples t JOIN entities e "
        "ON e.id = t.head_id WHERE t.tail_id = ? ORDER BY t.id",
        [entity_id],
    ).fetchall()


def entity_image_rows(
    db: sqlite_utils.Database, entity_id: int, limit: int = -1
) -> list[dict[str, Any]]:
    """The entity's images (path, root, box, crop_path, source), in id order (the first
    ``limit``; -1: all)."""
    return list(
        db.query(
            "SELECT path, root, box, crop_path, source FROM entity_images WHERE entity_id = ? "
            "ORDER BY id LIMIT ?",
            [entity_id, limit],
        )
    )


def kg_counts(db: sqlite_utils.Database) -> dict[str, Any]:
    """Counts of entities, triples, aliases, images and rejects (by type, language, relation,
    stage), the heads spelled several ways and the aliases naming several entities."""

    def grouped(sql: str) -> dict[str, int]:
        return {str(key): count for key, count in db.execute(sql)}

    spellings: dict[tuple[int, str], list[str]] = {}
    for head_id, head in db.execute(
        "SELECT DISTINCT head_id, head FROM triples WHERE head_id IN (SELECT head_id FROM "
        "triples GROUP BY head_id HAVING count(DISTINCT head) > 1) ORDER BY head_id, head"
    ):
        spellings.setdefault((head_id, normalize(head)), []).append(head)
    variants = [names for names in spellings.values() if len(names) > 1]
    return {
        "entities": db.table("entities").count,
        "entities_by_type": grouped("SELECT type, count(*) FROM entities GROUP BY type"),
        "entities_by_language": grouped(
            "SELECT language, count(*) FROM entities GROUP BY language"
        ),
        "triples": db.table("triples").count,
        "triples_by_language": grouped("SELECT language, count(*) FROM triples GROUP BY language"),
        "top_relations": dict(
            list(
                grouped(
                    "SELECT relation, count(*) c FROM triples GROUP BY relation ORDER BY c DESC"
                ).items()
            )[:10]
        ),
        "aliases": db.table("aliases").count,
        "aliases_by_language": grouped("SELECT language, count(*) FROM aliases GROUP BY language"),
        "entity_images": db.table("entity_images").count,
        "entities_with_images": db.execute(
            "SELECT count(DISTINCT entity_id) FROM entity_images"
        ).fetchone()[0],
        "spelling_variants": variants,
        "ambiguous_aliases": {
            alias: names.split("\x1f")
            for alias, names in db.execute(
                "SELECT min(a.alias), group_concat(e.name, char(31)) FROM aliases a "
                "JOIN entities e ON e.id = a.entity_id GROUP BY a.norm HAVING count(*) > 1"
            )
        },
        "rejects_by_stage": grouped("SELECT stage, count(*) FROM rejects GROUP BY stage"),
    }


# --- whole-KG reads (exact lookup, the ingest vocabulary) ----------------------------------------


def entity_names(db: sqlite_utils.Database) -> list[str]:
    """Every entity name, then every alias."""
    names = [row[0] for row in db.execute("SELECT name FROM entities")]
    return names + [row[0] for row in db.execute("SELECT alias FROM aliases")]


def entity_norms(db: sqlite_utils.Database) -> list[tuple[int, str, str, str]]:
    """(id, name, normalised name, type) of every entity, in id order."""
    return db.execute("SELECT id, name, norm, type FROM entities ORDER BY id").fetchall()


def alias_norms(db: sqlite_utils.Database) -> list[tuple[int, str]]:
    """(entity id, normalised alias) of every alias, in id order."""
    return db.execute("SELECT entity_id, norm FROM aliases ORDER BY id").fetchall()


# --- the entity indexes (vector_indexes, vector_ids) ------------------------------------------

_LABEL_ENTITIES = {
    "entity_text": "SELECT v.label, CASE v.ref_table WHEN 'entities' THEN v.ref_id "
    "ELSE a.entity_id END FROM vector_ids v LEFT JOIN aliases a ON v.ref_table = "
    "'aliases' AND a.id = v.ref_id WHERE v.index_name = ?",
    "entity_image": "SELECT v.label, i.entity_id FROM vector_ids v JOIN entity_images i "
    "ON i.id = v.ref_id WHERE v.index_name = ?",
}
_REF_ENTITY = {
    "entities": "SELECT id, name, type FROM entities WHERE id = ?",
    "aliases": "SELECT e.id, e.name, e.type FROM aliases a JOIN entities e "
    "ON e.id = a.entity_id WHERE a.id = ?",
    "entity_images": "SELECT e.id, e.name, e.type FROM entity_images i JOIN entities e "
    "ON e.id = i.entity_id WHERE i.id = ?",
}


def name_refs(db: sqlite_utils.Database) -> list[tuple[str, int, str]]:
    """("entities", id, name) of every entity, then ("aliases", id, alias) of every alias, in
    id order: what the text index encodes."""
    items = [("entities", i, n) for i, n in db.execute("SELECT id, name FROM entities ORDER BY id")]
    aliases = db.execute("SELECT id, alias FROM aliases ORDER BY id")
    return items + [("aliases", i, a) for i, a in aliases]


def image_refs(db: sqlite_utils.Database) -> list[tuple[int, str, str, str | None]]:
    """(id, root, path, crop_path) of every entity image, in id order."""
    return db.execute("SELECT id, root, path, crop_path FROM entity_images ORDER BY id").fetchall()


def index_row(db: sqlite_utils.Database, name: str) -> dict[str, Any] | None:
    """The ``vector_indexes`` row of index ``name``; None before it is built."""
    return next(db.query("SELECT * FROM vector_indexes WHERE name = ?", [name]), None)


def store_index(
    db: sqlite_utils.Database, row: dict[str, Any], refs: list[tuple[str, int]]
) -> None:
    """Record a built index: its ``vector_indexes`` row and, for label n, the row ``refs[n]``
    (table, id) it stands for, replacing the previous build's labels."""
    name = row["name"]
    with db.conn:
        db.table("vector_ids").delete_where("index_name = ?", [name])
        db.table("vector_indexes").upsert(row, pk="name")
        db.table("vector_ids").insert_all(
            (
                {"index_name": name, "label": label, "ref_table": table, "ref_id": ref_id}
                for label, (table, ref_id) in enumerate(refs)
            ),
            batch_size=10_000,
        )


_IMAGE_COLUMNS = (
    "entity_id", "root", "path", "sha256", "box", "crop_path", "width", "height", "source",
)  # fmt: skip


def link_entity_image(db: sqlite_utils.Database, link: dict[str, Any]) -> bool:
    """Store an entity image link (a dict of entity_id, root, path, sha256, box, crop_path,
    width, height, source); False when the same link was already there."""
    cursor = db.execute(
        f"INSERT OR IGNORE INTO entity_images ({', '.join(_IMAGE_COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in _IMAGE_COLUMNS)})",
        {c: link[c] for c in _IMAGE_COLUMNS},
    )
    return bool(cursor.rowcount)


def index_file(db: sqlite_utils.Database, name: str) -> tuple[str, int] | None:
    """(path relative to the workspace, vectors) of a built index; None before it is built."""
    row = db.execute("SELECT path, count FROM vector_indexes WHERE name = ?", [name]).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def label_entities(db: sqlite_utils.Database, name: str) -> list[tuple[int, int]]:
    """(label, entity id) of every vector of index ``name`` (``entity_text``: names and
    aliases, ``entity_image``: entity images)."""
    return db.execute(_LABEL_ENTITIES[name], [name]).fetchall()


def label_ref(db: sqlite_utils.Database, name: str, label: int) -> tuple[str, int] | None:
    """(table, row id) that vector ``label`` of index ``name`` stands for."""
    row = db.execute(
        "SELECT ref_table, ref_id FROM vector_ids WHERE index_name = ? AND label = ?",
        [name, label],
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def ref_entity(db: sqlite_utils.Database, table: str, ref_id: int) -> tuple[int, str, str] | None:
    """(id, name, type) of the entity a row of ``table`` (entities, aliases or entity_images)
    belongs to."""
    row = db.execute(_REF_ENTITY[table], [ref_id]).fetchone()
    return (row[0], row[1], row[2]) if row else None
