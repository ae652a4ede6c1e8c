"""Stage 2: fuzzy matching for mentions that stage 1 missed.

Candidates are the KG entities of the mention's kind nearest to the mention text (entity_text
index: names and aliases) and nearest to the record image (entity_image index: entity crops),
``4 * top_k`` from each. Every candidate in the union is scored
``cos(record image, entity image) + cos(mention, entity text)`` (image score: the best over the
entity's images; text score: the best over its name and aliases); an entity without images
scores on text alone and is flagged ``text_only``. The ``top_k`` best are kept; those under
the floors are flagged ``below_floor`` and never shown to the verifier: a text score under
``[ground] fuzzy_min_text_score`` (the verifier is asked whether two *names* mean the same
thing, and a name far from the mention never does, however alike the images), or a score under
``fuzzy_min_score``. The rest go to the verifier in score order. With ``keep_all`` (the default,
MedKInstruct's rule) every one of them is asked and every confirmed candidate grounds the record:
the best-scored is the mention's match and the others (``also``) add their KG triples; without
it asking stops at the first "same", which saves verifier calls. A mention left without a
match carries a :class:`~medsynth.ground.plausible.Refusal` of the floor or of the verifier.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from medsynth.backends.base import BackendError, TransientBackendError
from medsynth.backends.calllog import CallLog
from medsynth.backends.encoders import image_encoder, text_encoder
from medsynth.ground.plausible import FUZZY_FLOOR, VERIFIER, Refusal
from medsynth.kg.indexes import IndexName, built_index
from medsynth.kg.lookup import KIND_TYPES, UNTYPED, EntityRef, Kind
from medsynth.kg.queries import label_entities
from medsynth.kg.vectors import VectorIndex
from medsynth.prompts import render
from medsynth.workspace import Workspace

FloatArray = npt.NDArray[np.float32]
VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"same": {"type": "boolean"}},
    "required": ["same"],
    "additionalProperties": False,
}
KIND_WORDS = {"disease": "disease or abnormal finding", "organ": "organ or body part"}
CANDIDATE_FACTOR = 4  # candidates drawn from each index per kept candidate
MENTION_CACHE = 100_000


@dataclass
class Candidate:
    """One KG entity proposed for a mention, with its scores and the verifier's answer."""

    entity_id: int
    name: str
    type: str
    text_score: float
    image_score: float | None
    score: float
    text_only: bool
    verified: bool | None = None
    call_id: int | None = None
    error: str | None = None
    below_floor: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (scores rounded to 4 places)."""
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "type": self.type,
            "text_score": round(self.text_score, 4),
            "image_score": None if self.image_score is None else round(self.image_score, 4),
            "score": round(self.score, 4),
            "text_only": self.text_only,
            "verified": self.verified,
            "call_id": self.call_id,
            "error": self.error,
            "below_floor": self.below_floor,
        }


@dataclass
class FuzzyResult:
    """The outcome of stage 2 for one mention."""

    match: Candidate | None
    candidates: list[Candidate]
    text_only: bool
    refusal: Refusal | None = None
    also: list[Candidate] = field(default_factory=list)  # keep-all: other confirmed candidates


class LoadedIndex:
    """One entity index in memory: hnswlib file, label -> entity map, per-type filters."""

    def __init__(
        self, ws: Workspace, name: IndexName, entities: dict[int, EntityRef], max_k: int
    ) -> None:
        path, count = built_index(ws, name)
        self.label_entity = np.full(count, -1, dtype=np.int64)
        labels_of: dict[int, list[int]] = {}
        for label, entity_id in label_entities(ws.db, name):
            if entity_id in entities and 0 <= label < count:
                self.label_entity[label] = entity_id
                labels_of.setdefault(entity_id, []).append(label)
        self.labels_of = {
            eid: np.array(labels, dtype=np.int64) for eid, labels in labels_of.items()
        }
        self.entities = entities
        self.index: VectorIndex | None = None
        if count:
            self.index = VectorIndex.load(ws.root / path, ef_search=ws.config.index.ef_search)
            self.index.index.set_ef(max(ws.config.index.ef_search, max_k))
        self.max_k = max_k
        self._masks: dict[tuple[str, ...], npt.NDArray[np.bool_]] = {}
        self._vectors: dict[int, FloatArray] = {}

    def mask(self, types: tuple[str, ...]) -> npt.NDArray[np.bool_]:
        """Which labels belong to entities of ``types``."""
        if types not in self._masks:
            wanted = np.array(
                [eid >= 0 and self.entities[int(eid)].type in types for eid in self.label_entity],
                dtype=np.bool_,
            )
            self._masks[types] = wanted
        return self._masks[types]

    def nearest(self, vector: FloatArray, types: tuple[str, ...], n: int) -> list[int]:
        """Up to ``n`` entities of ``types`` nearest to ``vector``, best first."""
        mask = self.mask(types)
        k = min(int(mask.sum()), self.max_k)
        if self.index is None or k == 0:
            return []
        query = vector.reshape(1, -1).astype(np.float32)
        try:
            labels = self.index.index.knn_query(
                query, k=k, num_threads=1, filter=lambda label: bool(mask[label])
            )[0][0]
        except RuntimeError:  # the filtered graph search found fewer than k: search exactly
            allowed = np.flatnonzero(mask)
            vectors = np.asarray(self.index.index.get_items(allowed), dtype=np.float32)
            labels = allowed[np.argsort(-(vectors @ query[0]))[:k]]
        found: list[int] = []
        for label in labels:
            entity_id = int(self.label_entity[int(label)])
            if entity_id not in found:
                found.append(entity_id)
                if len(found) == n:
                    break
        return found

    def best(self, entity_id: int, vector: FloatArray) -> float | None:
        """Highest cosine between ``vector`` and the entity's vectors (None: it has none)."""
        labels = self.labels_of.get(entity_id)
        if self.index is None or labels is None:
            return None
        stored = self._vectors.get(entity_id)
        if stored is None:
            stored = np.asarray(self.index.index.get_items(labels), dtype=np.float32)
            self._vectors[entity_id] = stored
        return float(np.max(stored @ vector))


