"""``ground``: link each kept record to KG entities and store what was found, resumably.

Per record: extraction (vision generator), then for each of disease and organ the exact stage, the
plausibility checks (:mod:`~medsynth.ground.plausible`) and, for a plausible mention the exact
stage missed, the fuzzy stage with its score floor and the verifier; then the KG triples of the
matched entities. A refused mention gets a ``matches`` row (stage ``refused``, or ``unmatched``
when the floor or the verifier refused it) and a ``rejects`` row (stage ``ground mention``) that
says why. A record's extraction, matches and triples are written in one transaction, so a killed
run leaves no half-grounded record; a record that has matches rows is done and is skipped next
time, and every model call is answered from the call log on a re-run. A record whose image cannot
be read or whose extraction fails becomes a reject and counts as unmatched; it is tried again on
the next run (an answer that failed the schema is then read back from the call log, not asked
again). Records go through :class:`medsynth.stage.Stage`: on the calling thread at concurrency 1, a
bounded pool above it, with one lock around every use of the database connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from medsynth.backends.base import BackendError, ChatModel, InvalidOutput, TransientBackendError
from medsynth.errors import InputError
from medsynth.ground import queries
from medsynth.ground.extract import Extractor, RecordImage, is_no_mention
from medsynth.ground.fuzzy import EntityVectors, FuzzyMatcher, Verifier
from medsynth.ground.model import Grounded, GroundReport, MatchRow, Rejected
from medsynth.ground.plausible import EXACT, REJECT_STAGE, MentionRules, Refusal, mention_source
from medsynth.ingest.queries import find_dataset, selection_end
from medsynth.kg.lookup import KINDS, ExactMatcher, Kind
from medsynth.kg.paths import CHAIN_RELATIONS, entity_triples, entity_type, paths_for
from medsynth.stage import Stage
from medsynth.store.db import insert_rows
from medsynth.store.runs import RunRecorder, record_reject, utc_now
from medsynth.workspace import Workspace

PAGE = 256
ARTICLE = {"disease": "a", "organ": "an"}
Progress = Callable[[int, int], Any]


class TripleRetriever:
    """Entity id -> ids of its own triples and of its location / belong-to chain up to the
    system, in English and the configured KG language (memoised; reads under ``lock``)."""

    def __init__(self, ws: Workspace, lock: threading.Lock) -> None:
        self.db = ws.db
        self.languages = tuple(dict.fromkeys(("en", ws.config.kg.default_language)))
        self.lock = lock
        self._cache: dict[int, tuple[int, ...]] = {}

    def triple_ids(self, entity_id: int) -> tuple[int, ...]:
        """Sorted triple ids retrieved for ``entity_id``."""
        cached = self._cache.get(entity_id)
        if cached is not None:
            return cached
        ids: set[int] = set()
        with self.lock:
            kind = entity_type(self.db, entity_id)
            for language in self.languages:
                ids.update(t.id for t in entity_triples(self.db, entity_id, language))
                if kind is None or kind == "system":
                    continue  # a system's paths lead down to its organs, not up a chain
                for path in paths_for(self.db, entity_id, language=language):
                    ids.update(t.id for t in path.triples if t.relation in CHAIN_RELATIONS)
        self._cache[entity_id] = result = tuple(sorted(ids))
        return result


class Grounder:
    """The per-record work of a run; DB access from any thread goes through ``lock``."""

    def __init__(
        self,
        ws: Workspace,
        run_id: int | None,
        extractor: ChatModel,
        verifier: ChatModel,
        *,
        stage: Stage | None = None,
    ) -> None:
        self.ws = ws
        self.cfg = ws.config.ground
        self.stage = stage or Stage(ws.db, run_id, concurrency=self.cfg.concurrency)
        self.lock = self.stage.lock  # one lock for every use of the connection
        models = ws.config.models
        self.extract_log = self.stage.log(
            "vision_generator", extractor, retries=models.vision_generator.retries
        )
        self.verify_log = self.stage.log("verifier", verifier, retries=models.verifier.retries)
        self.extractor = Extractor(
            self.extract_log, max_tokens=self.cfg.max_tokens, policy=self.cfg.extraction_policy
        )
        self.verifier = Verifier(self.verify_log)
        self.exact = ExactMatcher(ws.db)
        self.rules = MentionRules(
            max_words=self.cfg.mention_max_words,
            max_chars=self.cfg.mention_max_chars,
            max_cjk_chars=self.cfg.mention_max_cjk_chars,
            in_context=self.cfg.mention_in_context,
        )
        self.triples = TripleRetriever(ws, self.lock)
        self.run_id = run_id
        self._fuzzy: FuzzyMatcher | None = None

    def fuzzy(self) -> FuzzyMatcher:
        """The fuzzy matcher, loaded on first need (indexes are rebuilt if the KG changed)."""
        if self._fuzzy is None:
            with self.lock:
                if self._fuzzy is None:
                    vectors = EntityVectors(self.ws, self.exact.entities, self.cfg.top_k)
                    self._fuzzy = FuzzyMatcher(
                        vectors,
                        self.verifier.same,
                        top_k=self.cfg.top_k,
                        min_score=self.cfg.fuzzy_min_score,
                        min_text_score=self.cfg.fuzzy_min_text_score,
                        keep_all=self.cfg.verification == "keep-all",
                    )
        return self._fuzzy

    @property
    def weak_image_encoder(self) -> str | None:
        """The image encoder's name when fuzzy matching used one that knows nothing of
        medicine (the thumbnail stand-in); None when it was not used or is a real one."""
        if self._fuzzy is None:
            return None
        encoder = self._fuzzy.vectors.image_encoder
        return encoder.name if encoder.weak else None

    def ground_one(self, row: dict[str, Any]) -> Grounded | Rejected:
        """Extract, match and retrieve for one record (no writes besides the call log)."""
        record_id = row["id"]
        try:
            image = RecordImage(
                Path(row["root"]),
                row["images"],
                self.ws.config.images.max_pixels,
                row.get("image_sha256"),
            )
            found = self.extractor.extract(
                image, row["context"], derived=bool(row["context_derived"])
            )
            matches = [
                self.match(
                    kind, found.disease if kind == "disease" else found.organ, image, row["context"]
                )
                for kind in KINDS
            ]
        except InputError as exc:
            return Rejected(record_id, exc.message, str(row["images"]))
        except InvalidOutput as exc:
            return Rejected(record_id, exc.message, exc.raw)
        except TransientBackendError:
            raise
        except BackendError as exc:
            return Rejected(record_id, f"extraction failed: {exc.message}", "")
        triple_ids: set[int] = set()
        for match in matches:
            for entity_id in (match.entity_id, *match.also):
                if entity_id is not None:
                    triple_ids.update(self.triples.triple_ids(entity_id))
        return Grounded(
            record_id, found.disease, found.organ, found.call_id, matches, sorted(triple_ids)
        )

    def match(self, kind: Kind, mention: str, image: RecordImage, context: str) -> MatchRow:
        """Stage 1; the plausibility checks; stage 2 for a plausible mention stage 1 missed
        ("none" is not matched at all)."""
        if is_no_mention(mention):
            return MatchRow(kind, mention, "unmatched")
        ref = self.exact.match(mention, kind)
        if ref is not None:
            return MatchRow(kind, mention, "exact", ref.id)
        other = self.exact.match(mention, None)
        if other is not None:  # a KG name of the other kind: an organ given as the disease
            wrong_kind = Refusal(
                EXACT, f"not {ARTICLE[kind]} {kind}", f"{other.name} is a KG {other.type}"
            )
            return MatchRow(kind, mention, "refused", refusal=wrong_kind)
        refusal = self.rules.check(mention, context)
        if refusal is not None:
            return MatchRow(kind, mention, "refused", refusal=refusal)
        fuzzy = self.fuzzy()
        if image.vector is None:
            image.vector = fuzzy.vectors.image_vector(image.load())
        result = fuzzy.match(mention, kind, image.vector)
        return MatchRow(
            kind,
            mention,
            "fuzzy" if result.match else "unmatched",
            result.match.entity_id if result.match else None,
            [c.as_dict() for c in result.candidates],
            result.text_only,
            result.refusal,
            [c.entity_id for c in result.also],
        )

    def write(self, result: Grounded | Rejected) -> None:
        """Store one record's outcome in a single transaction."""
        now = utc_now()
        with self.lock, self.ws.db.conn:
            if isinstance(result, Rejected):
                record_reject(
                    self.ws.db,
                    stage="ground",
                    source=f"record {result.record_id}",
                    raw=result.raw,
                    reason=result.reason,
                    run_id=self.run_id,
                )
                return
            conn = self.ws.db.conn
            record_id, run_id = result.record_id, self.run_id
            extraction = {
                "record_id": record_id,
                "disease": result.disease,
                "organ": result.organ,
                "call_id": result.call_id,
                "run_id": run_id,
                "created_at": now,
            }
            insert_rows(conn, "extractions", [extraction], conflict="REPLACE")
            matches = [
                {
                    "record_id": record_id,
                    "kind": m.kind,
                    "mention": m.mention,
                    "stage": m.stage,
                    "entity_id": m.entity_id,
                    "candidates": json.dumps(m.candidates, ensure_ascii=False),
                    "text_only": int(m.text_only),
                    "run_id": run_id,
                    "created_at": now,
                }
                for m in result.matches
            ]
            insert_rows(conn, "matches", matches, conflict="IGNORE")
            for m in result.matches:
                if m.refusal is not None:
                    record_reject(
                        self.ws.db,
                        stage=REJECT_STAGE,
                        source=mention_source(result.record_id, m.kind),
                        raw=m.mention,
                        reason=m.refusal.reason,
                        run_id=self.run_id,
                    )
            triples = [{"record_id": record_id, "triple_id": t} for t in result.triple_ids]
            insert_rows(conn, "record_triples", triples, conflict="IGNORE")


