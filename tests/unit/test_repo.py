"""The repository's promises: layout, README quick start, CI calling the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import medsynth

REPO = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md must open with a bash block"
    assert text.index("```bash") < 40, "the quick start must come first"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands() -> None:
    demo, tests = readme_commands()
    assert demo.startswith("python3 -m venv .venv") and demo.endswith("medsynth demo")
    assert tests.startswith("python3 -m venv .venv") and tests.endswith("just test")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()


def test_top_level_layout() -> None:
    for name in ("medsynth", "models", "kg", "tests", "pyproject.toml", "README.md", "justfile"):
        assert (REPO / name).exists(), name


def test_importing_medsynth_switches_hub_libraries_offline() -> None:
    import os

    assert medsynth.__version__
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        assert os.environ[key] == "1"


def test_torch_is_pinned() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert '"torch==2.14.1"' in text
    assert '"torchvision==0.29.1"' in text
