"""``medsynth train export`` and ``medsynth models get-converter``: a trained model out of
MedSynth as GGUF (+ mmproj, Modelfile) or a merged transformers folder. They belong to the
``train`` and ``models`` groups of :mod:`medsynth.cli.train` and :mod:`medsynth.cli.models`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from medsynth.cli.common import JsonOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.cli.models import app as models_app
from medsynth.cli.train import app as train_app

Quant = Literal["q4_k_m", "q5_k_m", "q8_0", "f16"]


@train_app.command("export")
def export(
    target: Annotated[
        str | None,
        typer.Argument(help="Run name or adapter folder (default: the newest finished run)."),
    ] = None,
    fmt: Annotated[
        Literal["gguf", "hf"],
        typer.Option("--format", "-f", help="gguf (llama.cpp, Ollama) or hf (transformers)."),
    ] = "gguf",
    quant: Annotated[
        Quant | None,
        typer.Option(
            "--quant", "-q", help="GGUF weights: k-quant, q8_0 or f16 ([train] export_quant)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Export folder (default: adapters/NAME/export-FORMAT)."),
    ] = None,
    base: Annotated[
        Path | None, typer.Option("--base", help="Base model folder (default: the run's).")
    ] = None,
    tokenizer_fallback: Annotated[
        str | None,
        typer.Option(
            "--tokenizer-fallback",
            help="Pre-tokenizer to record when llama.cpp does not know the tokenizer (e.g. "
            "gpt-2 for a byte-level BPE of your own); by default ([train] "
            "export_tokenizer_fallback empty) that is an error.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge a run's adapter into its base and write it as GGUF (language model, vision
    projector, Ollama Modelfile, README with the serving commands) or as a transformers
    folder."""
    from medsynth.train.model_export import export_run
    from medsynth.train.service import quiet

    ws = open_workspace(workspace)
    quiet()
    result = export_run(
        ws,
        target,
        fmt=fmt,
        quant=quant,
        tokenizer_fallback=tokenizer_fallback,
        out=out,
        base=base,
    )
    if as_json:
        emit_json(result.as_dict())
        return
    console.print(f"exported {result.run} as {fmt} to {result.folder}")
    for role, path in result.files.items():
        console.print(f"  {role:10} {path.name}")
    timing = ", ".join(f"{step} {sec:.1f} s" for step, sec in result.seconds.items())
    console.print(f"  ({timing}); README.md there has the serving commands")


@models_app.command("get-converter")
def get_converter(
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take llama.cpp's GGUF converter from llama-cpp-python's source distribution on PyPI
    (same version as installed), once; `train export --format gguf` then runs offline. It is
    kept beside the virtual environment, for every workspace (--workspace is not used)."""
    from medsynth.train.gguf_convert import fetch_converter

    del workspace  # one converter per installation
    folder = fetch_converter()
    if as_json:
        emit_json({"converter": str(folder)})
        return
    console.print(f"llama.cpp's converter is in {folder}")
