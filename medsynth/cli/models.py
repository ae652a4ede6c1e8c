"""``medsynth models``: which model each role uses, and whether it is here."""

from __future__ import annotations

from typing import Annotated

import typer

from medsynth.cli.common import JsonOpt, WorkspaceOpt, console, emit_json, open_workspace

app = typer.Typer(help="Local models for each role.", no_args_is_help=True)
FAILING = {"missing", "unreachable", "no-vision", "error"}


@app.command()
def doctor(
    load: Annotated[bool, typer.Option("--load", help="Also load each model (slower).")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """For every role: what is configured, whether it is found (and loads), its size, and for
    what is missing the exact steps to bring it from a connected machine. An Ollama model in a
    role that is handed images (vision_generator, verifier, base_model) must list "vision" in
    its capabilities. Exit code 1 when a role is missing, unreachable, cannot see its images
    or is broken."""
    from medsynth.backends.doctor import diagnose

    reports = diagnose(open_workspace(workspace).config, load=load)
    failing = any(r.status in FAILING for r in reports)
    if as_json:
        emit_json([r.as_dict() for r in reports])
        if failing:
            raise typer.Exit(code=1)
        return
    for r in reports:
        size = f", {r.size_bytes / 2**20:.0f} MiB" if r.size_bytes else ""
        loads = "" if r.loads is None else (", loads" if r.loads else ", FAILS to load")
        console.print(
            f"{r.role:16} {r.status.upper():11} {r.backend}:{r.model or '-'}{size}{loads}"
        )
        if r.detail:
            console.print(f"{'':16} {r.detail}")
        for number, step in enumerate(r.steps, 1):
            console.print(f"{'':16} {number}. {step}")
    if any("embedded" in r.detail for r in reports):
        from medsynth.backends.registry import EMBEDDED_WARNING

        console.print(f"note: {EMBEDDED_WARNING}")
    if failing:
        raise typer.Exit(code=1)
