"""Options and output helpers shared by every command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from medsynth import netguard
from medsynth.workspace import ENV_VAR, Workspace, default_workspace_path

console = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help=f"Workspace folder (env {ENV_VAR}; default: the current folder).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


def open_workspace(path: Path | None) -> Workspace:
    """Open the workspace named by ``--workspace``, the environment, or the current folder;
    the network guard then also allows the model servers its config names."""
    ws = Workspace.open(path or default_workspace_path())
    netguard.install(netguard.config_hosts(ws.config))
    return ws


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def debug_enabled() -> bool:
    """Whether tracebacks should be shown (``--debug`` or ``MEDSYNTH_DEBUG=1``)."""
    return os.environ.get("MEDSYNTH_DEBUG", "") not in {"", "0"}
