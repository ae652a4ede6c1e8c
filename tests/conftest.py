"""Shared fixtures: workspaces, the real SLAKE data in ../shared/data, the tiny random models."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from medsynth.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# The longest test files (``pytest --durations``), longest first. ``just test`` spreads the
# suite over the cores (pytest-xdist, ``--dist load``), which hands tests out in collection
# order: these go first so that no long test starts last and runs alone at the end.
LONGEST_FIRST = (
    "tests/integration/test_demo_offline.py",
    "tests/integration/test_synth_slake.py",
    "tests/tui/test_synth.py",
    "tests/integration/test_accelerate_cpu.py",
    "tests/integration/test_model_shapes.py",
    "tests/integration/test_ground_slake.py",
    "tests/tui/test_ingest.py",
    "tests/tui/test_app.py",
    "tests/tui/test_evaluate.py",
    "tests/integration/test_llamacpp_vision.py",
    "tests/tui/test_train.py",
    "tests/integration/test_gpu_bench_format.py",
    "tests/tui/test_chat.py",
    "tests/integration/test_train_export.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first (in :data:`LONGEST_FIRST` order), the rest as collected."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def shared_path(*parts: str) -> Path:
    """A path in ../shared/data; fails (never skips) when the data is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"missing shared data {path}: the tests need ../shared/data beside the repo")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace in a temporary folder."""
    workspace = Workspace.init(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def slake_kg() -> Path:
    """SLAKE's KG folder."""
    return shared_path("slake", "KG")


@pytest.fixture(scope="session")
def slake_imgs() -> Path:
    """SLAKE's imgs folder (xmlabN/source.jpg + detection.json)."""
    return shared_path("slake", "imgs")


def write(path: Path, text: str | bytes) -> Path:
    """Write ``text`` (or bytes) to ``path``, creating folders; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def script_module(path: Path) -> ModuleType:
    """A script of the repository (``models/*.py``, ``tests/bench/*.py``: not package modules)
    imported by its file path, under its file name."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def models_script(name: str) -> ModuleType:
    """``models/NAME.py`` as a module."""
    return script_module(REPO / "models" / f"{name}.py")


def bench_script(name: str) -> ModuleType:
    """``tests/bench/NAME.py`` as a module."""
    return script_module(REPO / "tests" / "bench" / f"{name}.py")


def build_tiny_module() -> ModuleType:
    """``models/build_tiny.py`` as a module."""
    return models_script("build_tiny")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random models: ``models/tiny`` when built by this version of the script, else
    built once for the session, offline (any network attempt fails the fixture)."""
    from tests.fakes.offline import offline

    builder = build_tiny_module()
    if builder.is_complete(REPO / "models" / "tiny"):
        return REPO / "models" / "tiny"
    root = tmp_path_factory.mktemp("tiny")
    with offline() as attempts:
        assert builder.main([str(root)]) == 0
    assert attempts == [], "network attempts while building the tiny models"
    assert builder.is_complete(root)
    return root


@pytest.fixture(scope="session")
def tiny_llava(tiny_models: Path) -> Path:
    """The tiny LLaVA folder (transformers format, random weights)."""
    return tiny_models / "llava"


@dataclass(frozen=True)
class TinyGguf:
    """The tiny Idefics3 (SmolVLM layout) converted by llama.cpp's converter."""

    model: Path  # language model, f16 GGUF
    mmproj: Path  # vision projector, f16 GGUF
    seconds: float  # both conversions


@pytest.fixture(scope="session")
def tiny_gguf(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> TinyGguf:
    """The tiny Idefics3 as GGUF + mmproj, converted once per session, offline, by llama.cpp's
    own converter (``just gguf-tools`` puts it beside the .venv; ``just test`` does that first),
    as ``just tiny-gguf`` does (``models/build_tiny_gguf.py``)."""
    import time

    from tests.fakes.offline import offline

    script = models_script("build_tiny_gguf")
    root = tmp_path_factory.mktemp("tiny-gguf")
    started = time.perf_counter()
    with offline() as attempts:
        model, mmproj = script.convert_tiny(tiny_models / "idefics3", root)
    assert attempts == [], "network attempts while converting the tiny model"
    return TinyGguf(model.path, mmproj.path, time.perf_counter() - started)


def text_only_lm(folder: Path) -> Path:
    """A tiny random Llama causal LM with its tokenizer saved in ``folder`` (a model that reads
    text only)."""
    import torch
    from transformers import LlamaForCausalLM

    builder = build_tiny_module()
    torch.manual_seed(0)
    tokenizer = builder.bpe_tokenizer([])
    LlamaForCausalLM(builder.tiny_llama_config(len(tokenizer), tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
