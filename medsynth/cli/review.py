"""``medsynth judge`` (rubric scores from the verifier model) and ``medsynth review``: the review
queue, single reviews, CSV review sheets and review numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace

app = typer.Typer(
    help="Reviews by people: the review queue, single reviews, CSV review sheets for another "
    "machine, and review numbers (acceptance, agreement with the judge; also `medsynth review` "
    "alone).",
    no_args_is_help=False,
    invoke_without_command=True,
)

OrderOpt = Annotated[
    Literal["random", "lowest", "generator"],
    typer.Option(
        "--order",
        help="random (seeded), lowest (lowest mean judge score first) or generator "
        "(round-robin across generators).",
    ),
]
GeneratorOpt = Annotated[
    str | None, typer.Option("--generator", "-g", help="Only this generator's samples.")
]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="At most N samples.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the random orders.")]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Also samples already reviewed (by --reviewer, or anyone).")
]


def judge(
    generators: Annotated[
        list[str] | None,
        typer.Option(
            "--generator",
            "-g",
            metavar="NAME[,NAME]",
            help="Only these generators' samples (comma-separated or repeated; default: all).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=1, help="Judge at most N samples not judged yet."),
    ] = None,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every kept sample 1-5 on accuracy, relevance, completeness and usefulness
    (PubMedVision's expert rubric) with the verifier model, with the record's image when it
    reads images; resumable: samples already judged are skipped, calls are cached."""
    from medsynth.review.judge import judge as run_judge

    ws = open_workspace(workspace, writer="judge", wait=wait)

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:
            console.print(f"  judged {done}/{total}")

    report = run_judge(
        ws, generators=generators, limit=limit, progress=None if as_json else progress
    )
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    console.print(
        f"run {data['run_id']}: judged {data['judged']} sample(s) with {data['model']} "
        f"({data['template']}) in {data['seconds']} s; {data['already_judged']} of "
        f"{data['kept']} kept sample(s) were judged before"
    )
    if data["judged"]:
        console.print(
            "  mean scores now: "
            + ", ".join(f"{c} {m}" for c, m in data["means"].items() if m is not None)
        )
        console.print(
            "  by generator: " + ", ".join(f"{g} {n}" for g, n in data["by_generator"].items())
        )
    if data["failed"]:
        console.print(
            f"  {data['failed']} sample(s) could not be judged (see `medsynth rejects --stage "
            "judge`); they are tried again on the next run"
        )
    console.print(f"  model calls: {data['model_calls']}  cache hits: {data['cache_hits']}")
    for warning in data["warnings"]:
        console.print(f"  warning: {warning}")


@app.command("queue")
def queue_command(
    order: OrderOpt = "random",
    generator: GeneratorOpt = None,
    limit: LimitOpt = 50,
    seed: SeedOpt = 0,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", "-r", help="Leave out what NAME has reviewed.")
    ] = None,
    include_reviewed: AllOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the samples to review next (kept samples, unreviewed unless --all)."""
    from medsynth.review.data import queue, sample_view

    ws = open_workspace(workspace)
    ids = queue(
        ws.db,
        order=order,
        generator=generator,
        limit=limit,
        seed=seed,
        reviewer=reviewer,
        unreviewed_only=not include_reviewed,
    )
    if as_json:
        emit_json(ids)
        return
    for sample_id in ids:
        view = sample_view(ws.db, sample_id)
        judged = f" judge {view.judge}" if view.judge else ""
        console.print(f"#{sample_id} {view.generator}/{view.sample_type}{judged}")
        console.print(f"  Q: {view.question}")
    console.print(f"{len(ids)} sample(s)")


@app.command("show")
def show(
    sample_id: Annotated[int, typer.Argument(help="Sample id.", show_default=False)],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print one sample as a reviewer sees it: text, context, KG path, provenance, judge scores
    and reviews (image paths only)."""
    from dataclasses import asdict

    from medsynth.review.data import sample_view

    view = sample_view(open_workspace(workspace).db, sample_id)
    if as_json:
        emit_json(asdict(view))
        return
    console.print(
        f"#{view.id} record {view.record_id} {view.generator}/{view.sample_type} ({view.status})"
    )
    for label, text in (
        ("question", view.question),
        ("answer", view.answer),
        ("key answer", view.key_answer),
        ("context", view.context),
        ("KG path", view.path),
    ):
        if text:
            console.print(f"  {label}: {text}")
    for image in view.images:
        console.print(f"  image: {image}")
    console.print(f"  provenance: {view.provenance}")
    if view.judge:
        console.print(f"  judge: {view.judge} ({view.judge_rationale})")
    for r in view.reviews:
        console.print(
            f"  review {r.created_at} by {r.reviewer} ({r.source}): {r.verdict} {r.scores} {r.note}"
        )
    for warning in view.warnings:
        console.print(f"  warning: {warning}")


