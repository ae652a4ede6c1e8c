"""``medsynth ingest``: image-caption data (or VQA data with derived contexts) into records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from medsynth.cli.common import JsonOpt, WaitOpt, WorkspaceOpt, console, emit_json, open_workspace


def ingest(
    path: Annotated[
        Path,
        typer.Argument(
            help="pubmedvision: a JSON/JSONL rows file; slake / vqa-rad: the dataset folder (or "
            "its JSON file); folder / dicom: a folder."
        ),
    ],
    fmt: Annotated[
        Literal["pubmedvision", "folder", "slake", "vqa-rad", "dicom"],
        typer.Option("--format", "-f", help="Input layout."),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Dataset name (default from the format and path, e.g. slake-train-en).",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        str, typer.Option("--language", "-l", help="slake: rows with this q_lang.")
    ] = "en",
    split: Annotated[
        str, typer.Option("--split", help="slake: train|validate|test; vqa-rad: train|test.")
    ] = "train",
    frames: Annotated[
        str,
        typer.Option(
            "--frames",
            help="dicom multi-frame files: middle, all, or frame numbers from 1 like 1,5.",
        ),
    ] = "middle",
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="pubmedvision: folder the image paths are relative to (default: the file's).",
            show_default=False,
        ),
    ] = None,
    filters: Annotated[
        bool | None,
        typer.Option(
            "--filters/--no-filters",
            help="PubMedVision's filters (resolution, medical terms, near-duplicate text and "
            "images). Default: on for pubmedvision and folder, off for slake, vqa-rad and dicom, "
            "whose context is derived from annotations rather than written as a caption.",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Records per commit (a kill loses at most one).")
    ] = 200,
    phi: Annotated[
        Literal["block", "warn"] | None,
        typer.Option(
            "--phi",
            help="Patient-data check on the text of pubmedvision, folder and dicom inputs "
            "(names, DICOM PN names, record numbers, dates, phones, e-mails, hospitals): block "
            "rejects the item, warn keeps it with [REDACTED] in place of each finding. Default: "
            "block for dicom, warn for the others.",
            show_default=False,
        ),
    ] = None,
    dicom_text_tags: Annotated[
        str,
        typer.Option(
            "--dicom-text-tags",
            help="dicom: free-text tags to read into the context, comma-separated, from "
            "SeriesDescription, StudyDescription, ProtocolName, ImageComments, "
            "RequestedProcedureDescription, PerformedProcedureStepDescription; they pass the "
            "--phi check. Default: none (only coded tags such as Modality are read).",
        ),
    ] = "",
    keep_filenames: Annotated[
        bool,
        typer.Option(
            "--keep-filenames",
            help="dicom: key records by file name and store the names (default: "
            "dicom-<SHA-256 prefix> keys and no names, as file names often carry patient data).",
        ),
    ] = False,
    wait: WaitOpt = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read a dataset into records: verify and hash images, run PubMedVision's filters (filtered
    records are kept with the reason), store bad inputs as rejects. Re-running resumes."""
    from medsynth.ingest.service import ingest as run_ingest

    report = run_ingest(
        open_workspace(workspace, writer="ingest", wait=wait),
        path,
        fmt,
        name=name,
        language=language,
        split=split,
        frames=frames,
        root=root,
        filters=filters,
        batch_size=batch_size,
        phi=phi,
        dicom_text_tags=dicom_text_tags,
        keep_filenames=keep_filenames,
    )
    data = report.as_dict()
    if as_json:
        emit_json(data)
        return
    totals = data["totals"]
    console.print(f"dataset {report.dataset} ({report.format}, {report.root})")
    console.print(
        f"  this run: {report.records_new} new records ({report.kept_new} kept), "
        f"{report.records_existing} already present, {len(report.rejects)} rejects, "
        f"{data['seconds']} s"
    )
    console.print(
        f"  dataset: {totals['records']} records, {totals['kept']} kept, "
        f"{totals['filtered']} filtered, {totals['rejects']} rejects"
    )
    if report.filters is None:
        console.print("  filters: off (derived contexts, or --no-filters; --filters turns them on)")
    else:
        shown = ", ".join(f"{k} {v}" for k, v in totals["filtered_by"].items())
        console.print(f"  filtered by: {shown} (vocabulary: {report.vocabulary_terms} terms)")
    if report.phi_mode is not None:
        from medsynth.ingest.phi import describe

        found = describe(report.phi_found) or "nothing"
        action = "rejected" if report.phi_mode == "block" else "redacted"
        console.print(
            f"  patient-data check ({report.phi_mode}): found {found} in {report.phi_records} "
            f"item(s), {action}"
        )
    for bad in report.rejects[:20]:
        fix = f" (fix: {bad.hint})" if bad.hint else ""
        console.print(f"  reject {bad.source}: {bad.reason}{fix}", markup=False)
    if len(report.rejects) > 20:
        console.print(f"  ... {len(report.rejects) - 20} more: `medsynth rejects --stage ingest`")
