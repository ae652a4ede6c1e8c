"""``medsynth tui``: the Textual interface on a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsynth.cli.common import open_workspace


def tui(
    workspace: Annotated[
        Path | None,
        typer.Argument(
            help="Workspace folder (default: --workspace, $MEDSYNTH_WORKSPACE or the current one)."
        ),
    ] = None,
    workspace_opt: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace folder (same as the argument)."),
    ] = None,
) -> None:
    """Open the interactive interface: dashboard, KG browser, ingest and ground, synthesize,
    train, evaluate and chat (F1 lists the keys)."""
    ws = open_workspace(workspace or workspace_opt)  # checks it and allows its model servers
    root = ws.root
    ws.close()
    from medsynth.tui import run

    run(root)
