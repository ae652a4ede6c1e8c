"""Smoke test for tests/bench/bench_kg.py, so that the benchmark code cannot silently rot."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import bench_script


def test_triple_generator_writes_exact_count(tmp_path: Path) -> None:
    bench = bench_script("bench_kg")
    path = tmp_path / "kg.tsv"
    counts = bench.generate_triples(path, 2000)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2001
    assert lines[0] == "head\trelation\ttail\thead_type\ttail_type"
    assert counts["triples"] == 2000
    assert all(len(line.split("\t")) == 5 for line in lines)
    assert len({tuple(line.split("\t")[:3]) for line in lines[1:]}) == 2000  # no duplicates
