"""Options and output helpers shared by every command."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from medsynth import netguard
from medsynth.store.lock import writer_lock
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
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="When another command is writing to the workspace, wait for it to finish instead "
        "of stopping with its name.",
    ),
]


def open_workspace(
    path: Path | None, *, writer: str | None = None, wait: bool = False
) -> Workspace:
    """Open the workspace named by ``--workspace``, the environment, or the current folder;
    the network guard then also allows the model servers its config names.

    ``writer`` names a writing command: it then holds the workspace's writer lock until the
    command ends (refused at once when another writer holds it, or with ``wait`` after it)."""
    ws = Workspace.open(path or default_workspace_path())
    netguard.install(netguard.config_hosts(ws.config))
    if writer is not None:
        hold_writer_lock(ws, writer, wait=wait)
    return ws


_scopes: list[contextlib.ExitStack] = []  # one per command running in this process (main)
_process_scope = contextlib.ExitStack()  # for a command called outside main: held to exit
atexit.register(_process_scope.close)


@contextlib.contextmanager
def command_scope() -> Iterator[None]:
    """What a command holds until it ends (its writer lock); :func:`medsynth.cli.main` runs
    every command inside one."""
    with contextlib.ExitStack() as stack:
        _scopes.append(stack)
        try:
            yield
        finally:
            _scopes.pop()


def hold_writer_lock(ws: Workspace, command: str, *, wait: bool = False) -> None:
    """Take the writer lock of ``ws`` for ``command`` until the current command ends; while
    waiting, say on stderr whom it waits for."""
    scope = _scopes[-1] if _scopes else _process_scope
    scope.enter_context(
        writer_lock(ws.root, command, wait=wait, on_wait=lambda text: typer.echo(text, err=True))
    )


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def debug_enabled() -> bool:
    """Whether tracebacks should be shown (``--debug`` or ``MEDSYNTH_DEBUG=1``)."""
    return os.environ.get("MEDSYNTH_DEBUG", "") not in {"", "0"}
