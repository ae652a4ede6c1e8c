"""``medsynth kg``: import, link images, index, stats, show, paths, search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.errors import InputError

app = typer.Typer(help="The multimodal knowledge graph.", no_args_is_help=True)

LanguageOpt = Annotated[
    str, typer.Option("--language", "-l", help="Language of triples to use ('all' for every one).")
]


def _language(value: str) -> str | None:
    return None if value == "all" else value


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="SLAKE KG folder, or a triples file/folder.")],
    fmt: Annotated[
        Literal["slake", "triples"] | None,
        typer.Option(
            "--format",
            "-f",
            help="Input layout (default: slake if SLAKE's files are there).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool | None,
        typer.Option(
            "--strict/--no-strict",
            help="Abort on the first bad row, writing nothing.",
            show_default=False,
        ),
    ] = None,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Skip rebuilding the text index.")
    ] = False,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Import the other files when one fails as a whole (unreadable, or most rows "
            "bad); without it such an import writes nothing and exits non-zero.",
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a knowledge graph; re-importing the same files changes nothing."""
    from medsynth.kg.service import build_indexes, import_kg
    from medsynth.kg.slake import looks_like_slake

    ws = open_workspace(workspace, writer="kg import", wait=wait)
    report = import_kg(
        ws,
        path,
        fmt or ("slake" if looks_like_slake(path) else "triples"),
        strict=strict,
        keep_going=keep_going,
    )
    indexes = [] if no_index else build_indexes(ws, names=("entity_text",))
    data = report.as_dict() | {"indexes": indexes}
    if as_json:
        emit_json(data)
        return
    console.print(f"read {report.rows_read} rows from {', '.join(report.files)}")
    console.print(
        f"  triples: {report.triples_new} new, {report.triples_already_present} "
        f"already present, {len(report.duplicates)} duplicate rows skipped "
        f"(distinct by language: {report.distinct_triples_by_language})"
    )
    console.print(
        f"  entities: {report.entities_new} new, {report.entities_retyped} retyped; "
        f"aliases: {report.aliases_new} new"
    )
    for dup in report.duplicates[:20]:
        console.print(f"  duplicate {dup['source']} = {dup['duplicate_of']}: {dup['triple']}")
    if len(report.duplicates) > 20:
        console.print(f"  ... {len(report.duplicates) - 20} more duplicates (see --json)")
    for failed in report.failed_files:
        console.print(
            f"  FAILED FILE {failed.file}: {failed.reason}; {failed.cost}", style="bold red"
        )
    if report.failed_files:
        console.print(
            f"  kept going: {report.entities_new} new entities, {report.entities_chinese_only} "
            "of them with only a Chinese name",
            style="bold red",
        )
    console.print(f"  rejects: {len(report.rejects)}")
    for bad in report.rejects[:20]:
        console.print(f"  reject {bad.source}: {bad.reason}")
    if len(report.rejects) > 20:
        console.print(f"  ... {len(report.rejects) - 20} more: `medsynth rejects`")
    for info in indexes:
        state = "rebuilt" if info["rebuilt"] else "up to date"
        console.print(f"  index {info['name']}: {state} ({info['count']} vectors)")


