"""The command line: help everywhere, JSON output, errors with exit code 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from medsynth.cli import app, main
from tests.conftest import write


def all_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = all_commands()
    assert ["kg", "import"] in commands
    assert ["demo"] in commands
    for path in commands:
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Usage:" in out
        groups = {"kg", "config", "models", "train", "eval"}
        if path and path[-1] not in groups:
            assert "--json" in out or path in (["config"], ["tui"]), path  # tui: interactive
            assert "--workspace" in out or path[-1] == "init", path


def test_init_and_import_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    assert main(["init", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["workspace"] == str(ws.resolve())
    kg = write(tmp_path / "kg.csv", "head,relation,tail\nFlu,location,Lung\nFlu,cause,virus\nX,r\n")
    code = main(["kg", "import", str(kg), "-f", "triples", "--no-index", "-w", str(ws), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["triples_new"] == 2
    assert data["rejects"] == [
        {"source": "kg.csv:4", "reason": "expected 3 fields, found 2", "raw": "X,r"}
    ]
    assert main(["kg", "paths", "Flu", "-w", str(ws), "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)["paths"]
    assert [p["relation"] for p in paths] == ["location", "cause"]
    assert main(["rejects", "-w", str(ws), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["source"] == "kg.csv:4"
    assert main(["runs", "-w", str(ws), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert runs[0]["command"] == "kg import"
    assert runs[0]["summary"]["triples_new"] == 2


def test_workspace_from_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["init", str(tmp_path / "ws")]) == 0
    monkeypatch.setenv("MEDSYNTH_WORKSPACE", str(tmp_path / "ws"))
    capsys.readouterr()
    assert main(["kg", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entities"] == 0


def test_errors_exit_2_with_fix_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kg", "stats", "-w", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a MedSynth workspace" in err
    assert "fix: run `medsynth init" in err
    assert "Traceback" not in err
    main(["init", str(tmp_path / "ws")])
    assert (
        main(
            [
                "kg",
                "import",
                str(tmp_path / "missing.csv"),
                "-f",
                "triples",
                "-w",
                str(tmp_path / "ws"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "missing.csv: no such file or folder" in err
    assert main(["kg", "show", "Nothing", "-w", str(tmp_path / "ws")]) == 2
    assert "no such entity" in capsys.readouterr().err


def test_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDSYNTH_DEBUG", raising=False)
    assert main(["--debug", "kg", "stats", "-w", str(tmp_path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kg", "import"]) == 2
    assert "Missing argument" in capsys.readouterr().err
    assert main(["kg", "import", "x", "--format", "nope"]) == 2


def test_formats_are_detected_when_not_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    main(["init", "-w", str(ws)])
    write(tmp_path / "KG" / "en_organ_rel.csv", "organ#attribute#value\nLung#belong to#Chest\n")
    write(tmp_path / "kg.jsonl", '{"head": "Flu", "relation": "location", "tail": "Lung"}\n')
    capsys.readouterr()
    for path in (tmp_path / "KG", tmp_path / "kg.jsonl"):
        assert main(["kg", "import", str(path), "--no-index", "-w", str(ws), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["triples_new"] == 1
    folder = tmp_path / "imgs" / "Lung"
    folder.mkdir(parents=True)
    from PIL import Image

    Image.new("L", (40, 40), 128).save(folder / "a.png")
    assert (
        main(["kg", "link-images", str(tmp_path / "imgs"), "--no-index", "-w", str(ws), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["by_entity"] == {"Lung": 1}


def test_tui_refuses_a_folder_that_is_not_a_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tui", str(tmp_path)]) == 2  # checked before Textual takes the terminal
    err = capsys.readouterr().err
    assert "not a MedSynth workspace" in err and "fix: run `medsynth init" in err
