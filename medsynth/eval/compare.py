"""``medsynth eval compare``: eval runs side by side, each against the first, with a paired
bootstrap confidence interval for every difference.

Runs are compared on the questions they share (matched by question id). For each of ``samples``
resamples (with replacement) of those questions, every metric is recomputed for both runs on the
same resample; the interval is the middle ``confidence`` share of the resampled differences.
An interval that excludes 0 means the difference is unlikely to come from which questions
happened to be in the test set.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from medsynth.errors import InputError
from medsynth.eval import queries
from medsynth.eval.ablation import visual_reliance
from medsynth.eval.metrics import question_types
from medsynth.eval.scorers import Scorer, rescore
from medsynth.workspace import Workspace

Floats = npt.NDArray[np.float64]
OVERALL_METRICS = ("closed_accuracy", "open_recall", "average", "exact_match", "token_f1")


def eval_runs(ws: Workspace) -> list[dict[str, Any]]:
    """Every eval run, newest first (metrics and spec decoded): :func:`queries.eval_runs`."""
    return queries.eval_runs(ws.db)


def resolve_run(ws: Workspace, ref: str) -> dict[str, Any]:
    """The eval run with id ``ref``, or the newest one named ``ref``."""
    runs = eval_runs(ws)
    for run in runs:
        if ref.isdigit() and run["id"] == int(ref):
            return run
    for run in runs:
        if run["name"] == ref:
            return run
    known = ", ".join(f"{r['id']}" + (f" ({r['name']})" if r["name"] else "") for r in runs[:10])
    raise InputError(
        f"no eval run {ref!r}",
        hint=f"use an id or a name from `medsynth eval list` ({known or 'none yet'})",
    )


def _columns(rows: list[dict[str, Any]], order: list[str]) -> dict[str, Floats]:
    by_qid = {r["qid"]: r for r in rows}
    picked = [by_qid[q] for q in order]

    def col(name: str) -> Floats:
        return np.array([np.nan if r[name] is None else float(r[name]) for r in picked])

    closed = col("closed_correct")
    opened = col("open_recall")
    return {
        "closed": np.nan_to_num(closed),
        "is_closed": (~np.isnan(closed)).astype(float),
        "open": np.nan_to_num(opened),
        "is_open": (~np.isnan(opened)).astype(float),
        "exact": col("exact_match"),
        "f1": col("token_f1"),
        "score": np.where(np.isnan(closed), np.nan_to_num(opened), closed),
    }


def _ratio(values: Floats, mask: Floats, idx: npt.NDArray[np.int64] | None) -> Floats:
    """Mean of ``values`` where ``mask`` is 1, per resample row of ``idx`` (or once)."""
    if idx is None:
        count = mask.sum()
        return np.array([100 * (values * mask).sum() / count if count else np.nan])
    sums = (values * mask)[idx].sum(axis=1)
    counts = mask[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, 100 * sums / np.maximum(counts, 1), np.nan)


def _metric(
    name: str, cols: dict[str, Floats], mask: Floats, idx: npt.NDArray[np.int64] | None
) -> Floats:
    if name == "closed_accuracy":
        return _ratio(cols["closed"], cols["is_closed"] * mask, idx)
    if name == "open_recall":
        return _ratio(cols["open"], cols["is_open"] * mask, idx)
    if name == "average":
        closed = _ratio(cols["closed"], cols["is_closed"] * mask, idx)
        opened = _ratio(cols["open"], cols["is_open"] * mask, idx)
        both = np.stack([closed, opened])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample without one kind
            return np.asarray(np.nanmean(both, axis=0), dtype=np.float64)
    if name == "exact_match":
        return _ratio(cols["exact"], mask, idx)
    if name == "token_f1":
        return _ratio(cols["f1"], mask, idx)
    return _ratio(cols["score"], mask, idx)  # "score": closed correct or open recall


def _value(array: Floats) -> float | None:
    value = float(array[0])
    return None if np.isnan(value) else round(value, 2)


def _diffs(
    metric: str,
    cols: list[dict[str, Floats]],
    mask: Floats,
    idx: Any,
    values: list[float | None],
    quantiles: tuple[float, float],
) -> list[dict[str, Any]]:
    """Each run's difference from the baseline on one metric, with its bootstrap interval."""
    base = _metric(metric, cols[0], mask, idx)
    diffs: list[dict[str, Any]] = []
    for c, value in zip(cols[1:], values[1:], strict=True):
        resampled = _metric(metric, c, mask, idx) - base
        finite = resampled[~np.isnan(resampled)]
        if value is None or values[0] is None or finite.size == 0:
            diffs.append({"diff": None, "ci": None, "excludes_zero": False})
            continue
        low, high = np.percentile(finite, list(quantiles))
        diffs.append(
            {
                "diff": round(value - values[0], 2),
                "ci": [round(float(low), 2), round(float(high), 2)],
                "excludes_zero": bool(low > 0 or high < 0),
            }
        )
    return diffs


