"""Settings of the data stages: KG, vector index, images, ingest and grounding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medsynth.config.base import Section


class KGConfig(Section):
    """Knowledge-graph import settings."""

    default_language: str = Field(
        "en", description="Language recorded for entities and triples of files that do not say."
    )
    strict: bool = Field(
        False, description="Abort an import on the first bad row instead of recording a reject."
    )


class IndexConfig(Section):
    """Vector index settings (hnswlib, cosine space). Encoders: [models.text_encoder] and
    [models.image_encoder]."""

    hnsw_m: int = Field(16, ge=4, le=128, description="hnswlib M: graph degree.")
    ef_construction: int = Field(200, ge=10, description="hnswlib ef at build time.")
    ef_search: int = Field(
        128, ge=10, description="hnswlib ef at query time (not saved with the index file)."
    )


class ImageConfig(Section):
    """Image handling."""

    max_pixels: int = Field(
        89_478_485,
        ge=1,
        description="Refuse images larger than this many pixels (decompression-bomb guard).",
    )
    crop_min_size: int = Field(
        32, ge=1, description="Entity-image crops are padded to at least this many pixels a side."
    )


class GroundConfig(Section):
    """Grounding records into the KG (``medsynth ground``): extraction, exact and fuzzy matching."""

    extraction_policy: Literal["standard-term", "verbatim"] = Field(
        "standard-term",
        description="Extraction: standard-term (MedKInstruct's: the most likely standard medical "
        "term for each field, never blank; a study with no abnormality says normal) or "
        "verbatim (the caption's own words, none when it names nothing).",
    )
    verification: Literal["keep-all", "first"] = Field(
        "keep-all",
        description="Fuzzy stage: keep-all (MedKInstruct's: the verifier sees every candidate "
        "above the floors and every confirmed one grounds the record) or first (stop at the "
        "first confirmed candidate: fewer verifier calls).",
    )
    top_k: int = Field(
        20, ge=1, le=500, description="Fuzzy stage: KG candidates kept per mention for checking."
    )
    concurrency: int = Field(
        1, ge=1, le=256, description="Records grounded at once (model calls in flight)."
    )
    max_tokens: int = Field(
        96, ge=8, le=4096, description="Token limit of the extraction answer (a short JSON object)."
    )
    fuzzy_min_score: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="Fuzzy stage: drop candidates whose image + text score is below this before "
        "the verifier sees them (0: off). A weak separator (image similarity says nothing "
        "about two names meaning the same): the text floor below does the work.",
    )
    fuzzy_min_text_score: float = Field(
        0.45,
        ge=0.0,
        le=1.0,
        description="Fuzzy stage: never ask the verifier about a candidate whose name and "
        "aliases are less similar to the mention than this (text-encoder cosine; 0: off). "
        "Measured with MiniLM on 64 paraphrases with a known entity (demo and SLAKE KGs): "
        "every right candidate scores at least 0.48, and 0.45 drops 80 % of the wrong ones "
        "(tests/bench/bench_ground_floor.py). Measure again for another text encoder.",
    )
    mention_max_words: int = Field(
        6,
        ge=1,
        le=100,
        description="Plausibility: refuse a mention of more words than this (SLAKE's longest "
        "KG name has 5). KG names and aliases are always accepted.",
    )
    mention_max_chars: int = Field(
        48,
        ge=1,
        le=1000,
        description="Plausibility: refuse a mention of more characters than this (SLAKE's "
        "longest KG name has 37).",
    )
    mention_max_cjk_chars: int = Field(
        12,
        ge=1,
        le=1000,
        description="Plausibility: refuse a Chinese, Japanese or Korean mention of more "
        "characters than this (SLAKE's longest Chinese KG name has 10).",
    )
    mention_in_context: bool = Field(
        True,
        description="Plausibility: a mention that is not a KG name or alias must occur in the "
        "record's context (whole, or two thirds of its content words); false for records "
        "without captions.",
    )


class IngestConfig(Section):
    """Ingest filters (PubMedVision). Filtered records are kept with status 'filtered' and the
    reason; each filter is turned off on its own by the value its help names, and all of them by
    `medsynth ingest --no-filters`."""

    min_width: int = Field(
        336, ge=0, description="Filter records with an image narrower than this (0: off)."
    )
    min_height: int = Field(
        336, ge=0, description="Filter records with an image lower than this (0: off)."
    )
    min_medical_terms: int = Field(
        5,
        ge=0,
        description="Filter contexts with fewer distinct medical terms than this; the "
        "vocabulary is the KG's entity names and aliases plus the term list MedSynth ships "
        "(0: off).",
    )
    dedup_text_threshold: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="Filter a context whose text-encoder cosine similarity to an already kept "
        "context of the same dataset is at least this (0: off).",
    )
    dedup_phash_distance: int = Field(
        4,
        ge=-1,
        le=64,
        description="Filter an image whose 64-bit perceptual hash differs in at most this many "
        "bits from an already kept image of the same dataset (-1: off).",
    )
