"""Workspace commands: init, demo, config, runs, rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from medsynth.cli.common import JsonOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.config import CONFIG_FILE, render_config
from medsynth.workspace import Workspace, default_workspace_path


def init(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Folder to make into a workspace (default: --workspace, the "
            "MEDSYNTH_WORKSPACE variable, or the current folder).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: medsynth.toml, medsynth.db and folders (existing files are kept)."""
    ws = Workspace.init(path or workspace or default_workspace_path())
    info = {
        "workspace": str(ws.root),
        "config": str(ws.root / CONFIG_FILE),
        "database": str(ws.root / "medsynth.db"),
    }
    if as_json:
        emit_json(info)
    else:
        console.print(f"workspace ready: {ws.root}")
        console.print(f"  settings: {info['config']} (documented defaults)")
        console.print(f"  next: medsynth kg import PATH --format slake|triples -w {ws.root}")


def demo(
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the main job end to end on the embedded demo KG (default workspace: ./demo-workspace)."""
    from medsynth.demo import run_demo

    result = run_demo(
        workspace or Path("demo-workspace"), progress=None if as_json else console.print
    )
    if as_json:
        emit_json(result)
    else:
        print_demo(result)


config_app = typer.Typer(help="Workspace settings.", no_args_is_help=True)


@config_app.command("show")
def config_show(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Print the settings in force (defaults filled in), with their help text."""
    ws = open_workspace(workspace)
    if as_json:
        emit_json(ws.config.model_dump())
    else:
        typer.echo(render_config(ws.config))


def runs(
    workspace: WorkspaceOpt = None,
    limit: Annotated[int, typer.Option(help="How many recent runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs: command, status, start and end, summary. A run whose process was killed
    shows ``interrupted``, and which later run resumed it."""
    from medsynth.store.overview import recent_runs
    from medsynth.store.runs import status_text

    ws = open_workspace(workspace)
    rows = recent_runs(ws.db, limit)
    if as_json:
        emit_json([{**r, "summary": json.loads(r["summary"] or "{}")} for r in rows])
        return
    table = Table("id", "command", Column("status", no_wrap=True), "started", "ended", "error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["command"],
            status_text(r["status"], r["resumed_by"]),
            r["started_at"],
            r["ended_at"] or "",
            (r["error"] or "")[:60],
        )
    console.print(table)


def rejects(
    workspace: WorkspaceOpt = None,
    stage: Annotated[str | None, typer.Option(help="Only this stage, e.g. 'kg import'.")] = None,
    limit: Annotated[int, typer.Option(help="How many rows.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Inputs that were refused, with where they came from and why."""
    from medsynth.store.overview import reject_rows

    ws = open_workspace(workspace)
    rows = reject_rows(ws.db, stage, limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("no rejects")
        return
    table = Table("id", "stage", "source", "reason", "raw")
    for r in rows:
        table.add_row(str(r["id"]), r["stage"], r["source"], r["reason"], (r["raw"] or "")[:50])
    console.print(table)


def register(app: typer.Typer) -> None:
    """Attach these commands to the top-level app."""
    app.command()(init)
    app.command()(demo)
    app.add_typer(config_app, name="config")
    app.command()(runs)
    app.command()(rejects)


def print_demo(result: dict[str, Any]) -> None:
    """Human-readable summary of :func:`run_demo`'s result."""
    console.print()
    console.print(f"workspace: {result['workspace']}")
    _print_demo_kg(result)
    _print_demo_records(result)
    _print_demo_synth(result)
    console.print("\nexports (dataset card and manifest beside each):")
    for fmt, info in result["exports"].items():
        console.print(f"  {fmt}: {info['samples']} sample(s) in {info['out']}")
    console.print(f"\ntimings (s): {result['seconds']}")
    where = result["workspace"]
    console.print(
        f"next: medsynth synth show -w {where}   |   medsynth kg paths 'Pneumonia' -w {where}   |"
        f"   less {result['exports']['trl-sft']['out']}/dataset_card.md"
    )
    console.print(f"browse it all: medsynth tui {where}")


def _print_demo_kg(result: dict[str, Any]) -> None:
    """The demo's KG import, indexes, paths and nearest entities."""
    stats = result["stats"]
    imported = result["import"]
    console.print(
        f"import: {imported['triples_new']} new triples "
        f"({imported['triples_already_present']} already present), "
        f"{imported['entities_new']} new entities, {len(imported['rejects'])} rejects"
    )
    console.print(
        f"KG: {stats['entities']} entities {stats['entities_by_type']}, "
        f"{stats['triples']} triples, {stats['aliases']} aliases, "
        f"{stats['entity_images']} images on {stats['entities_with_images']} entities"
    )
    for info in stats["indexes"]:
        weak = " (WEAK fallback: no medical knowledge)" if info.get("weak") else ""
        console.print(
            f"index {info['name']}: {info.get('count', 0)} vectors, "
            f"{info.get('encoder', '-')}{weak}"
        )
    for name, found in result["paths"].items():
        console.print(f"\npaths of {name} ({len(found)}):")
        for path in found[:6]:
            console.print(f"  {path['kind']:5} {path['text']}")
        if len(found) > 6:
            console.print(f"  ... {len(found) - 6} more: medsynth kg paths '{name}'")
    console.print("\nnearest entities by text (MiniLM):")
    for query, hits in result["text_search"].items():
        shown = ", ".join(f"{h['name']} {h['score']:.2f}" for h in hits)
        console.print(f"  {query!r}: {shown}")
    image = result["image_search"]
    shown = ", ".join(f"{h['name']} {h['score']:.3f}" for h in image["hits"])
    console.print(f"nearest entities to image {image['query']} (WEAK thumbnail encoder): {shown}")


def _print_demo_records(result: dict[str, Any]) -> None:
    """The demo's ingest and grounding."""
    ingested = result["ingest"]
    console.print(
        f"\ningest: {ingested['records_new']} new record(s) in dataset "
        f"{ingested['dataset']!r}, {ingested['kept_new']} kept, {len(ingested['rejects'])} rejects"
    )
    grounded = result["ground"]
    console.print(
        f"ground: {grounded['grounded']} of {grounded['records']} record(s) grounded this run "
        f"(model calls {grounded['model_calls']}, from the call log {grounded['cache_hits']})"
    )
    for row in grounded["record_matches"]:
        found = ", ".join(
            f"{kind} {m['mention']!r} -> {m['entity'] or 'no match'} ({m['stage']})"
            for kind, m in sorted(row["matches"].items())
        )
        console.print(f"  {row['caption'][:60]}...: {found}")


def _print_demo_synth(result: dict[str, Any]) -> None:
    """The demo's synthesis: counts, the quality gate, examples and notes."""
    synth = result["synth"]
    console.print(
        f"synth: {sum(synth['tasks'].values())} task(s) this run in {synth['seconds']} s, "
        f"model calls {synth['model_calls']}, from the call log {synth['cache_hits']}"
    )
    for generator, counts in synth["totals"].items():
        console.print(f"  {generator}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    by_detector = synth.get("rejected_by_detector") or {}
    if by_detector:
        console.print(
            "  the quality gate rejected (drafts per detector; a draft can fail several): "
            + ", ".join(f"{name} {n}" for name, n in by_detector.items())
        )
        console.print("  rejected drafts keep their reasons: medsynth synth show --status rejected")
    for example in result["examples"]:
        console.print(f"  e.g. {example['generator']}: Q: {example['question'][:90]}")
        console.print(f"       A: {example['answer'][:150]}")
    for warning in synth["warnings"]:
        console.print(f"  note: {warning}")
    image_use = synth.get("image_use") or {}
    if image_use:
        console.print(
            "  kept samples a model wrote while seeing the image: "
            + ", ".join(f"{g} {c['with_image']}" for g, c in image_use.items())
            + "; from text only: "
            + ", ".join(f"{g} {c['text_only']}" for g, c in image_use.items())
        )
    if synth.get("blinded"):
        console.print(
            "  written WITHOUT the image (the embedded model reads text only; allowed here with "
            "allow_blind, marked blinded in each sample's meta): "
            + ", ".join(f"{g} {n}" for g, n in synth["blinded"].items())
        )
