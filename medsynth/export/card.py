"""What an export holds, for people and for machines: ``manifest.json`` and ``dataset_card.md``.

:class:`ExportStats` counts the samples as the export writes them; :func:`summarize` adds what
only the database knows (KG totals, kept records, what synthesis rejected); :func:`render_card`
turns that summary into Markdown. The manifest is the same summary plus the files and their
SHA-256, written last.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import jinja2
import sqlite_utils

import medsynth
from medsynth.export import queries
from medsynth.files import sha256_file
from medsynth.kg.normalize import normalize
from medsynth.review.data import CRITERIA, review_stats
from medsynth.review.summary import left_out_text, score_distribution
from medsynth.store.runs import utc_now, versions
from medsynth.workspace import Workspace

CARD_SKIPPED_SHOWN = 50
CARD_REASON_CHARS = 160
STATUSES_NOT_KEPT = ("rejected", "duplicate", "contaminated")


class SampleLike(Protocol):
    """The fields of an exported sample that the statistics read."""

    id: int
    record_id: int
    generator: str
    sample_type: str
    model: str
    template: str
    template_version: str
    seed: int | None
    run_id: int | None
    path_triples: list[int]
    path_entities: list[str]


@dataclass
class ExportStats:
    """Counts over the samples written by one export."""

    train: int = 0
    eval: int = 0
    by_generator: Counter[str] = field(default_factory=Counter)
    by_sample_type: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    templates: Counter[tuple[str, str]] = field(default_factory=Counter)
    seeds: Counter[int | None] = field(default_factory=Counter)
    records: set[int] = field(default_factory=set)
    eval_records: set[int] = field(default_factory=set)
    triples: set[int] = field(default_factory=set)
    entities: set[str] = field(default_factory=set)  # normalised names
    run_ids: set[int] = field(default_factory=set)
    sample_ids: list[int] = field(default_factory=list)

    def add(self, sample: SampleLike, *, held_out: bool) -> None:
        """Count one written sample (``held_out``: it went to the evaluation split)."""
        if held_out:
            self.eval += 1
            self.eval_records.add(sample.record_id)
        else:
            self.train += 1
        self.sample_ids.append(sample.id)
        self.by_generator[sample.generator] += 1
        self.by_sample_type[sample.sample_type] += 1
        self.models[sample.model or "(none)"] += 1
        self.templates[(sample.template or "(none)", sample.template_version or "")] += 1
        self.seeds[sample.seed] += 1
        self.records.add(sample.record_id)
        self.triples.update(sample.path_triples)
        self.entities.update(normalize(name) for name in sample.path_entities if name.strip())
        if sample.run_id is not None:
            self.run_ids.add(sample.run_id)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def kg_coverage(db: sqlite_utils.Database, stats: ExportStats) -> dict[str, Any]:
    """Distinct triples / entities / records the export uses, against what the workspace holds."""
    triples_total, entities_total, records_kept = queries.kg_totals(db)
    triples_known = queries.known_triples(db, sorted(stats.triples))
    entities_known = queries.known_entity_norms(db, stats.entities)
    return {
        "triples_used": triples_known,
        "triples_total": triples_total,
        "triples_percent": _percent(triples_known, triples_total),
        "triple_ids_not_in_kg": len(stats.triples) - triples_known,
        "entities_used": entities_known,
        "entities_total": entities_total,
        "entities_percent": _percent(entities_known, entities_total),
        "entity_names_not_in_kg": len(stats.entities) - entities_known,
        "records_covered": len(stats.records),
        "records_kept": records_kept,
        "records_percent": _percent(len(stats.records), records_kept),
    }


def synthesis_rejects(db: sqlite_utils.Database, generators: list[str]) -> dict[str, Any]:
    """Samples synthesis set aside (by status and reason), and ``rejects`` rows of stage synth."""
    samples: list[dict[str, Any]] = [
        {"status": status, "reason": reason or "", "samples": count}
        for status, reason, count in queries.set_aside(db, STATUSES_NOT_KEPT, generators)
    ]
    table = [
        {"reason": reason or "", "rows": count}
        for reason, count in queries.synth_reject_reasons(db)
    ]
    by_status: Counter[str] = Counter()
    for row in samples:
        by_status[row["status"]] += row["samples"]
    return {
        "samples_by_status": dict(sorted(by_status.items())),
        "samples": samples,
        "synth": table,
    }


def summarize(
    db: sqlite_utils.Database, stats: ExportStats, generators: list[str]
) -> dict[str, Any]:
    """The statistics part of the manifest (and of the card)."""
    return {
        "by_generator": dict(sorted(stats.by_generator.items())),
        "by_sample_type": dict(sorted(stats.by_sample_type.items())),
        "kg_coverage": kg_coverage(db, stats),
        "models": dict(stats.models.most_common()),
        "templates": [
            {"template": name, "version": version, "samples": count}
            for (name, version), count in sorted(stats.templates.items())
        ],
        "seeds": [
            {"seed": seed, "samples": count}
            for seed, count in sorted(stats.seeds.items(), key=lambda kv: (kv[0] is None, kv[0]))
        ],
        "rejects": synthesis_rejects(db, generators),
        "judge_scores": score_distribution(db, stats.sample_ids),
        "reviews": review_stats(db),
    }


def _cell(value: Any, limit: int = CARD_REASON_CHARS) -> str:
    """``value`` as one Markdown table cell: one line, pipes escaped, long text cut."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or "(none)"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