class EntityVectors:
    """Both entity indexes and the encoders that put mentions and record images beside them."""

    def __init__(self, ws: Workspace, entities: dict[int, EntityRef], top_k: int) -> None:
        max_k = top_k * CANDIDATE_FACTOR * 3  # labels per query: names + aliases, many images
        self.text = LoadedIndex(ws, "entity_text", entities, max_k)
        self.image = LoadedIndex(ws, "entity_image", entities, max_k)
        self.text_encoder = text_encoder(ws.config.models.text_encoder)
        self.image_encoder = image_encoder(ws.config.models.image_encoder)
        self._lock = threading.Lock()
        self._mentions: dict[str, FloatArray] = {}

    def mention_vector(self, mention: str) -> FloatArray:
        """The mention's text embedding (kept in memory: mentions repeat a lot)."""
        vector = self._mentions.get(mention)
        if vector is None:
            with self._lock:
                vector = self.text_encoder.encode_text([mention])[0]
            if len(self._mentions) < MENTION_CACHE:
                self._mentions[mention] = vector
        return vector

    def image_vector(self, image: Image.Image) -> FloatArray:
        """The record image's embedding."""
        with self._lock:
            return self.image_encoder.encode_image([image])[0]


@dataclass(frozen=True)
class Verdict:
    """The verifier's answer about one pair (``same`` is None when it gave no usable answer)."""

    same: bool | None
    call_id: int | None
    error: str | None = None


class Verifier:
    """Asks the verifier role whether two terms name the same concept (JSON ``{"same": bool}``).

    Calls run at temperature 0, so an identical question gets the call log's cached answer; the
    answers are also kept in memory for the run (the same pairs recur across records).
    """

    def __init__(self, calllog: CallLog, *, max_tokens: int = 16) -> None:
        self.calllog = calllog
        self.max_tokens = max_tokens
        self._answers: dict[tuple[str, str, str], Verdict] = {}

    def same(self, mention: str, candidate: str, kind: Kind) -> Verdict:
        """One verification; transient failures propagate, other failures are recorded."""
        key = (mention, candidate, kind)
        known = self._answers.get(key)
        if known is not None:
            return known
        messages, template = render(
            "verify_same_concept",
            entity_type=KIND_WORDS[kind],
            mention=mention,
            candidate=candidate,
        )
        try:
            result = self.calllog.call(
                messages, template=template, schema=VERIFY_SCHEMA, max_tokens=self.max_tokens
            )
            verdict = Verdict(bool(result.parsed["same"]), result.call_id)
        except TransientBackendError:
            raise
        except BackendError as exc:
            ids = re.findall(r"\d+", exc.source)
            verdict = Verdict(None, int(ids[-1]) if ids else None, exc.message)
        if len(self._answers) < MENTION_CACHE:
            self._answers[key] = verdict
        return verdict


