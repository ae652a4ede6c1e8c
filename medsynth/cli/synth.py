"""``medsynth synth``: make instruction samples from grounded records; ``synth show`` lists them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace

app = typer.Typer(
    help="Synthesise instruction samples from grounded records (all generators by default).",
    no_args_is_help=False,
    invoke_without_command=True,
)


@app.callback()
def synth(
    ctx: typer.Context,
    generators: Annotated[
        list[str] | None,
        typer.Option(
            "--generators",
            "-g",
            help="multihop, hardneg, keyanswer, describe, instruct, reasoning or all "
            "(comma-separated or repeated).",
        ),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Only this dataset's records.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            help="Only the first N kept records (the same N as `ground --limit`).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed (default: [synth] seed).")] = None,
    per_record: Annotated[
        int | None, typer.Option("--per-record", "-k", min=1, help="multihop: paths per record.")
    ] = None,
    negatives: Annotated[
        int | None, typer.Option("--negatives-m", "-m", min=0, help="hardneg: diseases (m).")
    ] = None,
    negatives_mode: Annotated[
        str | None,
        typer.Option("--negatives", help="hardneg: 'similar' (default) or 'random' (ablation)."),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Tasks in flight (for model servers).")
    ] = None,
    contamination: Annotated[
        list[Path] | None,
        typer.Option(
            "--contamination",
            help="Evaluation files (SLAKE / VQA-RAD JSON): samples whose image or question "
            "matches are flagged and left out of exports.",
        ),
    ] = None,
    allow_blind: Annotated[
        bool,
        typer.Option(
            "--allow-blind",
            help="describe / instruct: accept a text-only vision_generator (samples marked "
            "blinded); without it they are refused.",
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the generators over grounded records; resumable (finished tasks are skipped and
    model calls are answered from the call log)."""
    if ctx.invoked_subcommand is not None:
        return
    from medsynth.synth.service import sample_counts, synthesize

    ws = open_workspace(workspace, writer="synth", wait=wait)
    updates: dict[str, Any] = {
        "seed": seed,
        "multihop_per_record": per_record,
        "negatives": negatives,
        "negatives_mode": negatives_mode,
        "concurrency": concurrency,
        "allow_blind": True if allow_blind else None,
    }
    options = ws.config.synth.model_validate(
        ws.config.synth.model_dump() | {k: v for k, v in updates.items() if v is not None}
    )
    last: dict[str, int] = {}

    def progress(generator: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done == total or done - last.get(generator, 0) >= step:
            last[generator] = done
            console.print(f"  {generator}: {done}/{total} record(s)")

    report = synthesize(
        ws,
        generators,
        dataset=dataset,
        limit=limit,
        options=options,
        contamination=contamination or (),
        progress=None if as_json else progress,
    )
    data = report.as_dict()
    data["totals"] = sample_counts(ws)
    if as_json:
        emit_json(data)
        return
    print_report(data)


def print_report(data: dict[str, Any]) -> None:
    """Human-readable summary of a run."""
    console.print(
        f"run {data['run_id']}: {sum(data['tasks'].values())} task(s) in {data['seconds']} s "
        f"({data['samples_per_min']} samples/min)"
    )
    for generator, kept in data["samples_kept"].items():
        console.print(
            f"  {generator}: kept {kept}, rejected {data['samples_rejected'].get(generator, 0)}"
        )
    for generator, failed in data["tasks_failed"].items():
        console.print(f"  {generator}: {failed} task(s) failed (see `medsynth rejects`)")
    for reason, count in list(data["reject_reasons"].items())[:10]:
        console.print(f"  rejected {count}: {reason}")
    if data.get("rejected_by_detector"):
        console.print(
            "  quality gate (drafts rejected per detector): "
            + ", ".join(f"{k} {v}" for k, v in data["rejected_by_detector"].items())
        )
    console.print(
        f"  near-duplicates dropped: {data['duplicates']}; contaminated: {data['contaminated']}"
    )
    console.print(f"  model calls: {data['model_calls']}  cache hits: {data['cache_hits']}")
    for warning in data["warnings"]:
        console.print(f"  warning: {warning}")
    console.print("workspace totals (generator: status counts):")
    for generator, counts in sorted(data["totals"].items()):
        console.print(f"  {generator}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command("show")
def show(
    generator: Annotated[str | None, typer.Option("--generator", "-g")] = None,
    status: Annotated[str, typer.Option(help="kept, rejected, duplicate, contaminated")] = "kept",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 5,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print samples with their provenance."""
    from medsynth.store.overview import sample_rows

    ws = open_workspace(workspace)
    rows = sample_rows(ws.db, status, generator, limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        console.print(
            f"#{row['id']} record {row['record_id']} {row['generator']}/{row['sample_type']} "
            f"[{row['template']} v{row['template_version']}, {row['model'] or 'no model'}, "
            f"seed {row['seed']}, calls {row['call_ids']}]"
        )
        console.print(f"  Q: {row['question']}")
        console.print(f"  A: {row['answer']}")
        if row["key_answer"]:
            console.print(f"  key answer: {row['key_answer']}")
        entities = json.loads(row["path_entities"] or "[]")
        if entities:
            console.print(f"  path entities: {', '.join(entities)}")
        if row["reason"]:
            console.print(f"  reason: {row['reason']}")
