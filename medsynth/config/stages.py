"""Settings of synthesis (with its quality checks), evaluation and training."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medsynth.config.base import Section


class ChecksConfig(Section):
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


class SynthConfig(Section):
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
        5,
        ge=1,
        description="reasoning: regions of interest per question: the box, its jittered, "
        "expanded and sub-region forms, then the whole image (the whole image stays last when "
        "fewer are asked for).",
    )
    reasoning_knowledge: int = Field(
        1,
        ge=1,
        le=2,
        description="reasoning: fact selections per region (1: the record's facts; 2: also the "
        "facts nearest the question).",
    )
    reasoning_retries: int = Field(
        1,
        ge=0,
        le=3,
        description="reasoning: a failed trajectory is written again this many times (a new "
        "seed from the task key) before it is rejected.",
    )
    check_reasoning: bool = Field(
        True, description="reasoning: the verifier rejects self-contradicting trajectories."
    )
    reformat_max_tokens: int = Field(
        1024,
        ge=64,
        description="describe / instruct: token limit of the one reformatting call (description, "
        "question and answer together; PubMedVision's published answers run to 1,100 characters).",
    )
    allow_blind: bool = Field(
        False,
        description="describe / instruct: let a text-only vision_generator write them from the "
        "record text alone (PubMedVision's reformatting is meant to see the image; such samples "
        "are marked blinded). Off: those generators are refused and say why.",
    )
    duplicate_similarity: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Questions about one image whose word overlap (Jaccard) reaches this are "
        "near-duplicates: the later one is dropped.",
    )
    checks: ChecksConfig = Field(default_factory=ChecksConfig)


class EvalConfig(Section):
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


class RewardWeights(Section):
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


class TrainConfig(Section):
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
    fused_loss: Literal["auto", "off"] = Field(
        "auto", description="auto: Liger's kernels on CUDA where liger-kernel is installed."
    )
    optimizer: Literal["auto", "adamw_torch", "adamw_torch_fused", "paged_adamw_8bit"] = Field(
        "auto", description="auto: paged 8-bit AdamW on CUDA with bitsandbytes, else AdamW."
    )
    vllm: bool = Field(
        False, description="GRPO: generate with vLLM in colocate mode (needs CUDA and vllm)."
    )
    vllm_memory: float = Field(
        0.3, gt=0, lt=1, description="GRPO with vllm: share of GPU memory vLLM may take."
    )
    export_quant: Literal["q4_k_m", "q5_k_m", "q8_0", "f16"] = Field(
        "q4_k_m", description="GGUF weights of `train export` (and the TUI's export)."
    )
    export_tokenizer_fallback: str = Field(
        "",
        description="Pre-tokenizer llama.cpp's converter records for a tokenizer it does not "
        "know (e.g. gpt-2 for a byte-level BPE of your own); empty: such a tokenizer is an error.",
    )
    rewards: RewardWeights = Field(default_factory=RewardWeights)