def _pending(
    grounder: Grounder, dataset_id: int | None, end: int | None
) -> Iterator[dict[str, Any]]:
    """Records still to ground (up to record ``end``), in id order, read a page at a time."""
    last = 0
    while True:
        with grounder.lock:
            rows = queries.ungrounded_records(grounder.ws.db, dataset_id, end, last, PAGE)
        if not rows:
            return
        yield from rows
        last = rows[-1]["id"]


def ground(
    ws: Workspace,
    dataset: str | None = None,
    limit: int | None = None,
    *,
    extractor: ChatModel | None = None,
    verifier: ChatModel | None = None,
    progress: Progress | None = None,
) -> GroundReport:
    """Ground the kept records that have no matches yet (all datasets, or one); resumable.

    ``limit``: the first N kept records (see :func:`selection_end`), not N more."""
    from medsynth.backends.registry import EMBEDDED_WARNING, chat_model, is_embedded

    cfg = ws.config.ground
    dataset_id = find_dataset(ws, dataset)
    end = selection_end(ws, dataset_id, limit)
    total = queries.ungrounded_count(ws.db, dataset_id, end)
    config = {"dataset": dataset, "limit": limit, "ground": cfg.model_dump()}
    config["models"] = {
        r: getattr(ws.config.models, r).model_dump() for r in ("vision_generator", "verifier")
    }
    report = GroundReport()
    started = time.perf_counter()
    with RunRecorder(ws.db, "ground", config) as run:
        report.run_id = run.run_id
        grounder = Grounder(
            ws,
            run.run_id,
            extractor or chat_model(ws.config, "vision_generator"),
            verifier or chat_model(ws.config, "verifier"),
        )
        report.with_image = grounder.extractor.with_image
        report.policy = {"extraction": cfg.extraction_policy, "verification": cfg.verification}
        if not report.with_image:
            report.warnings.append(
                "the vision_generator model cannot read images: extraction used the context "
                "text alone (set mmproj, or use a vision model, in [models.vision_generator])"
            )
        if extractor is None and is_embedded(ws.config.models.vision_generator):
            report.warnings.append(EMBEDDED_WARNING)

        def store(_row: dict[str, Any], result: Grounded | Rejected) -> None:
            grounder.write(result)
            report.add(result)
            if progress is not None:
                progress(report.records, total)

        # ground_one turns a record's own failures into a Rejected: any error that reaches the
        # runner (the server is down, a bug) stops the run once the answers in flight are written
        grounder.stage.run(_pending(grounder, dataset_id, end), grounder.ground_one, store=store)
        weak = grounder.weak_image_encoder
        if weak is not None:
            report.warnings.append(
                f"image scores come from {weak}: it knows nothing about medicine; "
                "set [models.image_encoder] to a BiomedCLIP folder for real image similarity"
            )
        for name, log in (("extractor", grounder.extract_log), ("verifier", grounder.verify_log)):
            report.model_calls[name] = log.model_calls
            report.cache_hits[name] = log.cache_hits
        report.seconds = time.perf_counter() - started
        run.summary = report.as_dict()
    return report
