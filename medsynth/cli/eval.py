"""``medsynth eval``: evaluate a model on SLAKE / VQA-RAD, list and compare runs, and check a
training export for overlap with a test set.

``medsynth eval --dataset slake PATH`` is short for ``medsynth eval run --dataset slake PATH``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.table import Table
from typer.core import TyperGroup

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace
from medsynth.eval.figures import comparison_rows, metric_cells, scorer_cells

DatasetName = Literal["slake", "vqa-rad", "pathvqa", "pmc-vqa", "omnimedvqa"]
ScorerName = Literal["strict", "llava-med", "multimedeval", "all"]
ScorerOpt = Annotated[
    ScorerName,
    typer.Option(
        "--scorer",
        help="strict (MedSynth's, the default), llava-med (the script most papers report, with "
        "its quirks), multimedeval, or all side by side.",
    ),
]


class DefaultRunGroup(TyperGroup):
    """A group whose arguments go to ``run`` unless they start with a command name."""

    default_command = "run"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        super().format_help(ctx, formatter)
        command = self.commands.get(self.default_command)
        if command is None:
            return
        formatter.write_paragraph()
        formatter.write_text(
            f"Without a command, `medsynth eval ...` is `medsynth eval {self.default_command} "
            "...`, with these options:"
        )
        sub = typer.Context(command, info_name=self.default_command, parent=ctx)
        command.format_usage(sub, formatter)
        command.format_options(sub, formatter)


app = typer.Typer(
    cls=DefaultRunGroup,
    help="Evaluate on SLAKE, VQA-RAD, PathVQA, PMC-VQA, OmniMedVQA; score outside predictions; "
    "compare runs; report; check training data for test overlap.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("run")
def run(
    path: Annotated[
        Path, typer.Argument(help="Dataset folder (or its question file).", show_default=False)
    ],
    dataset: Annotated[
        DatasetName,
        typer.Option("--dataset", "-d", help="Dataset format.", show_default=False),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="A role of medsynth.toml (base_model, vision_generator, ...) or a spec: "
            "llamacpp:embedded, llamacpp:/m.gguf, hf:/folder[,adapter=/adapter], "
            "ollama:TAG@http://127.0.0.1:11434, openai:NAME@http://127.0.0.1:8000/v1.",
        ),
    ] = "base_model",
    split: Annotated[
        str, typer.Option("--split", "-s", help="train, validate (SLAKE) or test.")
    ] = "test",
    language: Annotated[
        str, typer.Option("--language", "-l", help="SLAKE question language (en or zh).")
    ] = "en",
    answer_type: Annotated[
        Literal["all", "open", "closed"],
        typer.Option("--answer-type", "-t", help="Only open or only closed questions."),
    ] = "all",
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="The first N questions only.")
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="A label for `eval compare` (base, sft, grpo...).")
    ] = "",
    max_tokens: Annotated[
        int | None,
        typer.Option("--max-tokens", min=1, help="Answer token limit (default: [eval])."),
    ] = None,
    think: Annotated[
        bool,
        typer.Option(
            "--think",
            help="Ask for <think>/<answer> output (GRPO-trained models); the "
            "<answer> part is scored.",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Batch / calls in flight (default: [eval])."),
    ] = None,
    show: Annotated[
        int, typer.Option("--show", min=0, help="Also print the first N predictions.")
    ] = 0,
    image_ablation: Annotated[
        Literal["", "blank", "noise", "shuffled"],
        typer.Option(
            "--image-ablation",
            help="Ask with the image replaced (black, noise, another question's image): a run "
            "of its own; `eval compare REAL ABLATED` reports the visual reliance.",
        ),
    ] = "",
    choices: Annotated[
        bool,
        typer.Option(
            "--choices",
            help="Put closed questions as multiple choice (the answers the set gives to the "
            "same question, or yes/no), as PubMedVision evaluates them.",
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask a model every selected question (temperature 0, call log), store each prediction by
    question id and print the scores; the same command again resumes an unfinished run."""
    from medsynth import netguard
    from medsynth.eval.models import parse_model_spec
    from medsynth.eval.runner import EvalRequest, predictions, run_eval

    ws = open_workspace(workspace, writer="eval run", wait=wait)
    netguard.install(parse_model_spec(model, ws.config).hosts())  # a server named on the CLI
    request = EvalRequest(
        dataset=dataset,
        path=path,
        model=model,
        split=split,
        language=language,
        answer_type=answer_type,
        limit=limit,
        name=name,
        max_tokens=max_tokens,
        think=think,
        batch_size=batch_size,
        image_ablation=image_ablation,
        choices=choices,
    )

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            console.print(f"  answered {done}/{total}")

    result = run_eval(ws, request, progress=None if as_json else progress)
    if show:
        result["predictions"] = predictions(ws, result["eval_run_id"])[:show]
    if as_json:
        emit_json(result)
        return
    print_result(result)


