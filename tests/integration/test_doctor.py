"""``models doctor``: found, weak, missing and unreachable roles, each with the steps to fix it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from medsynth.backends.doctor import diagnose
from medsynth.cli import main
from medsynth.config import Config


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_default_config(tmp_path: Path) -> None:
    reports = {r.role: r for r in diagnose(Config(), load=True)}
    generator = reports["generator"]
    assert generator.status == "weak" and generator.found and generator.loads
    assert generator.size_bytes and generator.size_bytes > 50 * 2**20
    assert reports["text_encoder"].status == "ok"
    assert reports["image_encoder"].status == "weak"
    assert any("BiomedCLIP" in step for step in reports["image_encoder"].steps)
    assert reports["base_model"].status == "missing"
    assert "huggingface-cli download" in reports["base_model"].steps[0]


def test_missing_files_and_dead_servers(tmp_path: Path) -> None:
    config = Config()
    config.models.generator.model = str(tmp_path / "nope.gguf")
    config.models.vision_generator.backend = "ollama"
    config.models.vision_generator.model = "qwen2.5vl:7b"
    config.models.vision_generator.host = f"http://127.0.0.1:{closed_port()}"
    config.models.verifier.backend = "openai"
    config.models.verifier.model = "qwen"
    config.models.verifier.servers = [f"http://127.0.0.1:{closed_port()}/v1"]
    reports = {r.role: r for r in diagnose(config)}
    assert reports["generator"].status == "missing"
    assert "nope.gguf" in reports["generator"].detail
    vision = reports["vision_generator"]
    assert vision.status == "unreachable"
    assert any("ollama pull qwen2.5vl:7b" in step for step in vision.steps)
    verifier = reports["verifier"]
    assert verifier.status == "unreachable"
    assert any("vllm serve" in step for step in verifier.steps)


def test_cli_json_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["init", str(tmp_path / "ws")])
    capsys.readouterr()
    code = main(["models", "doctor", "-w", str(tmp_path / "ws"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert {r["role"] for r in data} == {
        "generator",
        "vision_generator",
        "verifier",
        "base_model",
        "text_encoder",
        "image_encoder",
    }
    assert code == 1  # base_model is not configured
