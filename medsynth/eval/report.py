"""``medsynth eval report``: one self-contained HTML page (and a Markdown twin) about eval runs.

The page holds, for each run, its settings and a bar chart of closed accuracy, open recall and
their average overall and per answer type and question type; with two or more runs of one
dataset, the comparison with each run's difference from the first and its bootstrap interval as
a dot-and-whisker plot (:func:`medsynth.eval.compare.compare`); any visual-reliance ablation
the runs carry; and the questions each run got most wrong, with their images. Charts are inline
SVG and images are embedded as small JPEG data URIs, so the file opens anywhere, offline, with
no script. Files are written owner-only.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import jinja2

from medsynth.errors import InputError
from medsynth.eval.compare import compare, resolve_run
from medsynth.eval.metrics import summarize
from medsynth.eval.queries import predictions
from medsynth.eval.scorers import SCORERS, rescore, skipped
from medsynth.files import private_dir, safe_child, write_private
from medsynth.workspace import Workspace

WORST = 8  # questions shown per run
THUMB = 160  # pixels, the longer side of an embedded image
BAR_METRICS = (("closed_accuracy", "closed acc."), ("open_recall", "open recall"))
COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#4a5568")
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("medsynth.eval", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _groups(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = [("overall", metrics["overall"])]
    groups += list(metrics["by_answer_type"].items())
    groups += [(f"type {k}", v) for k, v in metrics["by_question_type"].items()]
    return groups


def bar_chart(metrics: dict[str, Any], title: str) -> str:
    """An SVG bar chart (percent) of closed accuracy and open recall per group (groups
    without such questions leave the bar out).

    >>> m = {"overall": {"closed_accuracy": {"value": 50.0, "n": 2},
    ...      "open_recall": {"value": None, "n": 0}}, "by_answer_type": {}, "by_question_type": {}}
    >>> svg = bar_chart(m, "run 1")
    >>> svg.startswith("<svg") and 'data-value="50.0"' in svg, svg.count("<rect")
    (True, 1)
    """
    bars = [
        (label, name, block[key], COLOURS[index])
        for label, block in _groups(metrics)
        for index, (key, name) in enumerate(BAR_METRICS)
        if (block.get(key) or {}).get("n")
    ]
    row, width, left = 22, 640, 230
    height = 30 + row * len(bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" class="chart bars"><title>{html.escape(title)}</title>'
    ]
    y = 20
    for label, name, figure, colour in bars:
        value = figure["value"]
        bar = (width - left - 100) * value / 100
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">'
            f"{html.escape(f'{label} {name}'.strip())}</text>"
            f'<rect x="{left}" y="{y + 2}" width="{bar:.1f}" height="{row - 6}" '
            f'fill="{colour}" data-value="{value}"/>'
            f'<text x="{left + bar + 4:.1f}" y="{y + 13}" font-size="11">'
            f"{value:.1f} (n={figure['n']})</text>"
        )
        y += row
    parts.append("</svg>")
    return "".join(parts)


def interval_plot(rows: list[dict[str, Any]], labels: list[str]) -> str:
    """An SVG dot-and-whisker plot of each run's difference from the first run (points) with
    its bootstrap interval, one line per metric and run; a dashed line marks zero.

    >>> rows = [{"group": "overall", "metric": "average", "diffs": [
    ...     {"diff": 5.0, "ci": [1.0, 9.0], "excludes_zero": True}]}]
    >>> svg = interval_plot(rows, ["base", "new"])
    >>> 'data-diff="5.0"' in svg and "new - base" in svg
    True
    """
    lines = [
        (f"{r['metric'] if r['group'] == 'overall' else r['group']}: {labels[i + 1]}", d)
        for r in rows
        for i, d in enumerate(r["diffs"])
        if d["diff"] is not None
    ]
    spread = max([abs(v) for _, d in lines for v in (*d["ci"], d["diff"])] + [1.0])
    row, width, left, right = 22, 820, 380, 20
    height = 40 + row * len(lines)
    centre = left + (width - left - right) / 2
    scale = (width - left - right) / 2 / spread

    def x(value: float) -> float:
        return centre + value * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" class="chart intervals"><title>differences from '
        f"{html.escape(labels[0])}</title>",
        f'<line x1="{centre}" y1="10" x2="{centre}" y2="{height - 20}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
        f'<text x="{centre}" y="{height - 6}" font-size="10" text-anchor="middle">0</text>',
        f'<text x="{left}" y="{height - 6}" font-size="10">{-spread:+.1f} points</text>',
        f'<text x="{width - right}" y="{height - 6}" font-size="10" text-anchor="end">'
        f"{spread:+.1f} points</text>",
    ]
    y = 20
    for label, d in lines:
        low, high = d["ci"]
        colour = COLOURS[0] if d["excludes_zero"] else "#718096"
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" font-size="11">'
            f"{html.escape(label)} - {html.escape(labels[0])}</text>"
            f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="{colour}" '
            'stroke-width="2"/>'
            f'<circle cx="{x(d["diff"]):.1f}" cy="{y}" r="4" fill="{colour}" '
            f'data-diff="{d["diff"]}"/>'
        )
        y += row
    parts.append("</svg>")
    return "".join(parts)


def _badness(row: dict[str, Any]) -> float:
    """How wrong a prediction is (0 right .. 1 wrong), for ordering the worst first."""
    if row["closed_correct"] is not None:
        return 1.0 - float(row["closed_correct"])
    return 1.0 - float(row["open_recall"] or 0.0)


def _thumbnail(run: dict[str, Any], image: str) -> str | None:
    """A small JPEG data URI of a question's image, or None when it cannot be found or read."""
    from PIL import Image

    data_file = Path(str(run.get("data_file") or ""))
    for root in (data_file.parent, *data_file.parent.parents[:2]):
        try:
            path = safe_child(root.resolve(), root / image)
        except InputError:
            continue
        if path.is_file():
            try:
                with Image.open(path) as opened:
                    picture = opened.convert("RGB")
                    picture.thumbnail((THUMB, THUMB))
                    buffer = io.BytesIO()
                    picture.save(buffer, format="JPEG", quality=80)
            except OSError:
                return None
            return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    return None