HOW_IT_WAS_MADE = (
    "Images and captions (or, for SLAKE and VQA-RAD, text derived from their annotations) were "
    "ingested into a MedSynth workspace and each record's disease and organ were linked to a "
    "medical knowledge graph: exact name and alias matches first, then nearest KG entities by "
    "image and text similarity, confirmed by a verifier model. Local models then wrote the "
    "samples: questions and answers grounded on KG paths (multihop), 'is this disease here?' "
    "hard negatives for look-alike diseases (hardneg), short key answers for reinforcement "
    "learning (keyanswer), image descriptions and role-play instructions in the PubMedVision "
    "manner (describe, instruct) and staged reasoning trajectories (reasoning). Every model call "
    "is logged in the workspace (`medsynth runs`); samples failing the quality checks, "
    "near-duplicates and those overlapping evaluation sets were set aside (see above)."
)
INTENDED_USE = (
    "Intended use: fine-tuning and evaluating medical visual question answering models inside "
    "the institution that owns the images. Limitations: questions and answers were written by "
    "models, not clinicians; they can be wrong, and they are only as good as the knowledge "
    "graph and the models named above. Do not use the data, or models trained on it, for "
    "diagnosis or treatment. Patient data: the images come from protected clinical data. The "
    "export re-encodes them as bare PNG pixels and names files by content hash, but pixels and "
    "generated text can still identify a patient (burnt-in annotations, rare findings, details "
    "copied from captions). Keep this folder on premises, under the same access rules as the "
    "source images; do not upload it to a model hub or a cloud service."
)


def _review_selection(selection: dict[str, Any]) -> str:
    """The review rules of the selection, for the card's contents line."""
    text = "; samples a reviewer rejected left out"
    if selection.get("min_score") is not None:
        text += f"; mean judge score at least {selection['min_score']} (unjudged left out)"
    if selection.get("reviewed_only"):
        text += "; only samples a reviewer accepted"
    return text + left_out_text(selection.get("left_out") or {})


def _judge_lines(manifest: dict[str, Any]) -> list[str]:
    """Judge score distributions per generator and criterion (samples of this export)."""
    lines = ["## Judge scores", ""]
    dist = manifest.get("judge_scores") or {}
    if not dist:
        return [*lines, "No exported sample was scored by the judge (`medsynth judge`)."]
    judged = sum(entry["judged"] for entry in dist.values())
    lines += [
        f"{judged} of {manifest['counts']['samples']} exported sample(s) were scored 1-5 by the "
        "judge model (`medsynth judge`) on PubMedVision's expert rubric: accuracy, relevance, "
        "completeness, usefulness. Count of each score, and the mean:",
        "",
    ]
    rows = []
    for generator, entry in dist.items():
        for criterion in CRITERIA:
            stats = entry["criteria"][criterion]
            counts = [stats["counts"][str(k)] for k in range(1, 6)]
            rows.append([generator, criterion, entry["judged"], *counts, stats["mean"]])
    return lines + _table(
        ["generator", "criterion", "judged", "1", "2", "3", "4", "5", "mean"], rows
    )