class FuzzyMatcher:
    """Scores, ranks and verifies candidates for one mention at a time."""

    def __init__(
        self,
        vectors: EntityVectors,
        verify: Callable[[str, str, Kind], Verdict],
        *,
        top_k: int,
        min_score: float = 0.0,
        min_text_score: float = 0.0,
        keep_all: bool = False,
    ) -> None:
        self.keep_all = keep_all
        self.vectors = vectors
        self.verify = verify
        self.top_k = top_k
        self.min_score = min_score
        self.min_text_score = min_text_score
        self._text: dict[tuple[str, Kind], tuple[list[int], dict[int, float]]] = {}

    def text_scores(self, mention: str, kind: Kind) -> tuple[list[int], dict[int, float]]:
        """The mention's text candidates and text scores (kept: the same mentions recur)."""
        key = (mention, kind)
        cached = self._text.get(key)
        if cached is None:
            query = self.vectors.mention_vector(mention)
            types = (*KIND_TYPES[kind], UNTYPED)
            pool = self.vectors.text.nearest(query, types, self.top_k * CANDIDATE_FACTOR)
            cached = (pool, {e: self.vectors.text.best(e, query) or 0.0 for e in pool})
            if len(self._text) < MENTION_CACHE:
                self._text[key] = cached
        return cached

    def candidates(
        self, mention: str, kind: Kind, image_vector: FloatArray | None
    ) -> list[Candidate]:
        """The ``top_k`` best-scoring entities of the mention's kind, best first."""
        text_pool, text_scores = self.text_scores(mention, kind)
        pool = list(text_pool)
        if image_vector is not None:
            types = (*KIND_TYPES[kind], UNTYPED)
            near = self.vectors.image.nearest(image_vector, types, self.top_k * CANDIDATE_FACTOR)
            pool += [e for e in near if e not in text_scores]
        found = []
        for entity_id in pool:
            ref = self.vectors.text.entities[entity_id]
            text = text_scores.get(entity_id)
            if text is None:
                query = self.vectors.mention_vector(mention)
                text = self.vectors.text.best(entity_id, query) or 0.0
            image = None
            if image_vector is not None:
                image = self.vectors.image.best(entity_id, image_vector)
            score = text + (image or 0.0)
            found.append(Candidate(ref.id, ref.name, ref.type, text, image, score, image is None))
        found.sort(key=lambda c: (-c.score, c.entity_id))
        found = found[: self.top_k]
        for candidate in found:
            candidate.below_floor = (
                candidate.score < self.min_score or candidate.text_score < self.min_text_score
            )
        return found

    def match(self, mention: str, kind: Kind, image_vector: FloatArray | None) -> FuzzyResult:
        """Candidates at or above the floor, in score order, to the verifier: all of them (keep-all)
        or until it confirms one."""
        found = self.candidates(mention, kind, image_vector)
        confirmed: list[Candidate] = []
        for candidate in found:
            if candidate.below_floor:
                continue
            verdict = self.verify(mention, candidate.name, kind)
            candidate.verified, candidate.call_id = verdict.same, verdict.call_id
            candidate.error = verdict.error
            if verdict.same:
                confirmed.append(candidate)
                if not self.keep_all:
                    break
        chosen = confirmed[0] if confirmed else None
        text_only = chosen.text_only if chosen else all(c.text_only for c in found)
        refusal = None if chosen else self.refusal(found)
        return FuzzyResult(chosen, found, text_only, refusal, confirmed[1:])

    def refusal(self, found: list[Candidate]) -> Refusal:
        """Why no candidate of ``found`` was matched: none, all under the floor, or the verifier."""
        if not found:
            return Refusal(FUZZY_FLOOR, "no candidate", "no KG entity of this kind")
        asked = [c for c in found if not c.below_floor]
        if not asked:
            best = max(found, key=lambda c: c.text_score)
            return Refusal(
                FUZZY_FLOOR,
                "below the score floor",
                f"closest name {best.name}: text {best.text_score:.3f}, score {best.score:.3f}; "
                f"floors {self.min_text_score:g} text, {self.min_score:g} score",
            )
        if all(c.verified is None for c in asked):
            return Refusal(VERIFIER, "no usable answer", f"{len(asked)} asked")
        return Refusal(VERIFIER, "every candidate refused", f"{len(asked)} asked")
