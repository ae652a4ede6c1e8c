"""``eval report``: the HTML and Markdown report of eval runs, from scripted-model runs on real
SLAKE validation questions; and the page opened in a real headless browser."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.errors import InputError
from medsynth.eval.loaders import load_slake
from medsynth.eval.report import report_data, write_report
from medsynth.eval.runner import EvalRequest, run_eval
from medsynth.workspace import Workspace
from tests.conftest import shared_path

N = 16
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _runs(ws: Workspace) -> tuple[int, int]:
    answers: dict[str, set[str]] = {}
    for q in load_slake(shared_path("slake"), "validate").questions[:N]:
        answers.setdefault(q.question, set()).add(q.answer)

    def oracle(messages: list[Message]) -> str:  # right wherever the question alone tells
        known = answers[str(messages[-1]["content"])]
        return next(iter(known)) if len(known) == 1 else "unknown"

    def run(name: str, model: ScriptedChat) -> int:
        request = EvalRequest(
            dataset="slake", path=shared_path("slake"), split="validate", limit=N, name=name,
            model=name,
        )  # fmt: skip
        return int(run_eval(ws, request, model=model)["eval_run_id"])

    return run("yes-man", ScriptedChat(lambda m: "yes", model="yes")), run(
        "oracle", ScriptedChat(oracle, model="oracle")
    )


def test_report_pages_hold_metrics_comparison_and_worst_questions(ws: Workspace) -> None:
    first, second = _runs(ws)
    data = report_data(ws, [str(first), str(second)], samples=200)
    worst = data["runs"][0]["worst"]
    assert worst and all(row["badness"] > 0 for row in worst)
    assert all(row["thumbnail"].startswith("data:image/jpeg;base64,") for row in worst)
    assert all(row["scored_text"] == "unknown" for row in data["runs"][1]["worst"])
    oracle_average = next(r for r in data["comparison"]["rows"] if r["metric"] == "average")
    assert oracle_average["values"][1] > oracle_average["values"][0]
    assert oracle_average["diffs"][0]["diff"] > 0
    out = ws.root / "report"
    html_file, md_file = write_report(ws, ["yes-man", "oracle"], out, samples=200)
    page = html_file.read_text(encoding="utf-8")
    assert page.count('class="chart bars"') == 2 and 'class="chart intervals"' in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert stat.S_IMODE(html_file.stat().st_mode) == 0o600
    markdown = md_file.read_text(encoding="utf-8")
    assert "| overall |" in markdown and "## Comparison" in markdown
    with pytest.raises(InputError, match="no eval run"):
        report_data(ws, ["nope"])


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no Chromium here (CI installs Debian's chromium: see .ci/run)",
)
def test_report_renders_in_a_headless_browser(ws: Workspace, tmp_path: Path) -> None:
    assert CHROMIUM, "CI must have Chromium (apt-get install chromium)"
    first, second = _runs(ws)
    html_file, _ = write_report(ws, [str(first), str(second)], tmp_path / "r", samples=200)
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         f"file://{html_file}"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    dom = done.stdout
    assert dom.count("<rect") >= 4 and "<circle" in dom  # bars and interval points drawn
    assert "data:image/jpeg;base64," in dom and "MedSynth evaluation report" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1000,1400", f"file://{html_file}"],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000  # a page with charts and images, not a blank one
