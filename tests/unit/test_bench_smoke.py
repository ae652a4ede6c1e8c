"""Smoke test for tests/bench/bench_kg.py, so that the benchmark code cannot silently rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_kg.py"


def load_bench() -> ModuleType:
    """Import the benchmark script by file path (it is not a package module)."""
    spec = importlib.util.spec_from_file_location("bench_kg", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_triple_generator_writes_exact_count(tmp_path: Path) -> None:
    bench = load_bench()
    path = tmp_path / "kg.tsv"
    counts = bench.generate_triples(path, 2000)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2001
    assert lines[0] == "head\trelation\ttail\thead_type\ttail_type"
    assert counts["triples"] == 2000
    assert all(len(line.split("\t")) == 5 for line in lines)
    assert len({tuple(line.split("\t")[:3]) for line in lines[1:]}) == 2000  # no duplicates
