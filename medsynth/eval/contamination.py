"""Does training data overlap an evaluation set? Images by SHA-256 and perceptual hash,
questions by normalised text and by text-encoder cosine similarity.

:class:`TestSet` is the reusable part (synthesis checks each new sample against it)::

    test = TestSet.from_files([slake / "test.json", vqa_rad / "testset.json"], encoder)
    hits = test.match(image_sha256=sha, image_phash=phash, question="Where is the mass?")
    # [ContaminationHit(kind='image_phash', reason='image phash distance 2 ≤ 4 to slake
    #   test.json imgs/xmlab12/source.jpg (qid 123 and 9 more)', ...)]

Question hits alone are weak evidence on templated sets (SLAKE asks "What modality is used to
take this image?" of hundreds of images): a question hit whose test question is on an image the
item also matched is flagged ``same_image`` and listed first.

:func:`medsynth.eval.exports.scan_export` checks a whole training export with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medsynth.backends.encoders import TextEncoder
from medsynth.errors import InputError
from medsynth.eval.loaders import looks_like
from medsynth.eval.metrics import normalize_answer
from medsynth.ingest.annotated import vqa_rad_file
from medsynth.ingest.images import inspect_image
from medsynth.ingest.sources import load_json

DEFAULT_MAX_PIXELS = 89_478_485
Query = tuple[str | None, str | None, str | None]  # (image sha256, image phash hex, question)


@dataclass(frozen=True)
class TestItem:
    """One question of an evaluation set, with its image's hashes (None when unreadable)."""

    __test__ = False

    dataset: str  # slake | vqa-rad
    file: str  # the question file's name
    qid: str
    question: str
    language: str
    image: str  # relative to the dataset root
    image_sha256: str | None
    image_phash: str | None


@dataclass(frozen=True)
class ContaminationHit:
    """Why a training item looks like part of the evaluation set."""

    kind: str  # image_sha256 | image_phash | question_exact | question_similar
    reason: str
    dataset: str
    file: str
    qids: tuple[str, ...]  # the test questions concerned (all questions on a matched image)
    image: str
    question: str  # the test question (question hits), else ""
    value: float | None  # phash distance or cosine similarity
    same_image: bool = False  # question hits: the test question is on an image matched too

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "reason": self.reason,
            "dataset": self.dataset,
            "file": self.file,
            "qids": list(self.qids),
            "image": self.image,
            "question": self.question,
            "value": self.value,
            "same_image": self.same_image,
        }


def _qid_text(qids: Sequence[str]) -> str:
    return f"qid {qids[0]}" + (f" and {len(qids) - 1} more" if len(qids) > 1 else "")


