"""A cosine-space hnswlib index of any dimension, saved beside a small JSON header."""

from __future__ import annotations

import json
import os
from pathlib import Path

import hnswlib
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


class VectorIndex:
    """hnswlib index (cosine) with integer labels.

    ``ef`` is not stored in hnswlib's file, so it is kept in the JSON header and set on load.
    """

    def __init__(
        self, dim: int, *, m: int = 16, ef_construction: int = 200, ef_search: int = 128
    ) -> None:
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.index = hnswlib.Index(space="cosine", dim=dim)
        self.count = 0

    def build(
        self, vectors: FloatArray, labels: npt.NDArray[np.int64], *, threads: int = -1
    ) -> None:
        """Index ``vectors`` (n x dim) under ``labels`` (n,)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(labels) != len(vectors):
            raise ValueError("one label per vector")
        self.index.init_index(
            max_elements=max(1, len(vectors)),
            M=self.m,
            ef_construction=self.ef_construction,
            random_seed=100,
        )
        if len(vectors):
            self.index.add_items(vectors, labels, num_threads=threads)
        self.index.set_ef(self.ef_search)
        self.count = len(vectors)

    def query(self, vectors: FloatArray, k: int) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Labels and cosine *similarities* of the ``k`` nearest items per query row."""
        if self.count == 0:
            empty = np.zeros((len(vectors), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        k = min(k, self.count)
        self.index.set_ef(max(self.ef_search, k))
        labels, distances = self.index.knn_query(np.asarray(vectors, dtype=np.float32), k=k)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write ``path`` (hnswlib binary) and ``path.json`` (header), owner-only."""
        old_umask = os.umask(0o077)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            self.index.save_index(str(tmp))
            os.replace(tmp, path)
            header = {
                "dim": self.dim,
                "m": self.m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
                "count": self.count,
            }
            path.with_suffix(path.suffix + ".json").write_text(json.dumps(header))
        finally:
            os.umask(old_umask)

    @classmethod
    def load(cls, path: Path, *, ef_search: int | None = None) -> VectorIndex:
        """Read an index written by :meth:`save`."""
        header = json.loads(path.with_suffix(path.suffix + ".json").read_text())
        index = cls(
            header["dim"],
            m=header["m"],
            ef_construction=header["ef_construction"],
            ef_search=ef_search or header["ef_search"],
        )
        index.index.load_index(str(path), max_elements=max(1, header["count"]))
        index.index.set_ef(index.ef_search)
        index.count = header["count"]
        return index


def exact_search(
    data: FloatArray, queries: FloatArray, k: int, *, batch: int = 256
) -> npt.NDArray[np.int64]:
    """Brute-force cosine top-k row indices (reference for recall measurements).

    Queries run in batches so that memory stays at ``batch x len(data)`` scores.
    """
    data_n = data / np.linalg.norm(data, axis=1, keepdims=True)
    query_n = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    k = min(k, len(data))
    result = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), batch):
        scores = query_n[start : start + batch] @ data_n.T
        top = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        result[start : start + batch] = np.take_along_axis(top, order, axis=1)
    return result
