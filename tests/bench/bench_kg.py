"""MedSynth benchmarks: KG import throughput, path query latency, hnswlib recall.

Run as ``.venv/bin/python tests/bench/bench_kg.py [--quick]`` (``just bench``). It prints numbers
against goals and never asserts; see the summary table at the end.
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from medsynth.workspace import Workspace

SEED = 20240601
SYSTEMS = ("Respiratory", "Digestive", "Nervous", "Circulatory", "Urinary", "Endocrine", "Immune")
ORGAN_WORDS = ("Lung", "Liver", "Kidney", "Heart", "Colon", "Brain", "Spleen", "Stomach", "Bone")
ROOTS = ("Cardio", "Nephro", "Hepato", "Pneumo", "Gastro", "Neuro", "Osteo", "Derma", "Myo")
SUFFIXES = ("pathy", "itis", "sclerosis", "megaly", "oma", "algia", "plasia", "trophy")
ADJ = ("mild", "severe", "chronic", "acute", "recurrent", "persistent", "intermittent", "sudden")
NOUNS: dict[str, tuple[str, ...]] = {
    "symptom": ("fever", "cough", "pain", "fatigue", "nausea", "swelling", "rash", "dizziness"),
    "cause": ("infection", "smoking", "obesity", "genetic mutation", "trauma", "toxin exposure"),
    "treatment": ("surgery", "antibiotics", "physiotherapy", "radiotherapy", "diet change"),
    "prevention": ("vaccination", "hand washing", "regular exercise", "screening", "rest"),
    "complication": ("sepsis", "organ failure", "bleeding", "scarring", "relapse", "anaemia"),
    "susceptible population": ("children", "the elderly", "smokers", "pregnant women", "athletes"),
}
POOL = tuple(NOUNS)
WEIGHTS = (4, 2, 2, 1, 1, 1)
VOCAB = {rel: [f"{a} {n}" for a in ADJ for n in nouns] for rel, nouns in NOUNS.items()}
HEADER = "head\trelation\ttail\thead_type\ttail_type\n"


def generate_triples(path: Path, n_triples: int, seed: int = SEED) -> dict[str, int]:
    """Write a synthetic TSV KG with exactly ``n_triples`` rows; return entity/triple counts.

    50 systems; n/50 organs (belong to + function + position each); n/10 diseases (location,
    description, infectivity, then weighted symptom/cause/treatment/... values to fill up)."""
    rng = random.Random(seed)
    n_organs, n_diseases = n_triples // 50, n_triples // 10
    budget = n_triples - 3 * n_organs - 3 * n_diseases
    if n_diseases == 0 or budget < 0:
        raise ValueError(f"{n_triples} triples are too few for this generator")
    base, extra = divmod(budget, n_diseases)
    counts = [base + (i < extra) for i in range(n_diseases)]
    rng.shuffle(counts)
    systems = [f"{SYSTEMS[i % len(SYSTEMS)]} system {i}" for i in range(50)]
    organs = [f"{rng.choice(ORGAN_WORDS)} region {i}" for i in range(n_organs)]
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i, organ in enumerate(organs):
            out.write(f"{organ}\tbelong to\t{systems[i % 50]}\torgan\tsystem\n")
            out.write(f"{organ}\tfunction\tsupports the {systems[i % 50].lower()}\torgan\t\n")
            out.write(f"{organ}\tposition\t{rng.choice(('upper', 'lower', 'central'))} part\t\t\n")
        written += 3 * n_organs
        for i, count in enumerate(counts):
            name = f"{rng.choice(ROOTS)}{rng.choice(SUFFIXES)} type {i}"
            organ = organs[rng.randrange(n_organs)]
            lines = [
                f"{name}\tlocation\t{organ}\tdisease\torgan",
                f"{name}\tdescription\t{name} is a {rng.choice(ADJ)} disorder of the {organ}."
                "\tdisease\t",
                f"{name}\tinfectivity\t{rng.choice(('yes', 'no'))}\tdisease\t",
            ]
            for rel, m in Counter(rng.choices(POOL, WEIGHTS, k=count)).items():
                m = min(m, len(VOCAB[rel]))
                lines += [f"{name}\t{rel}\t{tail}\tdisease\t" for tail in rng.sample(VOCAB[rel], m)]
            lines += [
                f"{name}\tsymptom\t{name} sign {j}\tdisease\t" for j in range(len(lines), 3 + count)
            ]
            out.write("\n".join(lines) + "\n")
            written += len(lines)
    assert written == n_triples  # generator invariant, not a benchmark check
    return {"systems": 50, "organs": n_organs, "diseases": n_diseases, "triples": written}


class Results:
    """Collects ``name: value unit (goal: ...)`` lines for the summary table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = [("metric", "value", "unit", "goal", "status", "note")]

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        goal: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> None:
        """Print one result line and remember it."""
        text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4{'g' if unit else 'f'}}"
        status = "" if met is None else ("met" if met else "MISSED")
        line = f"  {name.strip()}: {text}{' ' + unit if unit else ''}"
        line += (f" (goal: {goal})" if goal else "") + (f" -> {status}" if status else "")
        print(line + (f"  [{note}]" if note else ""), flush=True)
        self.rows.append((name, text, unit, goal, status, note))

    def table(self) -> None:
        """Print the summary table."""
        widths = [max(len(row[i]) for row in self.rows) for i in range(6)]
        for row in [self.rows[0], tuple("-" * w for w in widths), *self.rows[1:]]:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and its wall time in seconds."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_import(res: Results, tmp: Path, n_triples: int) -> Workspace:
    """Section 1: import throughput; returns the imported workspace (kept open)."""
    from medsynth.kg.normalize import normalize
    from medsynth.kg.service import import_kg
    from medsynth.kg.triples import parse_triples
    from medsynth.kg.writer import write_kg
    from medsynth.workspace import Workspace

    print(f"\n[1] KG import: generating {n_triples:,} triples ...", flush=True)
    path = tmp / "kg.tsv"
    counts, gen_s = timed(lambda: generate_triples(path, n_triples))
    size = path.stat().st_size / 2**20
    print(f"  generated {counts} ({size:.1f} MiB) in {gen_s:.1f} s (not counted)", flush=True)
    ws = Workspace.init(tmp / "ws")
    report, secs = timed(lambda: import_kg(ws, path, "triples"))
    keys = ("rows_read", "triples_new", "entities_new", "aliases_new", "triples_already_present")
    summary = {k: v for k, v in report.as_dict().items() if k in keys}
    print(f"  import_kg in {secs:.2f} s: {summary}, rejects={len(report.rejects)}", flush=True)
    rate = n_triples / secs
    res.add("import throughput", rate, "triples/s", ">= 100,000 triples/s", rate >= 100_000)
    ws2 = Workspace.init(tmp / "ws2")
    normalize.cache_clear()  # each timing starts cold, as a fresh CLI process would
    gc.disable()  # as import_kg does while it runs
    parsed, parse_s = timed(lambda: parse_triples(path, "en"))
    _, write_s = timed(lambda: write_kg(ws2.db, parsed, run_id=None))
    gc.enable()
    ws2.close()
    res.add("  parse_triples", parse_s, "s", note=f"{n_triples / parse_s:,.0f} triples/s")
    res.add("  write_kg", write_s, "s", note=f"{n_triples / write_s:,.0f} triples/s")
    normalize.cache_clear()
    again, re_s = timed(lambda: import_kg(ws, path, "triples"))
    res.add("re-import time", re_s, "s", note="same file into the imported workspace")
    res.add("  re-import new triples", again.triples_new, "triples", "0", again.triples_new == 0)
    return ws