def compare(
    ws: Workspace,
    refs: list[str],
    *,
    samples: int | None = None,
    confidence: float | None = None,
    seed: int = 0,
    scorer: Scorer = "strict",
) -> dict[str, Any]:
    """The comparison table of eval runs ``refs`` (the first is the baseline), scored by
    ``scorer``; a later run that is an image ablation of the first also gets its visual
    reliance (:func:`medsynth.eval.ablation.visual_reliance`)."""
    if len(refs) < 2:
        raise InputError("compare needs at least two eval runs", hint="pass two or more ids")
    samples = samples or ws.config.eval.bootstrap_samples
    confidence = confidence or ws.config.eval.confidence
    runs = [resolve_run(ws, ref) for ref in refs]
    datasets = {(r["dataset"], r["data_file"]) for r in runs}
    if len({d for d, _ in datasets}) > 1:
        raise InputError(
            "these runs are on different datasets",
            source=", ".join(f"{r['id']}: {r['dataset']}" for r in runs),
            hint="compare runs of the same dataset and split",
        )
    rows = [rescore(queries.predictions(ws.db, r["id"]), scorer) for r in runs]
    common_ids = set.intersection(*({p["qid"] for p in run_rows} for run_rows in rows))
    order = [p["qid"] for p in rows[0] if p["qid"] in common_ids]
    if not order:
        raise InputError("these runs share no question", hint="compare runs of the same split")
    notes = []
    for run, run_rows in zip(runs, rows, strict=True):
        if len(run_rows) != len(order):
            notes.append(
                f"run {run['id']} has {len(run_rows)} predictions; {len(order)} are shared and "
                "compared"
            )
    cols = [_columns(run_rows, order) for run_rows in rows]
    base_rows = {p["qid"]: p for p in rows[0]}
    types: dict[str, Floats] = {}
    for position, qid in enumerate(order):
        for label in question_types(base_rows[qid]["question_type"]):
            types.setdefault(label, np.zeros(len(order)))[position] = 1.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(order), size=(samples, len(order)), dtype=np.int64)
    low_q, high_q = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
    everything = np.ones(len(order))
    table = []
    plan = [("overall", m, everything) for m in OVERALL_METRICS]
    plan += [(f"type {label}", "score", mask) for label, mask in sorted(types.items())]
    for group, metric, mask in plan:
        values = [_value(_metric(metric, c, mask, None)) for c in cols]
        diffs = _diffs(metric, cols, mask, idx, values, (low_q, high_q))
        n = int(
            (cols[0]["is_closed"] * mask).sum()
            if metric == "closed_accuracy"
            else (cols[0]["is_open"] * mask).sum()
            if metric == "open_recall"
            else mask.sum()
        )
        table.append({"group": group, "metric": metric, "n": n, "values": values, "diffs": diffs})
    result = {
        "runs": [
            {k: r[k] for k in ("id", "name", "model_spec", "model", "images_seen", "status")}
            | {"image_ablation": _ablation(r)}
            for r in runs
        ],
        "scorer": scorer,
        "dataset": runs[0]["dataset"],
        "split": runs[0]["split"],
        "questions_compared": len(order),
        "bootstrap": {"samples": samples, "confidence": confidence, "seed": seed},
        "rows": table,
        "notes": notes,
    }
    result["visual_reliance"] = [
        {"run": run["id"], "ablation": _ablation(run), "rows": visual_reliance(result, i)}
        for i, run in enumerate(runs[1:])
        if _ablation(run) and not _ablation(runs[0])
    ]
    return result


def _ablation(run: dict[str, Any]) -> str:
    """The image ablation an eval run was made with ("" for the real images)."""
    return str((run.get("options") or {}).get("image_ablation") or "")
