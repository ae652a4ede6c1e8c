"""``medsynth models``: which model each role uses, whether it is here, and switching it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from medsynth.cli.common import JsonOpt, WorkspaceOpt, console, emit_json, open_workspace

if TYPE_CHECKING:
    from medsynth.config import ChatRole

app = typer.Typer(help="Local models for each role.", no_args_is_help=True)
FAILING = {"missing", "unreachable", "no-vision", "error"}
# the roles `models use` switches unless --roles says otherwise (not base_model: `train`
# fine-tunes it and needs a transformers folder)
PIPELINE_ROLES = ("generator", "vision_generator", "verifier")


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


@app.command()
def use(
    spec: Annotated[
        str,
        typer.Argument(
            help="The model: ollama:TAG[@http://HOST:11434], llamacpp:/path/model.gguf"
            "[,mmproj=/path/mmproj.gguf], openai:NAME@http://HOST:8000/v1, hf:/folder"
            "[,adapter=/folder], llamacpp:embedded, or a role of medsynth.toml to copy.",
            show_default=False,
        ),
    ],
    roles: Annotated[
        str,
        typer.Option(
            "--roles",
            help="Comma-separated roles to switch (generator, vision_generator, verifier, "
            "base_model). Default: generator, vision_generator and verifier.",
        ),
    ] = ",".join(PIPELINE_ROLES),
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Point roles of medsynth.toml at one model, so the whole pipeline switches to it in one
    command. Only the keys naming the model change (backend, model, mmproj, host, ...); the
    rest of the file, comments included, stays. base_model, the folder `train` fine-tunes, is
    switched only when --roles names it."""
    from medsynth.config import CONFIG_FILE
    from medsynth.config.edit import set_chat_roles
    from medsynth.eval.models import parse_model_spec

    ws = open_workspace(workspace)
    names = parse_roles(roles)
    choice = parse_model_spec(spec, ws.config)
    changes = set_chat_roles(ws.root / CONFIG_FILE, names, choice.role)
    notes = use_notes(choice.role, names)
    if as_json:
        emit_json({"spec": spec, "changes": [c.as_dict() for c in changes], "notes": notes})
        return
    for change in changes:
        if not change.changed:
            console.print(f"{change.role:16} unchanged ({describe(choice.role)})")
            continue
        moved = ", ".join(
            f"{key} {change.before[key]!r} -> {change.after[key]!r}" for key in change.after
        )
        console.print(f"{change.role:16} {moved}")
    if any(c.changed for c in changes):
        console.print(f"wrote {ws.root / CONFIG_FILE}")
    else:
        console.print(f"nothing to change in {ws.root / CONFIG_FILE}")
    for note in notes:
        console.print(f"note: {note}")


def parse_roles(text: str) -> list[str]:
    """The chat roles ``--roles`` names, in order, each once; an unknown name is refused."""
    from medsynth.backends.registry import CHAT_ROLES
    from medsynth.errors import ConfigError

    names = [n.strip() for n in text.split(",") if n.strip()]
    valid = ", ".join(CHAT_ROLES)
    if not names:
        raise ConfigError("--roles names no role", hint=f"name one or more of {valid}")
    for name in names:
        if name in ("text_encoder", "image_encoder"):
            raise ConfigError(
                f"{name} is an encoder, not a chat model",
                hint=f"set [models.{name}] backend and model in medsynth.toml; "
                f"`models use` switches the chat roles: {valid}",
            )
        if name not in CHAT_ROLES:
            raise ConfigError(
                f"unknown role {name!r}", hint=f"use one or more of {valid}, comma-separated"
            )
    return list(dict.fromkeys(names))


def describe(role: ChatRole) -> str:
    """``backend:model`` (with its server or projector) for one line of output."""
    text = f"{role.backend}:{role.model}"
    if role.mmproj:
        text += f",mmproj={role.mmproj}"
    return f"{text}@{role.host}" if role.host else text


def use_notes(role: ChatRole, names: list[str]) -> list[str]:
    """What to check after switching: files not here yet, images a text-only model misses."""
    from pathlib import Path

    from medsynth.backends.doctor import IMAGE_ROLES

    notes = []
    for path in (role.model, role.mmproj, role.adapter):
        local = role.backend in ("llamacpp", "hf") and path not in ("", "embedded")
        if local and not Path(path).expanduser().exists():
            notes.append(f"{path} is not here yet: copy it over before running the pipeline")
    seeing = [n for n in names if n in IMAGE_ROLES]
    if seeing and role.backend == "llamacpp" and not role.mmproj:
        notes.append(
            f"{', '.join(seeing)} will read text only: a GGUF needs its mmproj file to see "
            "images (llamacpp:/path/model.gguf,mmproj=/path/mmproj.gguf)"
        )
    if "base_model" in names and role.backend != "hf":
        notes.append(
            "`medsynth train` fine-tunes base_model and needs a transformers folder (hf:/folder);"
            " eval and chat can use this model"
        )
    notes.append("check the roles with `medsynth models doctor` (Ollama: whether it sees images)")
    return notes
