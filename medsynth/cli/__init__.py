"""Command line: ``medsynth``. Human text by default, one JSON document with ``--json``.

Errors go to stderr with exit code 2 and say what to fix; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from medsynth import netguard
from medsynth.cli import chat as chat_commands
from medsynth.cli import eval as eval_commands
from medsynth.cli import (
    eval_files,  # noqa: F401  (registers eval score, export and report)
    gguf,  # noqa: F401  (registers train export and models get-converter)
)
from medsynth.cli import export as export_commands
from medsynth.cli import ground as ground_commands
from medsynth.cli import ingest as ingest_commands
from medsynth.cli import kg as kg_commands
from medsynth.cli import models as models_commands
from medsynth.cli import review as review_commands
from medsynth.cli import synth as synth_commands
from medsynth.cli import train as train_commands
from medsynth.cli import tui as tui_commands
from medsynth.cli import workspace as workspace_commands
from medsynth.cli.common import command_scope, debug_enabled
from medsynth.errors import MedsynthError

app = typer.Typer(
    name="medsynth",
    help="Knowledge-grounded medical instruction data and VQA training, all on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
workspace_commands.register(app)
app.add_typer(kg_commands.app, name="kg")
app.command()(ingest_commands.ingest)
app.add_typer(models_commands.app, name="models")
app.command("ground")(ground_commands.ground)
app.add_typer(synth_commands.app, name="synth")
app.command("judge")(review_commands.judge)
app.add_typer(review_commands.app, name="review")
app.command("export")(export_commands.export)
app.add_typer(eval_commands.app, name="eval")
app.command("chat")(chat_commands.chat)
app.add_typer(train_commands.app, name="train")
app.command("tui")(tui_commands.tui)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``medsynth`` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args.remove("--debug")
        os.environ["MEDSYNTH_DEBUG"] = "1"
    os.umask(0o077)  # everything MedSynth writes may hold patient data: owner-only
    netguard.install()  # loopback only; open_workspace adds the servers its config names
    try:
        with command_scope():  # the writer lock of a writing command is released at its end
            result = app(args=args, prog_name="medsynth", standalone_mode=False)
    except MedsynthError as exc:
        if debug_enabled():
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors (typer's own click)
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: finished work is saved; run the same command again to go on",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        if debug_enabled():
            traceback.print_exc()
        print(
            f"error: unexpected {type(exc).__name__}: {exc}\n  fix: run again with --debug "
            "for the traceback and report it",
            file=sys.stderr,
        )
        return 2
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script wrapper that exits with :func:`main`'s code."""
    sys.exit(main())
