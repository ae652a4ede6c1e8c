"""``medsynth train export``: a run trained on the tiny Idefics3 (SmolVLM layout) goes out as
GGUF + mmproj (llama.cpp's converter and quantiser), comes back through the ``llamacpp``
backend to answer an image question and to run ``medsynth eval``; ``--format hf`` writes a merged
transformers folder. Everything on the CPU, offline (the CLI's network guard is on)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medsynth.cli import main
from medsynth.train.settings import TrainOptions
from medsynth.workspace import Workspace
from tests.conftest import TinyGguf, shared_path
from tests.unit.train_fixtures import build_export

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]
IMAGE = ("slake", "imgs", "xmlab1", "source.jpg")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> Iterator[Workspace]:
    """A workspace with one finished SFT run (2 steps) on the tiny Idefics3."""
    from medsynth import netguard
    from medsynth.train.service import train

    netguard.install()
    ws = Workspace.init(tmp_path_factory.mktemp("export") / "ws")
    build_export(ws.path("exports") / "export-1")
    options = TrainOptions(
        kind="sft", name="sft-tiny", model=str(tiny_models / "idefics3"), smoke=True, max_steps=2
    )
    assert train(ws, options).status == "ok"
    yield ws
    ws.close()


def cli(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--json"]) == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_gguf_export_loads_back_and_reads_the_image(
    trained: Workspace, tiny_gguf: TinyGguf, tmp_path: Path
) -> None:
    from medsynth.backends.llamacpp import load_llamacpp

    out = tmp_path / "gguf"
    ws = str(trained.root)
    data = cli("train", "export", "sft-tiny", "--quant", "q4_k_m", "-o", str(out), "-w", ws,
               "--tokenizer-fallback", "gpt-2")  # fmt: skip
    files = {role: Path(path) for role, path in data["files"].items()}
    assert set(files) == {"model", "mmproj", "modelfile", "readme"}
    assert files["model"].name == "sft-tiny-q4_k_m.gguf" and not (out / ".merged").exists()
    assert files["model"].stat().st_size < tiny_gguf.model.stat().st_size  # quantised
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in files.values())
    record = json.loads((out / "medsynth_export.json").read_text())
    assert record["run"] == "sft-tiny" and record["kind"] == "sft" and record["quant"] == "q4_k_m"
    assert set(record["sha256"]) == set(files)

    model = load_llamacpp(files["model"], mmproj=files["mmproj"], n_ctx=1024)
    question = [{"role": "user", "content": "Which organ is shown?"}]
    with_image = model.generate(question, images=[shared_path(*IMAGE)], max_tokens=8)
    without = model.generate(question, max_tokens=8)
    assert with_image.prompt_tokens - without.prompt_tokens >= 20  # type: ignore[operator]

    modelfile = files["modelfile"].read_text()
    assert f"FROM ./{files['model'].name}\nFROM ./{files['mmproj'].name}\n" in modelfile
    assert "{{ .Prompt }}" in modelfile and "{{ .Response }}" in modelfile
    assert 'PARAMETER stop "</s>"' in modelfile and "<think>" not in modelfile  # an SFT run
    readme = files["readme"].read_text()
    assert f"llama-server -m {files['model']} --mmproj {files['mmproj']}" in readme
    assert "ollama create sft-tiny -f Modelfile" in readme

    spec = f"llamacpp:{files['model']},mmproj={files['mmproj']}"
    slake = shared_path("slake")
    result = cli("eval", "run", str(slake), "-d", "slake", "--split", "validate", "-m", spec,
                 "-n", "4", "--name", "exported", "-w", ws)  # fmt: skip
    assert result["metrics"]["overall"]["n"] == 4
    calls = trained.db.execute(
        "SELECT image_hashes FROM llm_calls WHERE template = 'eval_vqa'"
    ).fetchall()
    assert len(calls) == 4 and all(json.loads(row[0]) for row in calls)  # each with its image


def test_hf_export_is_a_merged_folder_and_grpo_modelfiles_ask_to_think(
    trained: Workspace, tmp_path: Path
) -> None:
    from medsynth.backends.hf import HFChat
    from medsynth.train.model_export import ExportResult, modelfile, think_suffix

    data = cli("train", "export", "sft-tiny", "--format", "hf", "-o", str(tmp_path / "hf"),
               "-w", str(trained.root))  # fmt: skip
    merged = Path(data["files"]["model"])
    assert (merged / "model.safetensors").is_file() and (merged / "config.json").is_file()
    answer = HFChat(merged).generate([{"role": "user", "content": "Which organ?"}], max_tokens=4)
    assert answer.completion_tokens
    assert "vllm serve" in Path(data["files"]["readme"]).read_text()

    result = ExportResult(tmp_path / "gguf", "gguf", "q8_0")
    result.files["model"] = result.folder / "x-q8_0.gguf"
    text = modelfile(merged, result, think=True)
    assert "{{ .Prompt }}" + think_suffix() in text and "<think>" in think_suffix()
    assert "mmproj" not in text  # no projector file in this result: no second FROM


def test_export_refuses_unknown_tokenizer_and_busy_folder(
    trained: Workspace, tmp_path: Path
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "export", "sft-tiny", "-o", str(busy), "-w", str(trained.root)])
    assert code == 2 and "not empty" in err.getvalue()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "export", "sft-tiny", "-o", str(tmp_path / "new"),
                     "-w", str(trained.root)])  # fmt: skip
    assert code == 2 and "pre-tokenizer was not recognized" in err.getvalue()
    assert list((tmp_path / "new").iterdir()) == []  # no merged folder, no half export
