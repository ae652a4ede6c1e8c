"""``medsynth train export``: a trained run out of MedSynth, in the formats hospitals serve.

``--format hf`` merges the adapter into its base (a full transformers folder, for transformers
or vLLM). ``--format gguf`` goes on: llama.cpp's converter writes the language model and, for a
model that reads images, its vision projector (mmproj); llama.cpp's quantiser makes the k-quants;
an Ollama ``Modelfile`` and a README with the serving commands go beside them.

Everything lands in one owner-only folder with ``medsynth_export.json`` (run, base, adapter,
format, quantisation, converter version, file hashes).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.errors import FolderNotEmptyError, InputError
from medsynth.files import private_dir, sha256_file, write_private
from medsynth.train import gguf_convert
from medsynth.train.merge import AdapterRef, find_adapter, merge
from medsynth.workspace import Workspace

FORMATS = ("gguf", "hf")
SYSTEM_MARK = "@@MEDSYNTH-SYSTEM@@"  # stand-ins, replaced by Ollama template fields
PROMPT_MARK = "@@MEDSYNTH-PROMPT@@"


@dataclass
class ExportResult:
    """What an export wrote."""

    folder: Path
    format: str
    quant: str
    run: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (printed by ``--json`` and stored as ``medsynth_export.json``)."""
        return {
            "run": self.run,
            "folder": str(self.folder),
            "format": self.format,
            "quant": self.quant,
            "files": {role: str(path) for role, path in self.files.items()},
            "seconds": {step: round(value, 2) for step, value in self.seconds.items()},
        }


def free_folder(folder: Path) -> Path:
    """``folder``, or ``folder-2``, ``folder-3``... : the first that does not exist or is empty."""
    candidate, n = folder, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")
    return candidate


def export_run(
    ws: Workspace,
    target: str | None,
    *,
    fmt: str = "gguf",
    quant: str | None = None,
    tokenizer_fallback: str | None = None,
    out: Path | None = None,
    base: Path | None = None,
) -> ExportResult:
    """Export a run (its name, an adapter folder, or None: the newest finished run); what is
    not given comes from the workspace's ``[train]`` settings, and the folder defaults to
    ``adapters/NAME/export-FORMAT`` (``-2``, ``-3``... when that one is taken)."""
    ref = find_adapter(ws, target)
    if base is not None:
        ref.base_model = base
    settings = ws.config.train
    folder = out or free_folder(ref.adapter.parent / f"export-{fmt}")
    return export_model(
        ref,
        folder.expanduser().resolve(),
        fmt=fmt,
        quant=quant or settings.export_quant,
        tokenizer_fallback=(
            settings.export_tokenizer_fallback if tokenizer_fallback is None else tokenizer_fallback
        ),
    )


def run_kind(ref: AdapterRef) -> str:
    """``sft`` or ``grpo``, from the adapter's provenance (empty when it does not say)."""
    provenance = ref.adapter / "medsynth_train.json"
    if not provenance.is_file():
        return ""
    return str(json.loads(provenance.read_text(encoding="utf-8")).get("kind", ""))