def _review_lines(reviews: dict[str, Any]) -> list[str]:
    """Review numbers of the workspace and judge-reviewer agreement."""
    lines = ["## Reviews", ""]
    if not reviews["reviews"]:
        return [*lines, "No sample was reviewed (`medsynth review`, or the TUI's Review screen)."]
    rate = reviews["accept_rate"]
    kappa = reviews["agreement"]["kappa"]
    lines += [
        f"- reviewed: {reviews['reviewed']} of {reviews['samples_kept']} kept sample(s) in the "
        f"workspace, by {len(reviews['reviewers'])} reviewer(s) ({reviews['reviews']} review(s); "
        "the latest per sample and reviewer counts)",
        f"- verdicts: {reviews['accepted']} accepted, {reviews['rejected']} rejected, "
        f"{reviews['no_verdict']} without a verdict; acceptance rate "
        + ("n/a" if rate is None else f"{rate:.1%}"),
        "- samples a reviewer rejected are never exported",
        f"- agreement on accept / reject (Cohen's kappa; the judge accepts a sample whose mean "
        f"score is at least {kappa['threshold']}): "
        + ("n/a" if kappa["value"] is None else str(kappa["value"]))
        + f" over {kappa['pairs']} pair(s)",
        "",
        "Judge against reviewers per criterion (Spearman's rho; n/a: fewer than 3 pairs, or "
        "scores that never vary):",
        "",
    ]
    rows = []
    for criterion in CRITERIA:
        rho = reviews["agreement"]["spearman"][criterion]
        rows.append(
            [
                criterion,
                reviews["reviewer_means"][criterion] or "-",
                reviews["judge_means"][criterion] or "-",
                "n/a" if rho["rho"] is None else rho["rho"],
                rho["pairs"],
            ]
        )
    return lines + _table(["criterion", "reviewer mean", "judge mean", "Spearman", "pairs"], rows)


@lru_cache(maxsize=1)
def _card_template() -> jinja2.Template:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    return env.from_string(
        (files("medsynth.export") / "dataset_card.md.jinja").read_text(encoding="utf-8")
    )


def render_card(manifest: dict[str, Any]) -> str:
    """``dataset_card.md`` from the manifest (everything but its file list), through the
    ``dataset_card.md.jinja`` template beside this module."""
    skipped = manifest["skipped"]
    rejects = manifest["rejects"]
    return _card_template().render(
        m=manifest,
        table=lambda header, rows: "\n".join(_table(header, rows)),
        review_selection=_review_selection(manifest["selection"]),
        templates=[[t["template"], t["version"], t["samples"]] for t in manifest["templates"]],
        seeds=[
            ["(none)" if s["seed"] is None else s["seed"], s["samples"]] for s in manifest["seeds"]
        ],
        rejected=[[r["status"], r["reason"], r["samples"]] for r in rejects["samples"]],
        synth_rejects=[[r["reason"], r["rows"]] for r in rejects["synth"]],
        skipped=[[s["sample_id"], s["reason"]] for s in skipped[:CARD_SKIPPED_SHOWN]],
        more_skipped=max(len(skipped) - CARD_SKIPPED_SHOWN, 0),
        judge="\n".join(_judge_lines(manifest)),
        reviews="\n".join(_review_lines(manifest["reviews"])),
        how_it_was_made=HOW_IT_WAS_MADE,
        intended_use=INTENDED_USE,
    )


def build_manifest(
    ws: Workspace,
    *,
    fmt: str,
    export_run_id: int | None,
    selection: dict[str, Any],
    data_files: list[str],
    counts: dict[str, int],
    stats: ExportStats,
    skipped: list[dict[str, Any]],
    warnings: list[str],
) -> dict[str, Any]:
    """Everything about one export but its file list (added once the card is written)."""
    return {
        "format": fmt,
        "medsynth_version": medsynth.__version__,
        "created_at": utc_now(),
        "workspace": str(ws.root),
        "export_run_id": export_run_id,
        "run_ids": sorted(stats.run_ids),
        "selection": selection,
        "data_files": data_files,
        "counts": counts,
        **summarize(ws.db, stats, selection["generators"]),
        "skipped": skipped,
        "versions": versions(),
        "warnings": warnings,
    }


def file_entry(out: Path, relative: str) -> dict[str, Any]:
    """A manifest ``files`` entry: path, size and SHA-256 (of the target, for a link)."""
    path = out / relative
    entry: dict[str, Any] = {"path": relative, "bytes": path.stat().st_size}
    entry["sha256"] = sha256_file(path)
    if path.is_symlink():
        entry["link"] = True
    return entry


def manifest_json(manifest: dict[str, Any]) -> bytes:
    """The manifest as written to ``manifest.json``."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n").encode()
