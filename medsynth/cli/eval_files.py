"""``medsynth eval score | export | report``: predictions files in and out, and the report page.
They belong to the ``medsynth eval`` group of :mod:`medsynth.cli.eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.cli.eval import DatasetName, app, print_metrics


@app.command("score")
def score(
    file: Annotated[
        Path,
        typer.Argument(help="Predictions (.jsonl or .csv): qid or question [+ image], prediction."),
    ],
    dataset: Annotated[
        DatasetName,
        typer.Option("--dataset", "-d", help="Dataset format.", show_default=False),
    ],
    path: Annotated[
        Path, typer.Option("--path", help="Dataset folder or question file.", show_default=False)
    ],
    split: Annotated[str, typer.Option("--split", "-s", help="The split predicted.")] = "test",
    language: Annotated[str, typer.Option("--language", "-l", help="SLAKE language.")] = "en",
    name: Annotated[str, typer.Option("--name", help="A label for `eval compare`.")] = "",
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score predictions made elsewhere against the official file (stored as an eval run of
    model "external"); rows that match no question are listed and the rest is scored."""
    from medsynth.eval.external import score_file

    ws = open_workspace(workspace, writer="eval score", wait=wait)
    result = score_file(
        ws, file, dataset=dataset, path=path, split=split, language=language, name=name
    )
    if as_json:
        emit_json(result)
        return
    console.print(
        f"eval run {result['eval_run_id']}: {result['file']} scored against {result['dataset']} "
        f"{result['split']}: {result['scored']} of {result['questions']} question(s) from "
        f"{result['rows']} row(s), {result['status']}"
    )
    for problem in result["unmatched"][:10]:
        console.print(f"  skipped {problem['source']}: {problem['reason']}")
    if len(result["unmatched"]) > 10:
        console.print(f"  ... {len(result['unmatched']) - 10} more skipped rows")
    print_metrics(result["metrics"])


@app.command("export")
def export(
    run_ref: Annotated[str, typer.Argument(help="Eval run id or name.", show_default=False)],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="File to write (.jsonl or .csv).", show_default=False),
    ],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a run's predictions (qid, image, question, prediction), the format `eval score`
    reads."""
    from medsynth.eval.compare import resolve_run
    from medsynth.eval.external import export_predictions

    ws = open_workspace(workspace)
    run = resolve_run(ws, run_ref)
    count = export_predictions(ws, run["id"], out)
    if as_json:
        emit_json({"eval_run_id": run["id"], "file": str(out), "predictions": count})
        return
    console.print(f"wrote {count} prediction(s) of eval run {run['id']} to {out} (owner-only)")


@app.command("report")
def report(
    runs: Annotated[
        list[str], typer.Argument(help="Eval run ids or names (the first is the baseline).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.html and .md.")],
    samples: Annotated[
        int | None, typer.Option("--samples", min=100, help="Bootstrap resamples.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A self-contained HTML page (charts, comparison, visual reliance, worst questions with
    their images) and its Markdown twin."""
    from medsynth.eval.report import write_report

    ws = open_workspace(workspace)
    written = write_report(ws, runs, out, samples=samples)
    if as_json:
        emit_json({"files": [str(path) for path in written]})
        return
    for path in written:
        console.print(f"wrote {path} (owner-only)")
