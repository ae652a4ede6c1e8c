"""``models doctor``: found, weak, missing and unreachable roles, each with the steps to fix it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from medsynth.backends.doctor import diagnose
from medsynth.cli import main
from medsynth.config import CONFIG_FILE, Config, load_config, write_config
from tests.fakes.ollama_server import DEFAULT_TAG, TEXT_ONLY_TAG, serve


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


def ollama_roles(config: Config, url: str, **models: str) -> Config:
    for name, tag in models.items():
        role = getattr(config.models, name)
        role.backend, role.model, role.host = "ollama", tag, url
    return config


def test_a_text_only_ollama_model_in_an_image_role_is_named_with_the_fix() -> None:
    with serve() as fake:
        fake.tags = [DEFAULT_TAG, TEXT_ONLY_TAG]
        config = ollama_roles(
            Config(),
            fake.url,
            generator=TEXT_ONLY_TAG,
            vision_generator=TEXT_ONLY_TAG,
            verifier=DEFAULT_TAG,
        )
        reports = {r.role: r for r in diagnose(config)}
    generator, vision, verifier = (
        reports["generator"],
        reports["vision_generator"],
        reports["verifier"],
    )
    assert generator.status == "ok" and generator.capabilities == ["completion"]  # text role
    assert verifier.status == "ok" and verifier.capabilities == ["completion", "vision"]
    assert verifier.size_bytes == fake.model_path.stat().st_size
    assert vision.status == "no-vision" and vision.found
    assert TEXT_ONLY_TAG in vision.detail and "[models.vision_generator]" in vision.detail
    assert "no vision capability" in vision.detail
    # the server already has a vision model: the fix names it and the role
    assert f"medsynth models use ollama:{DEFAULT_TAG} --roles vision_generator" in vision.steps[0]
    assert any(f"ollama:{TEXT_ONLY_TAG} --roles generator" in step for step in vision.steps)


def test_without_a_vision_model_on_the_server_the_fix_is_a_pull() -> None:
    with serve() as fake:
        fake.tags = [TEXT_ONLY_TAG]
        config = ollama_roles(Config(), fake.url, base_model=TEXT_ONLY_TAG)
        report = next(r for r in diagnose(config) if r.role == "base_model")
    assert report.status == "no-vision"
    assert "ollama pull qwen2.5vl:7b" in report.steps[0]
    assert "--roles base_model" in report.steps[1]


def test_cli_fails_on_a_blind_image_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    main(["init", str(ws)])
    with serve() as fake:
        fake.tags = [DEFAULT_TAG, TEXT_ONLY_TAG]
        config = ollama_roles(
            load_config(ws / CONFIG_FILE),
            fake.url,
            generator=DEFAULT_TAG,
            vision_generator=TEXT_ONLY_TAG,
            verifier=DEFAULT_TAG,
        )
        config.models.base_model = config.models.verifier.model_copy()
        write_config(ws / CONFIG_FILE, config)
        capsys.readouterr()
        code = main(["models", "doctor", "-w", str(ws)])
        text = capsys.readouterr().out
        assert code == 1
        line = next(x for x in text.splitlines() if x.startswith("vision_generator"))
        assert "NO-VISION" in line and f"ollama:{TEXT_ONLY_TAG}" in line
        assert "models use ollama:" in text
        code = main(["models", "doctor", "-w", str(ws), "--json"])
        data = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
        assert code == 1
        assert data["vision_generator"]["capabilities"] == ["completion"]
        assert data["verifier"]["status"] == "ok"
        # with a vision model in the image role, the Ollama roles pass
        config.models.vision_generator.model = DEFAULT_TAG
        write_config(ws / CONFIG_FILE, config)
        main(["models", "doctor", "-w", str(ws), "--json"])
        data = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
    assert {data[r]["status"] for r in ("generator", "vision_generator", "verifier")} == {"ok"}
    assert data["base_model"]["status"] == "ok"


def test_models_use_then_doctor_names_the_blind_image_roles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    main(["init", str(ws)])
    with serve() as fake:
        fake.tags = [DEFAULT_TAG, TEXT_ONLY_TAG]
        assert main(["models", "use", f"ollama:{TEXT_ONLY_TAG}@{fake.url}", "-w", str(ws)]) == 0
        capsys.readouterr()
        main(["models", "doctor", "-w", str(ws), "--json"])
        data = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
        assert data["generator"]["status"] == "ok"
        for role in ("vision_generator", "verifier"):
            assert data[role]["status"] == "no-vision"
            assert f"--roles {role}" in data[role]["steps"][0]
        assert main(["models", "use", f"ollama:{DEFAULT_TAG}@{fake.url}", "-w", str(ws)]) == 0
        capsys.readouterr()
        main(["models", "doctor", "-w", str(ws), "--json"])
        data = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
    assert {data[r]["status"] for r in ("generator", "vision_generator", "verifier")} == {"ok"}
