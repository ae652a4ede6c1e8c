"""Quality gate: per-detector precision and recall on the labelled draft corpus.

Runs :func:`medsynth.synth.gate.inspect` over ``tests/fakes/quality_corpus.py`` (drafts of all
six generators, English and Chinese, each labelled with the detectors that should fire) and
prints, per detector, true positives, false positives, misses, precision and recall; the share
of good drafts the gate wrongly rejects; and how many drafts per second ``inspect`` checks.
Goals (issue 13): precision >= 0.9 for every detector, at most 5 % of good drafts rejected;
recall >= 0.8 is the bar of ``tests/unit/test_gate_corpus.py``.

``--heldout`` scores the blind held-out set of ``tests/fakes/quality_heldout.py`` instead (drafts
the gate was not tuned on; reported, never asserted).

``.venv/bin/python tests/bench/bench_gate.py [--heldout] [--show-errors] [--seconds S]``
(``just bench``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from medsynth.config import ChecksConfig
from medsynth.synth.gate import inspect
from tests.fakes.quality_corpus import (
    Item,
    Result,
    corpus,
    errors,
    evaluate,
    false_reject_rate,
    tally,
)
from tests.fakes.quality_heldout import heldout

PRECISION_GOAL, RECALL_GOAL, FALSE_REJECT_GOAL = 0.9, 0.8, 0.05


def table(results: list[Result]) -> list[str]:
    """The per-detector table, one line per detector; '<' marks a value under its goal."""
    lines = [
        f"{'detector':<18} {'positives':>9} {'TP':>4} {'FP':>4} {'FN':>4} "
        f"{'precision':>9} {'recall':>7}"
    ]
    for name, t in tally(results).items():
        p_mark = " <" if t.precision < PRECISION_GOAL else "  "
        r_mark = " <" if t.recall < RECALL_GOAL else "  "
        lines.append(
            f"{name:<18} {t.tp + t.fn:>9} {t.tp:>4} {t.fp:>4} {t.fn:>4} "
            f"{t.precision:>9.2f}{p_mark}{t.recall:>5.2f}{r_mark}"
        )
    return lines


def throughput(items: tuple[Item, ...], seconds: float) -> tuple[float, int]:
    """Drafts per second through ``inspect`` (whole rounds over the corpus for about
    ``seconds``), and the number of rounds."""
    cfg = ChecksConfig()
    rounds, started = 0, time.perf_counter()
    while True:
        for item in items:
            inspect(item.candidate, item.facts, cfg)
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return rounds * len(items) / elapsed, rounds


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark; return 0 (numbers, not pass/fail)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--show-errors", action="store_true", help="list every item the gate gets wrong"
    )
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="how long to time inspect (default 1 s)"
    )
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="score the blind held-out set (tests/fakes/quality_heldout.py) instead",
    )
    args = parser.parse_args(argv)
    items = heldout() if args.heldout else corpus()
    results = evaluate(items)
    good = [r for r in results if r.item.good]
    rejected = sum(bool(r.fired) for r in good)
    chinese = sum(item.language == "zh" for item in items)
    print(
        f"quality gate on {len(items)} {'blind held-out' if args.heldout else 'labelled'} "
        f"drafts ({len(good)} good, {chinese} Chinese); "
        f"goals: precision >= {PRECISION_GOAL}, recall >= {RECALL_GOAL} ('<' = under the goal)"
    )
    print("\n".join(table(results)))
    rate = false_reject_rate(results)
    mark = "" if rate <= FALSE_REJECT_GOAL else "  < over the goal"
    print(
        f"good drafts wrongly rejected: {rejected}/{len(good)} = {rate:.1%} "
        f"(goal <= {FALSE_REJECT_GOAL:.0%}){mark}"
    )
    held = [r for r in results if r.item.split == "held-out"]
    if held:
        held_good = [r for r in held if r.item.good]
        print(
            f"\nheld out ({len(held)} drafts written after the gate was tuned on the others, "
            f"{len(held_good)} good): wrong on {sum(not r.right for r in held)}, good drafts "
            f"rejected {sum(bool(r.fired) for r in held_good)}/{len(held_good)} = "
            f"{false_reject_rate(held):.1%}"
        )
        print("\n".join(table(held)))
    per_second, rounds = throughput(items, args.seconds)
    print(f"inspect: {per_second:,.0f} drafts/s ({rounds} rounds of {len(items)} drafts)")
    wrong = errors(results)
    if args.show_errors:
        print(f"\n{len(wrong)} items the gate gets wrong (id: expected; got | reasons):")
        print("\n".join(wrong))
    elif wrong:
        print(f"{len(wrong)} items wrong: rerun with --show-errors to list them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
