"""hnswlib wrapper: any dimension, persistence with ef, recall against exact search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medsynth.kg.vectors import VectorIndex, exact_search


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    points = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("dim", [3, 64, 384, 1024])
def test_any_dimension_finds_itself(dim: int) -> None:
    data = clustered(300, dim, seed=dim)
    index = VectorIndex(dim)
    index.build(data, np.arange(300, dtype=np.int64) + 1000)
    labels, scores = index.query(data[:10], k=1)
    assert labels[:, 0].tolist() == list(range(1000, 1010))
    assert np.allclose(scores[:, 0], 1.0, atol=1e-4)


def test_save_load_keeps_ef_and_results(tmp_path: Path) -> None:
    data = clustered(500, 32, seed=1)
    index = VectorIndex(32, ef_search=77)
    index.build(data, np.arange(500, dtype=np.int64))
    before = index.query(data[:5], k=5)[0]
    index.save(tmp_path / "i.hnsw")
    loaded = VectorIndex.load(tmp_path / "i.hnsw")
    assert loaded.ef_search == 77
    assert loaded.count == 500
    assert (loaded.query(data[:5], k=5)[0] == before).all()
    assert (tmp_path / "i.hnsw").stat().st_mode & 0o077 == 0


def test_recall_against_exact_search() -> None:
    data = clustered(3000, 48, seed=2)
    queries = clustered(100, 48, seed=3)
    index = VectorIndex(48)
    index.build(data, np.arange(3000, dtype=np.int64))
    approx = index.query(queries, k=20)[0]
    exact = exact_search(data, queries, 20)
    recall = np.mean([len(set(a) & set(e)) / 20 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.98


def test_empty_index_and_bad_shapes() -> None:
    index = VectorIndex(8)
    index.build(np.zeros((0, 8), dtype=np.float32), np.zeros(0, dtype=np.int64))
    labels, _scores = index.query(np.ones((2, 8), dtype=np.float32), k=5)
    assert labels.shape == (2, 0)
    with pytest.raises(ValueError, match="shape"):
        index.build(np.zeros((3, 7), dtype=np.float32), np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="one label per vector"):
        index.build(np.zeros((3, 8), dtype=np.float32), np.arange(2, dtype=np.int64))
