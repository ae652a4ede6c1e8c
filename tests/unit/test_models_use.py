"""``medsynth models use SPEC``: one command points the pipeline's roles at one model, editing
``medsynth.toml`` in place (comments and other settings kept) and refusing bad input unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.cli import main
from medsynth.config import CONFIG_FILE, load_config
from medsynth.config.edit import set_chat_roles
from medsynth.config.models import ChatRole

HAND_WRITTEN = """\
# my notes: the GPU box is 10.0.0.5
[models.generator]
backend = "ollama"
model = "llama3.2:1b"  # text is enough here
host = "http://10.0.0.5:11434"
context = 8192
retries = 5

[models.verifier]
backend = "openai"
model = "med"
servers = ["http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1"]
concurrency = 8

[synth]
# keep this comment
seed = 7
"""


@pytest.fixture
def workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    return root


def use(root: Path, *args: str) -> int:
    return main(["models", "use", *args, "-w", str(root)])


def test_default_switches_the_pipeline_roles_and_leaves_base_model(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert use(workspace, "ollama:qwen2.5vl:7b") == 0
    out = capsys.readouterr().out
    config = load_config(workspace / CONFIG_FILE)
    for name in ("generator", "vision_generator", "verifier"):
        role = getattr(config.models, name)
        assert (role.backend, role.model, role.host) == ("ollama", "qwen2.5vl:7b", "")
        assert f"{name:16} backend 'llamacpp' -> 'ollama'" in out
    assert config.models.base_model.backend == "hf"  # `train` needs a folder: opt-in only
    assert "base_model" not in out.split("wrote")[0]
    assert "models doctor" in out


def test_hand_written_file_keeps_comments_and_other_settings(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = workspace / CONFIG_FILE
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    assert use(workspace, "openai:qwen-vl@http://10.0.0.7:8000/v1") == 0
    text = path.read_text(encoding="utf-8")
    for kept in ("# my notes: the GPU box is 10.0.0.5", "# keep this comment", "seed = 7"):
        assert kept in text
    assert 'model = "qwen-vl"  # text is enough here' in text  # a line's comment survives
    config = load_config(path)
    generator, verifier = config.models.generator, config.models.verifier
    assert (generator.backend, generator.host) == ("openai", "http://10.0.0.7:8000/v1")
    assert (generator.context, generator.retries) == (8192, 5)  # how it runs: kept
    assert verifier.servers == [] and verifier.host == "http://10.0.0.7:8000/v1"
    assert verifier.concurrency == 8
    assert config.models.vision_generator.model == "qwen-vl"  # a section the file lacked
    assert config.synth.seed == 7
    out = capsys.readouterr().out
    assert "servers ['http://10.0.0.5:8000/v1', 'http://10.0.0.6:8000/v1'] -> []" in out


def test_llamacpp_spec_with_mmproj_for_named_roles(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf, proj = tmp_path / "qwen.gguf", tmp_path / "mmproj.gguf"
    gguf.write_bytes(b"GGUF")
    spec = f"llamacpp:{gguf},mmproj={proj}"
    assert use(workspace, spec, "--roles", "vision_generator,base_model") == 0
    config = load_config(workspace / CONFIG_FILE)
    for role in (config.models.vision_generator, config.models.base_model):
        assert (role.backend, role.model, role.mmproj) == ("llamacpp", str(gguf), str(proj))
    assert config.models.generator.model == "embedded"  # not named: unchanged
    out = capsys.readouterr().out
    assert f"{proj} is not here yet" in out and f"{gguf} is not here" not in out
    assert "fine-tunes base_model" in out


def test_an_ollama_spec_without_host_drops_the_old_server(workspace: Path) -> None:
    assert use(workspace, "ollama:llava:7b@http://10.0.0.5:11434", "--roles", "verifier") == 0
    assert load_config(workspace / CONFIG_FILE).models.verifier.host == "http://10.0.0.5:11434"
    assert use(workspace, "ollama:llava:7b", "--roles", "verifier") == 0
    assert load_config(workspace / CONFIG_FILE).models.verifier.host == ""


def test_a_second_run_changes_nothing(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert use(workspace, "ollama:qwen2.5vl:7b", "--roles", "generator") == 0
    before = (workspace / CONFIG_FILE).read_bytes()
    capsys.readouterr()
    assert use(workspace, "ollama:qwen2.5vl:7b", "--roles", "generator") == 0
    assert "unchanged" in capsys.readouterr().out
    assert (workspace / CONFIG_FILE).read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message", "fix"),
    [
        (["ollama:x", "--roles", "vision"], "unknown role 'vision'", "vision_generator"),
        (["ollama:x", "--roles", "text_encoder"], "is an encoder", "[models.text_encoder]"),
        (["ollama:x", "--roles", " , "], "names no role", "generator"),
        (["ollama:"], "cannot read model spec", "ollama:TAG"),
        (["qwen2.5vl:7b"], "cannot read model spec", "ollama:TAG"),
        (["gguf:/m/x.gguf"], "cannot read model spec", "llamacpp:/path.gguf"),
        (["openai:med"], "names no server", "openai:NAME@http://HOST:PORT/v1"),
        (["llamacpp:/m/x.gguf,mmproj"], "not KEY=VALUE", "llamacpp:"),
        (["ollama:x,colour=red"], "cannot read model spec", "ollama:TAG"),
    ],
)
def test_bad_input_is_refused_with_the_fix_and_nothing_written(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
    fix: str,
) -> None:
    before = (workspace / CONFIG_FILE).read_bytes()
    assert use(workspace, *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "fix:" in err and fix in err.split("fix:", 1)[1]
    assert (workspace / CONFIG_FILE).read_bytes() == before


def test_json_output_lists_each_change(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert use(workspace, "embedded", "--roles", "generator,verifier", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["role"] for c in data["changes"]] == ["generator", "verifier"]
    assert all(c["before"] == {} == c["after"] for c in data["changes"])  # already embedded


def test_an_edit_that_would_not_load_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE
    path.write_text('[models.generator]\nbackend = "ollama"\nmodel = "x"\n', encoding="utf-8")
    bad = ChatRole.model_construct(**{**ChatRole().model_dump(), "backend": "gguf"})
    with pytest.raises(Exception, match="invalid settings"):
        set_chat_roles(path, ["generator"], bad)
    assert path.read_text(encoding="utf-8").endswith('model = "x"\n')