def bench_paths(res: Results, ws: Workspace) -> None:
    """Section 2: paths_for latency for random diseases and organs."""
    from medsynth.kg.paths import paths_for

    print("\n[2] Path query latency (paths_for, language='en') ...", flush=True)
    rng = random.Random(SEED)
    ids = {
        kind: [r[0] for r in ws.db.execute("SELECT id FROM entities WHERE type = ?", [kind])]
        for kind in ("disease", "organ")
    }
    for entity_id in rng.sample(ids["disease"], 50):
        paths_for(ws.db, entity_id, language="en")
    for kind, n in (("disease", 2000), ("organ", 500)):
        sample = rng.sample(ids[kind], min(n, len(ids[kind])))
        times, n_paths = [], 0
        for entity_id in sample:
            start = time.perf_counter()
            paths = paths_for(ws.db, entity_id, language="en")
            times.append((time.perf_counter() - start) * 1000)
            n_paths += len(paths)
        p50, p95, p99 = np.percentile(times, [50, 95, 99])
        res.add(f"paths_for {kind} p50", p50, "ms", "< 1 ms", p50 < 1)
        res.add(f"paths_for {kind} p95", p95, "ms")
        res.add(f"paths_for {kind} p99", p99, "ms")
        res.add(f"paths_for {kind} paths avg", n_paths / len(sample), "paths")