@app.command("add")
def add(
    sample_id: Annotated[int, typer.Argument(help="Sample id.", show_default=False)],
    reviewer: Annotated[str, typer.Option("--reviewer", "-r", help="Who reviews (required).")],
    verdict: Annotated[
        Literal["accept", "reject"] | None, typer.Option("--verdict", help="accept or reject.")
    ] = None,
    accuracy: Annotated[int | None, typer.Option(min=1, max=5, help="1-5.")] = None,
    relevance: Annotated[int | None, typer.Option(min=1, max=5, help="1-5.")] = None,
    completeness: Annotated[int | None, typer.Option(min=1, max=5, help="1-5.")] = None,
    usefulness: Annotated[int | None, typer.Option(min=1, max=5, help="1-5.")] = None,
    note: Annotated[str, typer.Option("--note", help="Free text.")] = "",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store one review of one sample (it becomes the reviewer's latest for that sample)."""
    from medsynth.review.data import save_review

    ws = open_workspace(workspace)
    given = {"accuracy": accuracy, "relevance": relevance}
    given |= {"completeness": completeness, "usefulness": usefulness}
    scores = {c: s for c, s in given.items() if s is not None}
    review_id = save_review(ws.db, sample_id, reviewer, verdict, scores, note, source="cli")
    if as_json:
        emit_json({"review_id": review_id, "sample_id": sample_id})
        return
    console.print(f"review {review_id} of sample {sample_id} by {reviewer.strip()} stored")


@app.command("export")
def export_sheet(
    file: Annotated[Path, typer.Argument(help="CSV file to write.", show_default=False)],
    order: OrderOpt = "random",
    generator: GeneratorOpt = None,
    limit: LimitOpt = 50,
    seed: SeedOpt = 0,
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer", "-r", help="Fill the reviewer column, and leave out what NAME reviewed."
        ),
    ] = None,
    include_reviewed: AllOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a review sheet (CSV, owner-only) of the review queue for a clinician to fill in on
    any machine: sample id, fingerprint, question, answer, key answer, context, KG path and judge
    scores, with empty reviewer, verdict, accuracy, relevance, completeness, usefulness and note
    columns. Images are not in the sheet, only the sample id."""
    from medsynth.review.csvio import export_csv

    sheet = export_csv(
        open_workspace(workspace),
        file,
        order=order,
        generator=generator,
        limit=limit,
        seed=seed,
        reviewer=reviewer,
        unreviewed_only=not include_reviewed,
        force=force,
    )
    if as_json:
        emit_json(sheet.as_dict())
        return
    console.print(f"wrote {sheet.samples} sample(s) to {sheet.path}")
    console.print(
        "  fill in verdict (accept/reject), the four scores (1-5) and a note, then "
        f"`medsynth review import {sheet.path.name}`"
    )


@app.command("import")
def import_sheet(
    file: Annotated[Path, typer.Argument(help="Filled-in CSV review sheet.", show_default=False)],
    reviewer: Annotated[
        str | None,
        typer.Option("--reviewer", "-r", help="Reviewer of rows whose reviewer cell is empty."),
    ] = None,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the reviews of a filled-in review sheet (source csv). Rows with errors (unknown
    sample, changed sample or edited row, bad verdict or score) are listed by row number and
    not stored; the others are. Exit code 2 when any row was refused."""
    from medsynth.review.csvio import import_csv

    report = import_csv(
        open_workspace(workspace, writer="review import", wait=wait), file, reviewer
    )
    data = report.as_dict()
    if as_json:
        emit_json(data)
    else:
        console.print(
            f"{report.rows} row(s): {report.stored} review(s) stored, {report.blank} blank, "
            f"{report.unchanged} unchanged, {len(report.errors)} refused"
        )
        for error in report.errors:
            console.print(f"  {error}")
    if report.errors:
        raise typer.Exit(2)


@app.callback()
def review(ctx: typer.Context, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Reviews by people; without a command, print the review numbers (as `review stats`)."""
    if ctx.invoked_subcommand is None:
        stats(workspace, as_json)


@app.command("stats")
def stats(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Review numbers: samples reviewed, verdicts, acceptance rate, mean scores, and agreement
    between judge and reviewers (Spearman per criterion, Cohen's kappa on accept/reject)."""
    from medsynth.review.data import review_stats

    data = review_stats(open_workspace(workspace).db)
    if as_json:
        emit_json(data)
        return
    print_stats(data)


def print_stats(data: dict[str, Any]) -> None:
    """Human-readable review numbers."""
    rate = "n/a" if data["accept_rate"] is None else f"{data['accept_rate']:.0%}"
    console.print(
        f"{data['reviewed']} of {data['samples_kept']} kept sample(s) reviewed "
        f"({data['reviews']} review(s)); {data['judged']} judged"
    )
    console.print(
        f"  accepted {data['accepted']}, rejected {data['rejected']}, no verdict "
        f"{data['no_verdict']}; acceptance rate {rate}"
    )
    for name, count in data["reviewers"].items():
        console.print(f"  reviewer {name}: {count} sample(s)")
    agreement = data["agreement"]
    for criterion, mean in data["reviewer_means"].items():
        rho = agreement["spearman"][criterion]
        console.print(
            f"  {criterion}: reviewers {mean if mean is not None else '-'}, judge "
            f"{data['judge_means'][criterion] or '-'}; Spearman "
            f"{rho['rho'] if rho['rho'] is not None else 'n/a'} ({rho['pairs']} pair(s))"
        )
    kappa = agreement["kappa"]
    console.print(
        f"  Cohen's kappa, judge (mean >= {kappa['threshold']}) vs reviewer verdicts: "
        f"{kappa['value'] if kappa['value'] is not None else 'n/a'} ({kappa['pairs']} pair(s))"
    )