def print_metrics(metrics: dict[str, Any]) -> None:
    """The metrics table (percent; questions behind each figure in brackets): overall, by
    answer type, by question type."""
    table = Table(box=None, pad_edge=False)
    for column in ("", "n", "closed acc", "open recall", "avg", "EM", "F1"):
        table.add_column(column, justify="left" if not column else "right", no_wrap=True)
    groups = [("overall", metrics["overall"])]
    groups += [(k, v) for k, v in metrics["by_answer_type"].items()]
    groups += [("by question type", None)]
    groups += [(f"  {k}", v) for k, v in metrics["by_question_type"].items()]
    for label, block in groups:
        if block is None:
            table.add_row(label, "", "", "", "", "", "")
            continue
        table.add_row(label, *metric_cells(block))
    console.print(table)


def print_scorers(scorers: dict[str, dict[str, Any]], skipped: int) -> None:
    """The overall figures under each scorer, side by side."""
    table = Table(box=None, pad_edge=False, title="the same answers under each scorer")
    for column in ("scorer", "closed acc", "open recall", "avg"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for name, block in scorers.items():
        table.add_row(name, *scorer_cells(block))
    console.print(table)
    closed = scorers.get("llava-med", {}).get("closed_accuracy") or {}
    counted = int(closed.get("n") or 0)
    fixed = ""
    if counted + skipped:  # the skipped ones counted as wrong, as the December 2023 fix does
        right = round((closed.get("value") or 0.0) * counted / 100)
        share = 100 * right / (counted + skipped)
        fixed = f" ({share:.2f} % with them counted as wrong, as its December 2023 fix does)"
    console.print(
        f"llava-med left {skipped} wrong closed answer(s) out of its closed accuracy{fixed}; "
        "compare a paper's number with the scorer it used (most report LLaVA-Med's)"
    )


def print_result(result: dict[str, Any]) -> None:
    """Human-readable summary of one eval run."""
    label = f" ({result['name']})" if result["name"] else ""
    console.print(
        f"eval run {result['eval_run_id']}{label}: {result['dataset']} {result['split']} "
        f"[{result['language']}], {result['predicted']}/{result['questions']} question(s) "
        f"predicted, {result['status']}"
    )
    seen = "images seen" if result["images_seen"] else "images NOT seen (text-only model)"
    console.print(
        f"  model {result['model_spec']} ({result['backend']}: {result['model']}), {seen}; "
        f"prompt {result['template']}"
    )
    console.print(
        f"  asked now {result['asked_now']}, resumed {result['resumed_from']}; model calls "
        f"{result['model_calls']}, cache hits {result['cache_hits']}; {result['seconds']} s"
    )
    for skipped in result["skipped"]:
        console.print(f"  skipped qid {skipped['qid']}: {skipped['reason']}")
    for row in result["unusable_rows"]:
        console.print(f"  unusable row {row['source']}: {row['reason']}")
    for warning in result["warnings"]:
        console.print(f"  warning: {warning}")
    print_metrics(result["metrics"])
    for row in result.get("predictions", []):
        console.print(
            f"  [{row['qid']}] {row['question']} | truth: {row['answer']} | "
            f"prediction: {row['scored_text']!r}"
        )


@app.command("list")
def list_runs(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Eval runs in this workspace, newest first."""
    from medsynth.eval.compare import eval_runs

    ws = open_workspace(workspace)
    runs = eval_runs(ws)
    if as_json:
        emit_json(runs)
        return
    if not runs:
        console.print("no eval runs yet: run `medsynth eval --dataset slake PATH --model ...`")
    for r in runs:
        overall = (r["metrics"] or {}).get("overall", {})
        console.print(
            f"{r['id']:>4} {r['name'] or '-':<10} {r['dataset']} {r['split']} "
            f"{r['questions']} q, {r['status']}, avg {overall.get('average', '-')}, "
            f"model {r['model_spec']['spec']}" + ("" if r["images_seen"] else " (images not seen)")
        )


@app.command("show")
def show_run(
    run_ref: Annotated[str, typer.Argument(help="Eval run id or name.", show_default=False)],
    predictions_shown: Annotated[
        int, typer.Option("--predictions", "-p", min=0, help="Also print N predictions.")
    ] = 0,
    scorer: ScorerOpt = "strict",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One eval run's settings and metrics (under one scorer, or all three side by side)."""
    from medsynth.eval.compare import resolve_run
    from medsynth.eval.metrics import summarize
    from medsynth.eval.queries import predictions
    from medsynth.eval.scorers import SCORERS, Scorer, rescore, skipped

    ws = open_workspace(workspace)
    data = resolve_run(ws, run_ref)
    stored = predictions(ws.db, data["id"])
    if scorer in ("llava-med", "multimedeval") and stored:
        data["metrics"] = summarize(rescore(stored, cast(Scorer, scorer)))
    data["scorer"] = scorer
    if scorer == "all":
        data["scorers"] = {s: summarize(rescore(stored, s))["overall"] for s in SCORERS}
        data["llava_med_skipped"] = skipped(stored)
    if predictions_shown:
        data["predictions"] = stored[:predictions_shown]
    if as_json:
        emit_json(data)
        return
    console.print(
        f"eval run {data['id']} ({data['name'] or '-'}): {data['dataset']} {data['split']}, "
        f"{data['questions']} question(s), {data['status']}; model {data['model_spec']['spec']} "
        f"({data['model']}); images {'seen' if data['images_seen'] else 'NOT seen'}"
    )
    if data["metrics"]:
        print_metrics(data["metrics"])
    if "scorers" in data:
        print_scorers(data["scorers"], data["llava_med_skipped"])
    for row in data.get("predictions", []):
        console.print(
            f"  [{row['qid']}] {row['question']} | {row['answer']} | {row['scored_text']!r}"
        )


@app.command("compare")
def compare_runs(
    runs: Annotated[
        list[str], typer.Argument(help="Eval run ids or names; the first is the baseline.")
    ],
    samples: Annotated[
        int | None, typer.Option("--samples", min=100, help="Bootstrap resamples.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    scorer: ScorerOpt = "strict",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Runs side by side on their shared questions, each minus the first, with a paired
    bootstrap confidence interval; an image-ablated run of the first shows its visual
    reliance."""
    from medsynth.eval.compare import compare
    from medsynth.eval.scorers import SCORERS

    ws = open_workspace(workspace)
    chosen = list(SCORERS) if scorer == "all" else [scorer]
    tables = [compare(ws, runs, samples=samples, seed=seed, scorer=s) for s in chosen]
    if as_json:
        emit_json(tables[0] if len(tables) == 1 else {"scorers": tables})
        return
    for data in tables:
        print_comparison(data)


def print_comparison(data: dict[str, Any]) -> None:
    """One comparison table (and the visual reliance of ablated runs)."""
    labels = [f"{r['id']} {r['name']}".strip() for r in data["runs"]]
    boot = data["bootstrap"]
    console.print(
        f"[{data['scorer']}] {data['dataset']} {data['split']}: "
        f"{data['questions_compared']} shared question(s); "
        f"differences vs run {labels[0]} with {round(100 * boot['confidence'])} % bootstrap "
        f"interval ({boot['samples']} resamples)"
    )
    table = Table(box=None, pad_edge=False)
    table.add_column("metric")
    table.add_column("n", justify="right")
    for label in labels:
        table.add_column(label, justify="right")
    for label in labels[1:]:
        table.add_column(f"{label} - {labels[0]}", justify="right")
    for cells in comparison_rows(data):
        table.add_row(*cells)
    console.print(table)
    console.print("* the interval excludes 0")
    for note in data["notes"]:
        console.print(f"note: {note}")
    for r in data["runs"]:
        if not r["images_seen"]:
            console.print(f"note: run {r['id']} used a text-only model (images not seen)")
    for reliance in data["visual_reliance"]:
        console.print(f"visual reliance of run {reliance['run']} ({reliance['ablation']} images):")
        for row in reliance["rows"]:
            mark = " *" if row["excludes_zero"] else ""
            kept = "-" if row["kept"] is None else f"{row['kept']:.1f} %"
            console.print(
                f"  {row['answer_type']:<6} {row['score']:6.2f} -> {row['ablated']:6.2f}: drop "
                f"{row['drop']:+.2f} [{row['ci'][0]:+.2f}, {row['ci'][1]:+.2f}]{mark}, "
                f"kept {kept} (n={row['n']})"
            )


@app.command("contamination")
def contamination(
    export: Annotated[
        Path, typer.Argument(help="Training export folder (sft.jsonl, grpo.jsonl, llava.json).")
    ],
    tests: Annotated[
        list[Path],
        typer.Argument(help="Test question files or dataset folders (SLAKE, VQA-RAD)."),
    ],
    split: Annotated[
        str, typer.Option("--split", "-s", help="Split read from a dataset folder.")
    ] = "test",
    language: Annotated[
        str | None,
        typer.Option("--language", "-l", help="Only SLAKE questions in this language."),
    ] = None,
    phash_distance: Annotated[
        int | None, typer.Option("--phash-distance", help="Most differing phash bits (-1: off).")
    ] = None,
    question_cosine: Annotated[
        float | None,
        typer.Option("--question-cosine", help="Least question cosine similarity (>1: off)."),
    ] = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help="Hits listed.")] = 20,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Overlap of a training export with test sets: images by SHA-256 and perceptual hash,
    questions by normalised text and by text-encoder similarity."""
    from medsynth.backends.encoders import text_encoder
    from medsynth.eval.contamination import TestSet
    from medsynth.eval.exports import scan_export
    from medsynth.store.runs import RunRecorder

    ws = open_workspace(workspace, writer="eval contamination", wait=wait)
    cfg = ws.config.eval
    cosine = cfg.question_cosine if question_cosine is None else question_cosine
    encoder = text_encoder(ws.config.models.text_encoder) if cosine <= 1.0 else None
    settings = {"export": str(export), "tests": [str(t) for t in tests], "split": split}
    with RunRecorder(ws.db, "eval contamination", settings) as recorder:
        test = TestSet.from_files(
            tests,
            encoder,
            split=split,
            language=language,
            max_pixels=ws.config.images.max_pixels,
            phash_distance=cfg.phash_distance if phash_distance is None else phash_distance,
            question_cosine=cosine,
        )
        data = scan_export(export, test, max_pixels=ws.config.images.max_pixels, examples=examples)
        recorder.summary = {
            k: data[k]
            for k in (
                "samples",
                "contaminated_samples",
                "samples_by_kind",
                "test_images_overlapping",
            )
        }
    if as_json:
        emit_json(data)
        return
    console.print(
        f"{data['samples']} training sample(s), {data['images']} image(s) in {data['export']}; "
        f"test: {data['test']['questions']} question(s), {data['test']['images']} image(s)"
    )
    thresholds = data["thresholds"]
    console.print(
        f"  thresholds: phash distance ≤ {thresholds['phash_distance']}, question cosine ≥ "
        f"{thresholds['question_cosine']} ({thresholds['question_encoder'] or 'no encoder'})"
    )
    console.print(
        f"  contaminated samples: {data['contaminated_samples']} "
        + (str(data["samples_by_kind"]) if data["samples_by_kind"] else "")
    )
    console.print(
        f"  test images overlapping: {data['test_images_overlapping']}; test questions "
        f"overlapping: {data['test_questions_overlapping']}"
    )
    for hit in data["hits"]:
        console.print(f"  {hit['source']} ({hit['sample']}): {hit['reason']}")
    for problem in data["problems"] + data["test"]["problems"]:
        console.print(f"  unreadable: {problem['source']}: {problem['reason']}")