def vectors(rng: np.random.Generator, n: int, centres: np.ndarray | None) -> np.ndarray:
    """``n`` L2-normalised float32 rows: centre + 0.5 * noise, or pure Gaussian without centres."""
    dim = 384 if centres is None else centres.shape[1]
    data = rng.standard_normal((n, dim), dtype=np.float32)
    if centres is not None:
        data *= 0.5
        data += centres[rng.integers(0, len(centres), n)]
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    return data


def recall(index: Any, queries: np.ndarray, truth: np.ndarray, k: int = 20) -> float:
    """Mean recall@k of ``index.query`` against exact labels."""
    labels, _ = index.query(queries, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(labels, truth, strict=True)]))


def exact(data: np.ndarray, queries: np.ndarray, k: int = 20, batch: int = 200) -> np.ndarray:
    """``exact_search`` in query batches, to bound the (queries x n) score matrix's memory."""
    from medsynth.kg.vectors import exact_search

    parts = [exact_search(data, queries[i : i + batch], k) for i in range(0, len(queries), batch)]
    return np.vstack(parts)


def bench_hnsw(res: Results, n: int, n_random: int, n_queries: int = 1000) -> None:
    """Section 3: hnswlib build time, recall@20 and single-query latency."""
    from medsynth.kg.vectors import VectorIndex

    print(f"\n[3] hnswlib recall@20: {n:,} clustered vectors, dim 384 ...", flush=True)
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((1000, 384), dtype=np.float32)
    data, queries = vectors(rng, n, centres), vectors(rng, n_queries, centres)
    truth = exact(data, queries)
    index = VectorIndex(384, m=16, ef_construction=200, ef_search=128)
    _, build_s = timed(lambda: index.build(data, np.arange(n, dtype=np.int64)))
    note = f"1,000 clusters x ~{n // 1000} points"
    res.add(f"hnsw build {n // 1000}k clustered", build_s, "s", "M=16, ef_c=200", note=note)
    reached = None
    for ef in (64, 128, 256):
        index.ef_search = ef
        r = recall(index, queries, truth)
        reached = reached or (ef if r >= 0.99 else None)
        res.add(f"recall@20 clustered ef={ef}", r, "", ">= 0.99", r >= 0.99)
        times = []
        for q in queries:
            start = time.perf_counter()
            index.query(q[None, :], 20)
            times.append((time.perf_counter() - start) * 1000)
        res.add(f"  single query p50 ef={ef}", float(np.median(times)), "ms")
    print(f"  lowest ef reaching recall >= 0.99: {reached or 'none of 64/128/256'}", flush=True)
    del data, index
    print(f"  worst case: {n_random:,} pure Gaussian vectors ...", flush=True)
    data, queries = vectors(rng, n_random, None), vectors(rng, n_queries, None)
    truth = exact(data, queries)
    index = VectorIndex(384, m=16, ef_construction=200, ef_search=128)
    _, build_s = timed(lambda: index.build(data, np.arange(n_random, dtype=np.int64)))
    res.add(f"hnsw build {n_random // 1000}k gaussian", build_s, "s")
    for ef in (128, 256):
        index.ef_search = ef
        res.add(f"recall@20 gaussian ef={ef}", recall(index, queries, truth), "", "footnote only")


def main() -> None:
    """Run every section and print the summary table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run (100k triples)")
    args = parser.parse_args()
    n_triples, n_vectors, n_random = (
        (100_000, 10_000, 10_000) if args.quick else (1_000_000, 100_000, 100_000)
    )
    mode = "QUICK mode (scaled down)" if args.quick else "full run"
    print(f"MedSynth bench, {mode}: {n_triples:,} triples, {n_vectors:,} vectors", flush=True)
    res = Results()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="medsynth-bench-") as tmp:
        ws = bench_import(res, Path(tmp), n_triples)
        try:
            bench_paths(res, ws)
        finally:
            ws.close()
    bench_hnsw(res, n_vectors, n_random)
    res.add("total wall time", time.perf_counter() - start, "s", "< 600 s (full run)")
    print("\nSummary")
    res.table()


if __name__ == "__main__":
    main()
