"""``medsynth ground``: link ingested records to KG entities, or report how they were linked."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace


def ground(
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Only this dataset (default: every dataset)."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            help="Only the first N kept records (a re-run resumes them, never N more).",
        ),
    ] = None,
    report_only: Annotated[
        bool, typer.Option("--report", help="Only print the grounding report; ground nothing.")
    ] = False,
    extraction_policy: Annotated[
        Literal["standard-term", "verbatim"] | None,
        typer.Option(
            "--extraction-policy",
            help="standard-term (MedKInstruct's, the default: standard terms, never blank) or "
            "verbatim (the caption's words, 'none' allowed). Default: [ground].",
        ),
    ] = None,
    verification: Annotated[
        Literal["keep-all", "first"] | None,
        typer.Option(
            "--verification",
            help="keep-all (MedKInstruct's, the default: every confirmed candidate grounds the "
            "record) or first (stop at the first). Default: [ground].",
        ),
    ] = None,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match each record's disease and organ to KG entities (exact, then fuzzy + verifier) and
    store the KG triples found; resumable: finished records are skipped, calls are cached."""
    from medsynth.ground import ground as run_ground
    from medsynth.ground import ground_report

    ws = open_workspace(workspace, writer=None if report_only else "ground", wait=wait)
    run: dict[str, Any] | None = None
    given = {"extraction_policy": extraction_policy, "verification": verification}
    updates = {key: value for key, value in given.items() if value is not None}
    if updates:
        ws.config.ground = ws.config.ground.model_copy(update=updates)
    if not report_only:

        def progress(done: int, total: int) -> None:
            if done == total or done % max(1, total // 20) == 0:
                console.print(f"  grounded {done}/{total}")

        result = run_ground(ws, dataset, limit, progress=None if as_json else progress)
        run = result.as_dict()
    data = ground_report(ws)
    if as_json:
        emit_json({"run": run, "report": data} if run is not None else data)
        return
    if run is not None:
        print_run(run)
    print_report(data)


def print_run(run: dict[str, Any]) -> None:
    """Human-readable summary of one run."""
    console.print(
        f"run {run['run_id']}: {run['records']} record(s) in {run['seconds']} s: "
        f"{run['grounded']} grounded, {run['rejected']} rejected"
    )
    policy = run.get("policy") or {}
    if policy:
        console.print(
            f"  policy: extraction {policy['extraction']}, verification {policy['verification']}"
        )
    for kind, counts in run["stages"].items():
        console.print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print_refused(run.get("refused", {}))
    console.print(f"  model calls: {run['model_calls']}  cache hits: {run['cache_hits']}")
    for warning in run["warnings"]:
        console.print(f"  warning: {warning}")


def print_refused(refused: dict[str, Any]) -> None:
    """Refused mentions per step and reason (nothing when none was refused)."""
    for step, row in refused.items():
        if row["refused"]:
            reasons = ", ".join(f"{reason} {n}" for reason, n in row["reasons"].items())
            console.print(f"  refused at {step}: {row['refused']} ({reasons})")
    if any(row["refused"] for row in refused.values()):
        console.print(
            "  (each refused mention and why: `medsynth rejects --stage 'ground mention'`)"
        )


def print_report(data: dict[str, Any]) -> None:
    """Human-readable grounding report."""
    for block in [*data["datasets"], data["overall"]]:
        console.print(
            f"{block['dataset']}: {block['records_processed']} of {block['records_kept']} kept "
            f"record(s) processed ({block['records_grounded']} grounded, "
            f"{block['records_rejected']} rejected, {block['records_pending']} pending)"
        )
        for kind, row in block["kinds"].items():
            pct = row["percent"]
            detail = row["unmatched_detail"]
            console.print(
                f"  {kind:8} exact {row['exact']} ({pct['exact']} %), fuzzy {row['fuzzy']} "
                f"({pct['fuzzy']} %), unmatched {row['unmatched']} ({pct['unmatched']} %: "
                f"{detail['no_mention']} none named, {detail['refused']} refused, "
                f"{detail['not_found']} not found, {detail['rejected']} rejected)"
            )
        mentions = block["mentions"]
        split = mentions["matched_split_percent"]
        console.print(
            f"  mentions {mentions['total']}: exact {mentions['exact']}, fuzzy "
            f"{mentions['fuzzy']} ({mentions['fuzzy_text_only']} on text alone), unmatched "
            f"{mentions['unmatched']} ({mentions['refused']} refused); of matched: "
            f"{split['exact']} % exact / {split['fuzzy']} % fuzzy"
        )
        print_refused(block["refused"])
        for reason, count in block["reject_reasons"].items():
            console.print(f"  rejected {count}: {reason} (details: `medsynth rejects`)")
    for name, cov in data.get("slake_annotation_exact_coverage", {}).items():
        if "error" in cov:
            console.print(f"{name}: annotation coverage unavailable: {cov['error']}")
            continue
        console.print(
            f"{name}: SLAKE's own annotations as mentions match the KG exactly for "
            f"{cov['overall']['matched']} of {cov['overall']['mentions']} "
            f"({cov['overall']['percent']} %): detection labels {cov['detection']['percent']} %, "
            f"location {cov['location']['percent']} % ({cov['images']} training images)"
        )
    console.print(f"note: {data['note']}")