def _popcount(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    bits = np.unpackbits(values.view(np.uint8).reshape(-1, 8), axis=1)
    return np.asarray(bits.sum(axis=1), dtype=np.int64)


def _question_files(path: Path, split: str) -> list[tuple[Path, Path, str, Any]]:
    """(root, file, dataset, row filter) for a question file or a dataset folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        if (path / "imgs").is_dir() or (path / f"{split}.json").is_file():
            file = path / f"{split}.json"
            if not file.is_file():
                raise InputError(f"no {split}.json here", source=str(path), hint="pass --split")
            return [(path.resolve(), file.resolve(), "slake", None)]
        root, file, keep = vqa_rad_file(path, split)
        return [(root, file, "vqa-rad", keep)]
    if not path.is_file():
        raise InputError("no such file or folder", source=str(path))
    kind = looks_like(path)
    if kind is None:
        raise InputError(
            "not a SLAKE or VQA-RAD question file",
            source=str(path),
            hint="pass SLAKE's test.json / validate.json or a VQA-RAD JSON file (or their folder)",
        )
    if kind == "vqa-rad":
        root, file, keep = vqa_rad_file(path, split)
        return [(root, file, kind, keep)]
    return [(path.parent.resolve(), path.resolve(), kind, None)]


class TestSet:
    """Questions and images of one or more evaluation files, indexed for overlap checks."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self,
        items: Sequence[TestItem],
        *,
        text_encoder: TextEncoder | None = None,
        phash_distance: int = 4,
        question_cosine: float = 0.95,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.items = list(items)
        self.text_encoder = text_encoder
        self.phash_distance = phash_distance
        self.question_cosine = question_cosine
        self.problems = list(problems)
        images: dict[tuple[str, str, str], list[int]] = {}
        self._by_sha: dict[str, list[tuple[str, str, str]]] = {}
        self._by_question: dict[str, list[int]] = {}
        for index, item in enumerate(self.items):
            key = (item.dataset, item.file, item.image)
            if key not in images:
                images[key] = []
                if item.image_sha256:
                    self._by_sha.setdefault(item.image_sha256, []).append(key)
            images[key].append(index)
            norm = normalize_answer(item.question)
            if norm:
                self._by_question.setdefault(norm, []).append(index)
        self._images = images
        hashed = [(k, phash) for k, v in images.items() if (phash := self.items[v[0]].image_phash)]
        self._phash_keys = [k for k, _ in hashed]
        self._phashes = np.array([int(h, 16) for _, h in hashed], dtype=np.uint64)
        self._questions = list(self._by_question)
        self._vectors: npt.NDArray[np.float32] | None = None

    @classmethod
    def from_files(
        cls,
        paths: Iterable[Path | str],
        text_encoder: TextEncoder | None = None,
        *,
        split: str = "test",
        language: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        phash_distance: int = 4,
        question_cosine: float = 0.95,
    ) -> TestSet:
        """Read SLAKE split files and VQA-RAD files (or their folders: ``split`` picks the file,
        and the official VQA-RAD file's rows by ``phrase_type``); every language unless
        ``language``. Each image is decoded once and hashed (SHA-256 of the file, 64-bit phash);
        an unreadable image is listed in ``problems`` and matched by question only."""
        items: list[TestItem] = []
        problems: list[tuple[str, str]] = []
        for path in paths:
            for root, file, dataset, keep in _question_files(Path(path), split):
                rows = load_json(file)
                if not isinstance(rows, list):
                    raise InputError("expected a JSON list of question rows", source=str(file))
                folder, field_name = (
                    ("imgs", "img_name") if dataset == "slake" else ("images", "image_name")
                )
                hashes: dict[str, tuple[str | None, str | None]] = {}
                for index, row in enumerate(rows):
                    if not isinstance(row, dict) or (keep is not None and not keep(row)):
                        continue
                    row_language = str(row.get("q_lang") or "en")
                    if language is not None and row_language != language:
                        continue
                    question = str(row.get("question") or "").strip()
                    image = f"{folder}/{str(row.get(field_name) or '').strip()}"
                    if image not in hashes:
                        try:
                            info = inspect_image(root, image, max_pixels)
                            hashes[image] = (info.sha256, info.phash)
                        except InputError as exc:
                            problems.append((f"{file.name}[{index}] {image}", exc.message))
                            hashes[image] = (None, None)
                    sha, phash = hashes[image]
                    qid = str(row.get("qid") if row.get("qid") is not None else index)
                    items.append(
                        TestItem(dataset, file.name, qid, question, row_language, image, sha, phash)
                    )
        return cls(
            items,
            text_encoder=text_encoder,
            phash_distance=phash_distance,
            question_cosine=question_cosine,
            problems=problems,
        )

    def summary(self) -> dict[str, Any]:
        """Counts per file, and what could not be read."""
        files: dict[str, dict[str, Any]] = {}
        for (dataset, file, _), indexes in self._images.items():
            entry = files.setdefault(
                f"{dataset} {file}", {"dataset": dataset, "questions": 0, "images": 0}
            )
            entry["images"] += 1
            entry["questions"] += len(indexes)
        return {
            "questions": len(self.items),
            "images": len(self._images),
            "files": files,
            "problems": [{"source": s, "reason": r} for s, r in self.problems],
        }

    def _image_hit(
        self, kind: str, key: tuple[str, str, str], reason: str, value: float | None
    ) -> ContaminationHit:
        qids = tuple(self.items[i].qid for i in self._images[key])
        return ContaminationHit(
            kind,
            f"{reason} {key[0]} {key[1]} {key[2]} ({_qid_text(qids)})",
            key[0],
            key[1],
            qids,
            key[2],
            "",
            value,
        )

    def _question_hits(
        self,
        kind: str,
        indexes: list[int],
        matched_images: set[tuple[str, str, str]],
        reason: str,
        value: float,
        limit: int,
    ) -> list[ContaminationHit]:
        """Hits for test questions ``indexes``: those on an image the item also matched first
        (``same_image``: the strongest sign), then the rest, ``limit`` in all."""
        keyed = [
            (self.items[i], (self.items[i].dataset, self.items[i].file, self.items[i].image))
            for i in indexes
        ]
        keyed.sort(key=lambda pair: pair[1] not in matched_images)
        hits = []
        for item, key in keyed[:limit]:
            same = key in matched_images
            hits.append(
                ContaminationHit(
                    kind,
                    f"{reason} {item.dataset} {item.file} qid {item.qid}"
                    + (" (same image)" if same else ""),
                    item.dataset,
                    item.file,
                    (item.qid,),
                    item.image,
                    item.question,
                    value,
                    same,
                )
            )
        return hits

    def _vectors_now(self) -> npt.NDArray[np.float32] | None:
        if self.text_encoder is None:
            return None
        if self._vectors is None:
            texts = [self.items[self._by_question[q][0]].question for q in self._questions]
            self._vectors = self.text_encoder.encode_text(texts)
        return self._vectors

    def match(
        self,
        image_sha256: str | None = None,
        image_phash: str | None = None,
        question: str | None = None,
        *,
        phash_distance: int | None = None,
        question_cosine: float | None = None,
        limit: int = 5,
    ) -> list[ContaminationHit]:
        """Why one training item (its image's hashes, its question) overlaps this test set."""
        return self.match_many(
            [(image_sha256, image_phash, question)],
            phash_distance=phash_distance,
            question_cosine=question_cosine,
            limit=limit,
        )[0]

    def match_many(
        self,
        queries: Sequence[Query],
        *,
        phash_distance: int | None = None,
        question_cosine: float | None = None,
        limit: int = 5,
    ) -> list[list[ContaminationHit]]:
        """:meth:`match` for many items at once (questions are encoded in one batch).

        ``phash_distance`` (bits, -1 turns the check off) and ``question_cosine`` (above 1
        turns it off) default to the set's thresholds; ``limit`` caps the hits of each kind.
        """
        max_bits = self.phash_distance if phash_distance is None else phash_distance
        min_cos = self.question_cosine if question_cosine is None else question_cosine
        similar = self._similar([q for _, _, q in queries], min_cos, limit)
        results: list[list[ContaminationHit]] = []
        for (sha, phash, question), near in zip(queries, similar, strict=True):
            hits: list[ContaminationHit] = []
            exact_keys = set(self._by_sha.get(sha, [])) if sha else set()
            for key in sorted(exact_keys)[:limit]:
                hits.append(self._image_hit("image_sha256", key, "image sha256 equals", None))
            if phash and max_bits >= 0 and len(self._phash_keys):
                distances = _popcount(self._phashes ^ np.uint64(int(phash, 16)))
                order = np.argsort(distances, kind="stable")
                found = 0
                for position in order:
                    distance = int(distances[position])
                    if distance > max_bits or found >= limit:
                        break
                    key = self._phash_keys[int(position)]
                    if key in exact_keys:
                        continue
                    found += 1
                    hits.append(
                        self._image_hit(
                            "image_phash",
                            key,
                            f"image phash distance {distance} ≤ {max_bits} to",
                            float(distance),
                        )
                    )
            matched = {(h.dataset, h.file, h.image) for h in hits}
            norm = normalize_answer(question or "")
            if norm in self._by_question:
                hits += self._question_hits(
                    "question_exact",
                    self._by_question[norm],
                    matched,
                    "question text equals",
                    1.0,
                    limit,
                )
            similar_hits: list[ContaminationHit] = []
            for cosine, qnorm in near:
                if qnorm != norm and len(similar_hits) < limit:
                    similar_hits += self._question_hits(
                        "question_similar",
                        self._by_question[qnorm],
                        matched,
                        f"question cosine {cosine:.2f} ≥ {min_cos:.2f} to",
                        round(cosine, 4),
                        limit - len(similar_hits),
                    )
            hits += similar_hits
            results.append(hits)
        return results

    def _similar(
        self, questions: Sequence[str | None], min_cos: float, limit: int
    ) -> list[list[tuple[float, str]]]:
        """For each question: (cosine, test question key) at or above ``min_cos``, best first."""
        empty: list[list[tuple[float, str]]] = [[] for _ in questions]
        wanted = [i for i, q in enumerate(questions) if q and q.strip()]
        if not wanted or min_cos > 1.0 or not self._questions:
            return empty
        vectors = self._vectors_now()
        if vectors is None or self.text_encoder is None:
            return empty
        queries = self.text_encoder.encode_text([str(questions[i]) for i in wanted])
        scores = queries @ vectors.T
        for row, position in enumerate(wanted):
            best = np.argsort(-scores[row], kind="stable")[: limit + 1]
            empty[position] = [
                (float(scores[row, j]), self._questions[int(j)])
                for j in best
                if scores[row, j] >= min_cos - 1e-6
            ]
        return empty
