"""``medsynth export``: kept samples -> LLaVA / ShareGPT / TRL files, images, card and manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace


def export(
    out: Annotated[
        Path,
        typer.Argument(
            help="Folder to write; it must not exist or be empty (unless --force).",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        Literal["llava", "sharegpt", "trl-sft", "trl-grpo"],
        typer.Option(
            "--format",
            "-f",
            help="llava: llava.json; sharegpt: sharegpt.json + dataset_info.json (LLaMA-Factory); "
            "trl-sft: sft.jsonl; trl-grpo: grpo.jsonl (samples with a key answer).",
        ),
    ],
    generators: Annotated[
        list[str] | None,
        typer.Option(
            "--generators",
            "-g",
            metavar="NAME[,NAME]",
            help="Only these generators (comma-separated or repeated; default: all).",
            show_default=False,
        ),
    ] = None,
    include_contaminated: Annotated[
        bool,
        typer.Option(
            "--include-contaminated",
            help="Also export samples flagged as overlapping an evaluation set.",
        ),
    ] = False,
    link: Annotated[
        bool,
        typer.Option(
            "--link",
            help="Symlink plain PNG/JPEG files instead of re-encoding them (keeps their "
            "original metadata, which can identify patients).",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Write at most N samples.")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Shuffle the samples with this seed (default: id order)."),
    ] = None,
    split_eval: Annotated[
        float | None,
        typer.Option(
            "--split-eval",
            help="Hold out about this fraction of records (all their samples) into *_eval files.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier export in OUT.")
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            min=1.0,
            max=5.0,
            help="Only samples whose mean judge score (1-5, `medsynth judge`) is at least this; "
            "samples not judged are left out.",
            show_default=False,
        ),
    ] = None,
    reviewed_only: Annotated[
        bool,
        typer.Option(
            "--reviewed-only",
            help="Only samples a reviewer accepted (`medsynth review`). Samples a reviewer "
            "rejected are always left out.",
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Export kept samples as training data: images re-encoded to bare PNG files named by hash,
    the samples in the chosen format, dataset_card.md and manifest.json. Samples a reviewer
    rejected are never exported."""
    from medsynth.export import export_samples

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1000, total // 10) == 0:
            console.print(f"  looked at {done}/{total} sample(s)")

    report = export_samples(
        open_workspace(workspace, writer="export", wait=wait),
        out,
        fmt,
        generators=generators,
        include_contaminated=include_contaminated,
        link=link,
        limit=limit,
        seed=seed,
        force=force,
        split_eval=split_eval,
        progress=None if as_json else progress,
        min_score=min_score,
        reviewed_only=reviewed_only,
    )
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    print_report(data)


def print_report(data: dict[str, Any]) -> None:
    """Human-readable summary of one export."""
    split = f" ({data['train']} train, {data['eval']} eval)" if data["eval"] else ""
    console.print(
        f"exported {data['samples']} sample(s){split} as {data['format']} to {data['out']}, "
        f"{data['images']} image(s)"
    )
    for title, key in (("by generator", "by_generator"), ("by type", "by_sample_type")):
        console.print(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in data[key].items()))
    if data["left_out"]:
        console.print(
            "  left out by reviews and judge scores: "
            + ", ".join(f"{why.replace('_', ' ')} {n}" for why, n in data["left_out"].items())
        )
    if data["not_eligible"]:
        console.print(f"  not usable in this format (no key answer): {data['not_eligible']}")
    skipped = data["skipped"]
    if skipped:
        shown = "; ".join(f"sample {s['sample_id']}: {s['reason']}" for s in skipped[:5])
        more = f" (+{len(skipped) - 5} more)" if len(skipped) > 5 else ""
        console.print(f"  skipped {len(skipped)}: {shown}{more} (details: `medsynth rejects`)")
    console.print(f"  files: {', '.join(data['files'])}")
    for warning in data["warnings"]:
        console.print(f"  warning: {warning}")