@app.command("link-images")
def link_images_(
    path: Annotated[Path, typer.Argument(help="SLAKE imgs/ folder, or <entity>/<images> folders.")],
    fmt: Annotated[
        Literal["slake-detection", "folders"] | None,
        typer.Option(
            "--format",
            "-f",
            help="Folder layout (default: slake-detection if */detection.json exist, "
            "else folders).",
            show_default=False,
        ),
    ] = None,
    no_index: Annotated[
        bool, typer.Option("--no-index", help="Skip rebuilding the image index.")
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach images to entities; labels that name no entity are listed, not dropped silently."""
    from medsynth.kg.service import build_indexes, link_entity_images

    ws = open_workspace(workspace, writer="kg link-images", wait=wait)
    if fmt is None:
        fmt = "slake-detection" if next(path.glob("*/detection.json"), None) else "folders"
    report = link_entity_images(ws, path, fmt)
    indexes = [] if no_index else build_indexes(ws, names=("entity_image",))
    if as_json:
        emit_json(report.as_dict() | {"indexes": indexes})
        return
    console.print(
        f"images read: {report.images_seen}; links: {report.links_new} new, "
        f"{report.links_existing} already present; entities with images: "
        f"{len(report.by_entity)}"
    )
    for name, count in sorted(report.by_entity.items()):
        console.print(f"  {name}: {count}")
    if report.unknown_labels:
        console.print(f"labels that name no KG entity ({len(report.unknown_labels)}):")
        for label, count in sorted(report.unknown_labels.items()):
            console.print(f"  {label}: {count} box(es)")
        console.print("  fix: add these entities (or aliases) to the KG and run link-images again")
    for bad in report.rejects[:20]:
        console.print(f"  reject {bad.source}: {bad.reason}")
    for info in indexes:
        weak = " — WEAK fallback encoder" if info.get("weak") else ""
        state = "rebuilt" if info["rebuilt"] else "up to date"
        console.print(f"  index {info['name']}: {state} ({info['count']} vectors){weak}")


@app.command("index")
def index(
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild even if nothing changed.")
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the entity text and image vector indexes (only those whose content changed)."""
    from medsynth.kg.service import build_indexes

    results = build_indexes(open_workspace(workspace, writer="kg index", wait=wait), force=force)
    if as_json:
        emit_json(results)
        return
    for info in results:
        if info["rebuilt"]:
            weak = " — WEAK fallback encoder" if info.get("weak") else ""
            console.print(
                f"{info['name']}: rebuilt, {info['count']} vectors, encoder "
                f"{info['encoder']}, {info['seconds']} s{weak}"
            )
        else:
            console.print(f"{info['name']}: up to date ({info['count']} vectors)")


@app.command()
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of entities, triples, aliases, images, rejects; index state."""
    from medsynth.kg.service import kg_stats

    data = kg_stats(open_workspace(workspace))
    if as_json:
        emit_json(data)
        return
    console.print(
        f"entities: {data['entities']}  {data['entities_by_type']}  {data['entities_by_language']}"
    )
    console.print(f"triples: {data['triples']}  {data['triples_by_language']}")
    console.print(f"  top relations: {data['top_relations']}")
    console.print(f"aliases: {data['aliases']}  {data['aliases_by_language']}")
    console.print(
        f"entity images: {data['entity_images']} on {data['entities_with_images']} entities"
    )
    for names in data["spelling_variants"]:
        console.print(f"  spelling variants merged into one entity: {' / '.join(names)}")
    for alias, names in data["ambiguous_aliases"].items():
        console.print(f"  ambiguous alias {alias!r} names {' / '.join(names)} (the first wins)")
    console.print(f"rejects: {data['rejects_by_stage'] or 'none'}")
    for info in data["indexes"]:
        if not info["built"]:
            console.print(f"index {info['name']}: not built ({info['items']} items to index)")
            continue
        weak = " — WEAK fallback encoder" if info["weak"] else ""
        stale = " — STALE: run `medsynth kg index`" if info["stale"] else ""
        console.print(
            f"index {info['name']}: {info['count']} vectors, dim {info['dim']}, "
            f"{info['encoder']}{weak}{stale}"
        )


@app.command()
def show(
    entity: Annotated[str, typer.Argument(help="Entity name or alias.")],
    language: LanguageOpt = "all",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An entity: type, aliases, triples, images."""
    from medsynth.kg.service import show_entity

    data = show_entity(open_workspace(workspace), entity, _language(language))
    if as_json:
        emit_json(data)
        return
    e = data["entity"]
    console.print(f"{e['name']}  [{e['type']}, {e['language']}]  id {e['id']}")
    if data["aliases"]:
        console.print(
            "aliases: " + ", ".join(f"{a['alias']} ({a['language']})" for a in data["aliases"])
        )
    for t in data["triples"]:
        console.print(f"  -[{t['relation']}]-> {t['tail']}  ({t['language']})")
    for t in data["incoming"]:
        console.print(f"  <-[{t['relation']}]- {t['head']}  ({t['language']})")
    if data["images"]:
        console.print(f"images: {len(data['images'])}")
        for image in data["images"][:10]:
            console.print(f"  {image['path']}  box {image['box'] or '-'}  ({image['source']})")


@app.command()
def paths(
    entity: Annotated[str, typer.Argument(help="Entity name or alias.")],
    language: LanguageOpt = "en",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Short paths (organ -> system) and long paths (disease attributes, location chain)."""
    from medsynth.kg.service import entity_paths

    info, found = entity_paths(open_workspace(workspace), entity, _language(language))
    if as_json:
        emit_json({"entity": info, "paths": [p.as_dict() for p in found]})
        return
    console.print(f"{info['name']} [{info['type']}]: {len(found)} path(s)")
    for path in found:
        console.print(f"  {path.kind:5} {path.relation:22} {path.text()}")


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="Text to look up.")] = None,
    image: Annotated[Path | None, typer.Option(help="Look up by image instead.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many entities.")] = 10,
    entity_type: Annotated[
        str | None, typer.Option("--type", help="Only this entity type.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Nearest entities by text (names and aliases) or by image (cosine, hnswlib)."""
    from medsynth.files import open_image
    from medsynth.kg.indexes import search_image, search_text

    ws = open_workspace(workspace)
    if (query is None) == (image is None):
        raise InputError(
            "give either a text query or --image", hint="medsynth kg search 'lung mass'"
        )
    if image is not None:
        hits = search_image(ws, open_image(image, ws.config.images.max_pixels), k, entity_type)
    else:
        hits = search_text(ws, query or "", k, entity_type)
    if as_json:
        emit_json([h.as_dict() for h in hits])
        return
    table = Table("score", "entity", "type", "via")
    for hit in hits:
        table.add_row(f"{hit.score:.3f}", hit.name, hit.type, hit.via)
    console.print(table)