def export_model(
    ref: AdapterRef,
    out: Path,
    *,
    fmt: str = "gguf",
    quant: str = "q4_k_m",
    tokenizer_fallback: str = "",
) -> ExportResult:
    """Merge ``ref`` and write it to ``out`` as ``fmt`` (see the module docstring)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}", hint="use gguf or hf")
    if fmt == "gguf" and quant not in gguf_convert.QUANTS:
        raise InputError(
            f"unknown quantisation {quant!r}", hint=f"use {', '.join(gguf_convert.QUANTS)}"
        )
    if out.exists() and any(out.iterdir()):
        raise FolderNotEmptyError(
            "the export folder is not empty", source=str(out), hint="choose another --out"
        )
    converter = gguf_convert.converter_dir() if fmt == "gguf" else None  # fail before merging
    private_dir(out)
    result = ExportResult(out, fmt, quant if fmt == "gguf" else "", ref.name)
    started = time.perf_counter()
    merged = out / ("merged" if fmt == "hf" else ".merged")
    merge(ref, merged)
    result.seconds["merge"] = time.perf_counter() - started
    if fmt == "hf":
        result.files["model"] = merged
    else:
        assert converter is not None
        try:
            _to_gguf(merged, result, ref, tokenizer_fallback, converter)
        except BaseException:  # the folder was empty: leave it so, not half an export
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            raise
        finally:
            shutil.rmtree(merged, ignore_errors=True)
    result.files["readme"] = out / "README.md"
    write_private(result.files["readme"], readme(result, ref))
    record = {
        **result.as_dict(),
        "kind": run_kind(ref),
        "base_model": str(ref.base_model),
        "adapter": str(ref.adapter),
        "llama_cpp_python": gguf_convert.llama_cpp_version() if fmt == "gguf" else "",
        "sha256": {
            role: sha256_file(path) for role, path in result.files.items() if path.is_file()
        },
    }
    write_private(out / "medsynth_export.json", json.dumps(record, indent=2) + "\n")
    return result


def _to_gguf(
    merged: Path, result: ExportResult, ref: AdapterRef, fallback: str, converter: Path
) -> None:
    """Convert, quantise and describe the merged folder (fills ``result``)."""
    from medsynth.backends.hf import is_vision_config
    from medsynth.train.modeling import read_config

    out, quant = result.folder, result.quant
    stem = _safe_stem(ref.name)
    first = quant if quant in gguf_convert.CONVERTER_TYPES else "f16"
    lm = gguf_convert.convert(
        merged,
        out / f"{stem}-{first}.gguf",
        outtype=first,
        pretokenizer_fallback=fallback,
        converter=converter,
        model_name=ref.name,
    )
    result.seconds["convert"] = lm.seconds
    result.files["model"] = lm.path
    if quant != first:
        begun = time.perf_counter()
        result.files["model"] = gguf_convert.quantize(lm.path, out / f"{stem}-{quant}.gguf", quant)
        lm.path.unlink()
        result.seconds["quantize"] = time.perf_counter() - begun
    if is_vision_config(read_config(merged)):
        projector = gguf_convert.convert(
            merged,
            out / f"mmproj-{stem}-f16.gguf",
            mmproj=True,
            converter=converter,
            model_name=ref.name,
        )
        result.files["mmproj"] = projector.path
        result.seconds["convert_mmproj"] = projector.seconds
    result.files["modelfile"] = out / "Modelfile"
    write_private(
        result.files["modelfile"], modelfile(merged, result, think=run_kind(ref) == "grpo")
    )


def _safe_stem(name: str) -> str:
    """A file-name stem from a run name (letters, digits, dot, dash, underscore)."""
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name).strip(".-")
    return stem or "model"


def think_suffix() -> str:
    """What GRPO training put after each question (the think-then-answer instruction)."""
    from medsynth.train.data import think_instruction

    user_text, _ = think_instruction()
    return user_text(PROMPT_MARK, False).split(PROMPT_MARK, 1)[1]


def chat_layout(tokenizer: Any) -> tuple[str, str]:
    """The model's chat template as an Ollama template: (with a system turn, without one).

    The template is rendered with marker texts in place of the system prompt and the question;
    Ollama's ``{{ .System }}`` and ``{{ .Prompt }}`` replace the markers. Empty with-system
    text when the template refuses a system turn.
    """

    def render(messages: list[dict[str, str]]) -> str:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(text)

    user = {"role": "user", "content": PROMPT_MARK}
    without = render([user])
    try:
        with_system = render([{"role": "system", "content": SYSTEM_MARK}, user])
    except Exception:  # a template that raises on a system turn
        with_system = ""
    return with_system, without


def modelfile(model: Path, result: ExportResult, *, think: bool, num_ctx: int = 4096) -> str:
    """An Ollama Modelfile for the exported GGUF files (``model`` is the merged folder)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    with_system, without = chat_layout(tokenizer)
    prompt = "{{ .Prompt }}" + (think_suffix() if think else "")

    def go(text: str) -> str:
        text = text.replace("{{", '{{ "{{" }}')
        return text.replace(SYSTEM_MARK, "{{ .System }}").replace(PROMPT_MARK, prompt)

    body = go(without)
    if with_system and SYSTEM_MARK in with_system:
        body = f"{{{{ if .System }}}}{go(with_system)}{{{{ else }}}}{body}{{{{ end }}}}"
    lines = [
        f"# Written by MedSynth: {result.files['model'].name} with its chat template.",
        f"FROM ./{result.files['model'].name}",
    ]
    if "mmproj" in result.files:
        lines.append(f"FROM ./{result.files['mmproj'].name}")
    lines += [f'TEMPLATE """{body}{{{{ .Response }}}}"""']
    lines += ["PARAMETER temperature 0", f"PARAMETER num_ctx {num_ctx}"]
    lines += [f'PARAMETER stop "{stop}"' for stop in stop_texts(model, tokenizer)]
    return "\n".join(lines) + "\n"


def stop_texts(model: Path, tokenizer: Any) -> list[str]:
    """The end-of-turn texts of the model folder (its generation config's eos tokens)."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(model, local_files_only=True).eos_token_id
    except OSError:
        eos = tokenizer.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    texts = [str(tokenizer.convert_ids_to_tokens(int(i))) for i in ids]
    return [text for text in dict.fromkeys(texts) if text and '"' not in text]


def readme(result: ExportResult, ref: AdapterRef) -> str:
    """The export folder's README: what is here and the commands that serve it."""
    folder = result.folder
    roles = {
        "model": "the language model" + (" (transformers folder)" if result.format == "hf" else ""),
        "mmproj": "the vision projector (llama.cpp's mmproj)",
        "modelfile": "for `ollama create`",
        "readme": "this file",
    }
    files = "\n".join(f"- `{path.name}`: {roles[role]}" for role, path in result.files.items())
    lines = [
        f"# {ref.name}, exported by MedSynth",
        "",
        f"Base model `{ref.base_model}` with the LoRA adapter of run `{ref.name}` merged in.",
        "",
        files,
        "",
    ]
    if result.format == "hf":
        merged = result.files["model"]
        lines += [
            "Serve it with vLLM, then point MedSynth at it:",
            "",
            f"    vllm serve {merged} --served-model-name {ref.name}",
            f"    medsynth models use openai:{ref.name}@http://127.0.0.1:8000/v1",
            "",
            "or load it in this process with transformers:",
            "",
            f"    medsynth models use hf:{merged}",
        ]
        return "\n".join(lines) + "\n"
    model = result.files["model"]
    projector = result.files.get("mmproj")
    mm_arg = f" --mmproj {projector}" if projector else ""
    mm_spec = f",mmproj={projector}" if projector else ""
    lines += [
        "Ollama (the Modelfile names both files, the chat template and the stop texts):",
        "",
        f"    cd {folder} && ollama create {_safe_stem(ref.name).lower()} -f Modelfile",
        "",
        "llama.cpp's server (OpenAI-compatible), then MedSynth through it:",
        "",
        f"    llama-server -m {model}{mm_arg} --port 8080",
        f"    medsynth models use openai:{ref.name}@http://127.0.0.1:8080/v1",
        "",
        "or in this process through llama-cpp-python:",
        "",
        f"    medsynth eval run DATASET --dataset slake -m llamacpp:{model}{mm_spec}",
    ]
    return "\n".join(lines) + "\n"
