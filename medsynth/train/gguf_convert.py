"""llama.cpp's own converter (``convert_hf_to_gguf.py``), run on a transformers folder.

The converter is not a PyPI package: it ships inside llama-cpp-python's source distribution
(``vendor/llama.cpp``), next to its ``gguf-py`` library. :func:`fetch_converter` takes it from
there once, for the llama-cpp-python installed here, so that the GGUF files it writes match the
llama.cpp that loads them. It is an install step (``just gguf-tools`` or ``medsynth models
get-converter``), run while the package index is reachable; converting is then offline.

MedSynth keeps no copy of the converter's code: :func:`convert` runs it in a child process.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from medsynth.errors import ConfigError, InputError, MedsynthError

SCRIPT = "convert_hf_to_gguf.py"
# What the converter needs of the source distribution, under vendor/llama.cpp/.
MEMBERS = (SCRIPT, "conversion/", "gguf-py/")
ENV_DIR = "MEDSYNTH_LLAMACPP_CONVERTER"
FETCH_HINT = (
    "run `just gguf-tools` (or `medsynth models get-converter`) once while PyPI is reachable: "
    f"it takes llama.cpp's converter from llama-cpp-python's source distribution; or set "
    f"{ENV_DIR} to a llama.cpp folder that holds {SCRIPT} and gguf-py/"
)
# Output types the converter writes itself; the k-quants go through llama.cpp's quantiser.
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
QUANT_FTYPES = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M"}
QUANTS = ("f16", "q8_0", *QUANT_FTYPES)
# The runner the child process executes: no network beyond loopback, and optionally a fallback
# pre-tokenizer (see convert()).
_RUNNER = """
import ipaddress, runpy, socket, sys
def refuse(sock, address, _connect=socket.socket.connect):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        if not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback:
            raise OSError(f"MedSynth runs the converter offline: no connection to {address[0]}")
    return _connect(sock, address)
socket.socket.connect = refuse
fallback = sys.argv.pop(1)
if fallback:
    from conversion import base
    known = base.TextModel.get_vocab_base_pre
    def guarded(self, tokenizer):
        try:
            return known(self, tokenizer)
        except NotImplementedError:
            return fallback
    base.TextModel.get_vocab_base_pre = guarded
script = sys.argv.pop(1)
sys.argv[0] = script
runpy.run_path(script, run_name="__main__")
"""


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version (its converter must be the same release)."""
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(
            "llama-cpp-python is not installed", hint="pip install -e '.[dev]'"
        ) from exc


def default_home() -> Path:
    """Where :func:`fetch_converter` keeps the converter: beside this virtual environment."""
    return Path(sys.prefix) / "cache" / "llamacpp-sdist"


def converter_dir(home: Path | None = None) -> Path:
    """The llama.cpp folder holding the converter: the one :func:`fetch_converter` unpacked
    into ``home`` for the installed llama-cpp-python; with no ``home``,
    ``$MEDSYNTH_LLAMACPP_CONVERTER`` when set, else the default home's."""
    override = os.environ.get(ENV_DIR) if home is None else None
    folder = (
        Path(override).expanduser()
        if override
        else (home or default_home())
        / f"llama_cpp_python-{llama_cpp_version()}"
        / "vendor"
        / "llama.cpp"
    )
    if not (folder / SCRIPT).is_file() or not (folder / "gguf-py").is_dir():
        raise ConfigError(
            f"llama.cpp's converter is not here ({SCRIPT} and gguf-py/)",
            source=str(folder),
            hint=FETCH_HINT,
        )
    return folder


def fetch_converter(home: Path | None = None) -> Path:
    """Download llama-cpp-python's source distribution (same version as installed) with pip and
    unpack only the converter; returns its folder. Does nothing when it is already there."""
    home = home or default_home()
    version = llama_cpp_version()
    try:
        return converter_dir(home)
    except ConfigError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    archive = home / f"llama_cpp_python-{version}.tar.gz"
    if not archive.is_file():
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        command += ["-d", str(home), f"llama-cpp-python=={version}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not archive.is_file():
            raise MedsynthError(
                f"pip could not download llama-cpp-python {version}'s source distribution",
                source=" ".join(command),
                hint="check that the package index is reachable; " + done.stderr[-400:].strip(),
            )
    unpack(archive, home)
    return converter_dir(home)


def unpack(archive: Path, home: Path) -> None:
    """Extract the converter's files from ``archive`` into ``home`` (nothing else)."""
    with tarfile.open(archive, "r:gz") as tar:
        wanted = []
        for member in tar.getmembers():
            parts = member.name.split("/", 3)
            if len(parts) < 4 or parts[1:3] != ["vendor", "llama.cpp"]:
                continue
            if parts[3] == SCRIPT or parts[3].startswith(MEMBERS[1:]):
                wanted.append(member)
        tar.extractall(home, members=wanted, filter="data")


@dataclass(frozen=True)
class Converted:
    """A GGUF file the converter wrote and how long it took."""

    path: Path
    seconds: float


def convert(
    model: Path,
    out: Path,
    *,
    outtype: str = "f16",
    mmproj: bool = False,
    pretokenizer_fallback: str = "",
    converter: Path | None = None,
    model_name: str = "",
) -> Converted:
    """Convert the transformers folder ``model`` to the GGUF file ``out`` (the language model,
    or with ``mmproj`` its vision projector). Offline: the hub is never asked.

    ``pretokenizer_fallback`` names the pre-tokenizer to record when the converter does not
    know the tokenizer (it recognises published models by a hash of their tokens). Only our
    tiny test models need it; for a real model an unknown tokenizer stays an error.
    """
    import time

    if outtype not in CONVERTER_TYPES:
        raise InputError(f"the converter writes {', '.join(CONVERTER_TYPES)}, not {outtype}")
    folder = converter or converter_dir()
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", NO_LOCAL_GGUF="")
    env["PYTHONPATH"] = os.pathsep.join([str(folder / "gguf-py"), str(folder)])
    command = [sys.executable, "-c", _RUNNER, pretokenizer_fallback, str(folder / SCRIPT)]
    command += [str(model), "--outfile", str(out), "--outtype", outtype]
    command += ["--mmproj"] if mmproj else []
    command += ["--model-name", model_name] if model_name else []
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or not out.is_file():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise MedsynthError(
            f"llama.cpp's converter failed on {model.name}"
            + (" (vision projector)" if mmproj else "")
            + f": {lines[-1] if lines else 'no output'}",
            source=str(model),
            hint="the converter supports the families llama.cpp lists in its conversion/ folder; "
            "for an unsupported one export --format hf and serve it with transformers or vLLM",
        )
    out.chmod(0o600)
    return Converted(out, time.perf_counter() - started)


def quantize(source: Path, out: Path, quant: str, threads: int = 0) -> Path:
    """Quantise the GGUF ``source`` to ``quant`` (q4_k_m, q5_k_m) with llama.cpp's quantiser,
    through llama-cpp-python's bindings. Tensors too narrow for a k-quant fall back to the
    nearest type llama.cpp allows (it says so on stderr)."""
    import llama_cpp

    if quant not in QUANT_FTYPES:
        raise InputError(f"no quantiser type for {quant}; use one of {', '.join(QUANT_FTYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_FTYPES[quant])
    params.nthread = threads
    code = llama_cpp.llama_model_quantize(
        str(source).encode(), str(out).encode(), ctypes.byref(params)
    )
    if code != 0 or not out.is_file():
        raise MedsynthError(f"llama.cpp's quantiser failed ({code})", source=str(source))
    out.chmod(0o600)
    return out
