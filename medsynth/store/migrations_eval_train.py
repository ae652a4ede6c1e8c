"""Migrations 7 and 8: evaluation runs and their predictions, chat transcripts, training runs and
their per-step metrics."""

from __future__ import annotations

import sqlite_utils

from medsynth.store.migrations import migration


@migration(7)
def m007_eval_chat(db: sqlite_utils.Database) -> None:
    """Evaluation runs with one prediction per question (a run resumes), and chat transcripts."""
    db.table("eval_runs").create(
        {
            "id": int,
            "key": str,  # hash of everything that defines the run: the same command resumes it
            "name": str,  # label for `eval compare` (base, sft, grpo...)
            "dataset": str,  # slake | vqa-rad
            "data_file": str,  # the question file read (absolute)
            "split": str,
            "language": str,
            "answer_type": str,  # all | open | closed
            "max_questions": int,  # --limit (null: all)
            "model_spec": str,  # what --model said, and the role it became (JSON)
            "backend": str,
            "model": str,  # the backend's model name, with a weights fingerprint
            "images_seen": int,  # 0 when the model reads text only
            "template": str,
            "template_version": str,
            "options": str,  # JSON: max_tokens, think, batch size...
            "questions": int,  # questions selected
            "status": str,  # running | done | failed
            "metrics": str,  # JSON report (overall, by answer type, by question type)
            "run_id": int,  # the last command that worked on it
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"key", "dataset", "model_spec", "status"},
    )
    db.table("eval_runs").create_index(["key"], unique=True)
    db.table("eval_runs").create_index(["name"])
    db.table("eval_predictions").create(
        {
            "id": int,
            "eval_run_id": int,
            "qid": str,
            "image": str,  # relative to the dataset root
            "question": str,
            "answer": str,  # ground truth
            "answer_type": str,  # OPEN | CLOSED
            "question_type": str,  # SLAKE content_type / VQA-RAD question_type
            "prediction": str,  # raw model output
            "scored_text": str,  # the part scored (<answer> when tagged)
            "closed_correct": int,  # CLOSED questions only
            "open_recall": float,  # OPEN questions only
            "exact_match": int,
            "token_f1": float,
            "call_id": int,
            "cached": int,
            "run_id": int,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[
            ("eval_run_id", "eval_runs", "id"),
            ("call_id", "llm_calls", "id"),
            ("run_id", "runs", "id"),
        ],
        not_null={"eval_run_id", "qid", "prediction"},
    )
    db.table("eval_predictions").create_index(["eval_run_id", "qid"], unique=True)
    db.table("chat_sessions").create(
        {
            "id": int,
            "model_spec": str,
            "backend": str,
            "model": str,
            "images": str,  # JSON list of the images in use now (absolute paths)
            "kg_context": str,  # JSON list of the KG triples added with /kg
            "transcript_path": str,  # last file written by /save (relative to the workspace)
            "run_id": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db.table("chat_turns").create(
        {
            "id": int,
            "session_id": int,
            "position": int,
            "role": str,  # user | assistant | event (image switch, KG context, note)
            "content": str,  # what was said (the assistant's raw output)
            "think": str,  # assistant: the <think> part, if any
            "answer": str,  # assistant: the answer part
            "images": str,  # JSON list of image sha256s in use for this turn
            "call_id": int,
            "duration_s": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "chat_sessions", "id"), ("call_id", "llm_calls", "id")],
        not_null={"session_id", "position", "role", "content"},
    )
    db.table("chat_turns").create_index(["session_id", "position"], unique=True)


@migration(8)
def m008_training(db: sqlite_utils.Database) -> None:
    """Training runs (SFT, GRPO): provenance, memory preflight; and their per-step metrics."""
    db.table("train_runs").create(
        {
            "id": int,
            "name": str,  # the adapter's folder under adapters/; a resumed run keeps the name
            "kind": str,  # sft | grpo
            "status": str,  # running | ok | failed | interrupted | refused
            "base_model": str,  # model folder (absolute)
            "base_model_hash": str,  # fingerprint of config + weight files (see train.modeling)
            "init_adapter": str,  # grpo: the SFT adapter it starts from
            "data_path": str,  # the export's jsonl file
            "data_hash": str,  # SHA-256 over the jsonl and every image it names
            "samples": int,  # rows trained on
            "config": str,  # JSON: every setting in force (TRL arguments, LoRA, rewards...)
            "versions": str,  # JSON: torch, transformers, trl, peft, bitsandbytes...
            "device": str,  # cuda:0 (name) | cpu
            "quantization": str,  # nf4 | none
            "smoke": int,  # 1 for a smoke run (tiny model, few steps)
            "preflight": str,  # JSON: the estimate's parts, the budget and suggestions
            "estimate_bytes": int,  # estimated peak (GPU memory, or RSS on the CPU)
            "budget_bytes": int,  # memory available when the run started
            "peak_bytes": int,  # measured peak (torch.cuda max reserved, or max RSS)
            "output_dir": str,  # folder with checkpoints and the final adapter/
            "resumed_from": str,  # checkpoint folder this invocation resumed from
            "metrics": str,  # JSON: TRL's final summary (runtime, steps/s, train loss)
            "error": str,
            "run_id": int,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
        not_null={"name", "kind", "status", "base_model"},
    )
    db.table("train_runs").create_index(["name"])
    db.table("train_runs").create_index(["kind", "status"])
    db.table("train_steps").create(
        {
            "id": int,
            "train_run_id": int,
            "step": int,  # optimizer step (global, so it continues across a resume)
            "epoch": float,
            "loss": float,
            "grad_norm": float,
            "lr": float,
            "reward": float,  # grpo: weighted total, mean over the batch
            "rewards": str,  # JSON {component: mean} (grpo)
            "tokens": int,  # tokens seen so far
            "tokens_per_s": float,
            "peak_bytes": int,  # peak memory so far
            "metrics": str,  # JSON: everything else TRL logged at this step
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("train_run_id", "train_runs", "id")],
        not_null={"train_run_id", "step"},
    )
    db.table("train_steps").create_index(["train_run_id", "step"], unique=True)