def report_data(ws: Workspace, refs: list[str], *, samples: int | None = None) -> dict[str, Any]:
    """What the report shows: runs with metrics, charts and worst questions; the comparison
    when two or more runs share a dataset."""
    if not refs:
        raise InputError("name at least one eval run", hint="see `medsynth eval list`")
    runs = []
    for ref in refs:
        run = resolve_run(ws, ref)
        if not run["metrics"]:
            raise InputError(f"eval run {run['id']} has no scored answers yet", hint="run it first")
        stored = predictions(ws.db, run["id"])
        rows = sorted(stored, key=lambda r: (-_badness(r), r["qid"]))
        worst = [
            {**{k: r[k] for k in ("qid", "question", "answer", "scored_text")},
             "badness": round(_badness(r), 3), "thumbnail": _thumbnail(run, r["image"])}
            for r in rows[:WORST] if _badness(r) > 0
        ]  # fmt: skip
        label = f"run {run['id']}" + (f" ({run['name']})" if run["name"] else "")
        scorers = {name: summarize(rescore(stored, name))["overall"] for name in SCORERS}
        runs.append(
            {
                **run,
                "label": label,
                "worst": worst,
                "chart": bar_chart(run["metrics"], label),
                "scorers": scorers,
                "skipped": skipped(stored),
            }
        )
    comparison = None
    if len(runs) > 1 and len({r["dataset"] for r in runs}) == 1:
        comparison = compare(ws, [str(r["id"]) for r in runs], samples=samples)
        comparison["plot"] = interval_plot(comparison["rows"], [r["label"] for r in runs])
    return {"runs": runs, "comparison": comparison}


def render_html(data: dict[str, Any]) -> str:
    """The report as one HTML page."""
    return _ENV.get_template("report.html.jinja").render(**data)


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown (tables, no charts or images)."""
    return _ENV.get_template("report.md.jinja").render(**data)


def write_report(ws: Workspace, refs: list[str], out: Path, **options: Any) -> list[Path]:
    """Write ``report.html`` and ``report.md`` into ``out`` (owner-only); their paths."""
    data = report_data(ws, refs, **options)
    folder = private_dir(Path(out).expanduser())
    written = []
    for name, text in (("report.html", render_html(data)), ("report.md", render_markdown(data))):
        write_private(folder / name, text)
        written.append(folder / name)
    return written
