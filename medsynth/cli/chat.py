"""``medsynth chat``: talk with a model about one or more images in the terminal.

Lines typed are questions; commands start with ``/``: ``/image PATH [PATH...]`` switches the
images, ``/kg`` adds the KG facts found for them, ``/save`` writes the transcript, ``/quit``.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from medsynth.cli.common import JsonOpt, WorkspaceOpt, emit_json, open_workspace
from medsynth.errors import MedsynthError

HELP = (
    "commands: /image PATH [PATH...] switch images | /kg add KG facts about the images | "
    "/blank ask the last question again on black images | /save write the transcript | "
    "/help | /quit"
)


def _say(text: str, *, quiet: bool) -> None:
    if not quiet:
        sys.stdout.write(text)
        sys.stdout.flush()


def _read_line(interactive: bool) -> str | None:
    """The next line typed (with line editing at a terminal), None at the end of input."""
    if not interactive:
        line = sys.stdin.readline()
        return line or None
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (arrow keys and history for input())
    try:
        return input("you> ")
    except EOFError:
        return None


def _command(session: Any, line: str, quiet: bool) -> bool:
    """Run one ``/command``; False ends the session."""
    name, _, rest = line.partition(" ")
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/image":
        paths = [Path(p) for p in shlex.split(rest)]
        if not paths:
            _say("usage: /image PATH [PATH...]\n", quiet=quiet)
            return True
        chosen = session.set_images(paths)
        _say(f"images: {', '.join(str(p) for p in chosen)}\n", quiet=quiet)
    elif name == "/kg":
        context = session.add_kg_context()
        _say(f"kg: {len(context.facts)} fact(s) from {context.source}\n", quiet=quiet)
        for fact in context.facts:
            _say(f"  {fact}\n", quiet=quiet)
        for note in context.notes:
            _say(f"  note: {note}\n", quiet=quiet)
    elif name == "/blank":
        _say("blank: the last question again, on black images\n", quiet=quiet)
        _reply(session, "", quiet, blank=True)
    elif name == "/save":
        path = session.save()
        _say(f"saved {path} (and {path.with_suffix('.md').name})\n", quiet=quiet)
    elif name == "/help":
        _say(HELP + "\n", quiet=quiet)
    else:
        _say(f"unknown command {name}; {HELP}\n", quiet=quiet)
    return True


def _reply(session: Any, line: str, quiet: bool, *, blank: bool = False) -> None:
    """Stream one reply: the think part, then the answer part, each labelled (``blank``: the
    last question asked again on black images)."""
    shown: str | None = None
    for chunk in session.blank() if blank else session.send(line):
        if chunk.kind != shown:
            _say(("\n" if shown else "") + f"{chunk.kind}: ", quiet=quiet)
            shown = chunk.kind
        if chunk.restart:
            _say(f"\n{chunk.kind} (revised): ", quiet=quiet)
        _say(chunk.text, quiet=quiet)
    if shown is None:
        _say("answer: (empty reply)", quiet=quiet)
    _say("\n", quiet=quiet)


def chat(
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", "-i", help="Image to talk about (repeat for several)."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="A role of medsynth.toml or a spec (llamacpp:embedded, hf:/folder[,adapter=...], "
            "ollama:TAG@URL, openai:NAME@URL).",
        ),
    ] = "vision_generator",
    think: Annotated[
        bool, typer.Option("--think", help="Ask for <think>/<answer> replies.")
    ] = False,
    temperature: Annotated[
        float, typer.Option("--temperature", min=0.0, max=2.0, help="0 answers greedily.")
    ] = 0.0,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Reply token limit.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Multi-turn questions about medical images: replies stream in, think and answer parts
    apart; turns are stored in the workspace (/save also writes logs/chat-N.json)."""
    from medsynth import netguard
    from medsynth.chat import ChatSession
    from medsynth.eval.models import load_model, parse_model_spec
    from medsynth.store.runs import RunRecorder

    ws = open_workspace(workspace)
    choice = parse_model_spec(model, ws.config)
    netguard.install(choice.hosts())
    loaded = load_model(choice)
    interactive = sys.stdin.isatty()
    quiet = as_json
    settings = {"model": choice.as_dict(), "images": [str(p) for p in image or []]}
    with RunRecorder(ws.db, "chat", settings, lock=False) as run:
        session = ChatSession(
            ws,
            loaded,
            model_spec=choice.spec,
            images=image or [],
            think=think,
            temperature=temperature,
            max_tokens=max_tokens or ws.config.eval.chat_max_tokens,
            run_id=run.run_id,
            retries=choice.role.retries,
        )
        _say(
            f"chat session {session.id} with {choice.spec} ({loaded.model}); {HELP}\n", quiet=quiet
        )
        for note in session.notes:
            _say(f"note: {note}\n", quiet=quiet)
        while True:
            line = _read_line(interactive)
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not _command(session, line, quiet):
                        break
                else:
                    _reply(session, line, quiet)
            except MedsynthError as exc:
                _say(f"error: {exc}\n", quiet=quiet)
        run.summary = {"session_id": session.id, "turns": len(session.turns)}
    if as_json:
        emit_json(session.transcript())
    else:
        _say(f"session {session.id} is stored in the workspace\n", quiet=False)
