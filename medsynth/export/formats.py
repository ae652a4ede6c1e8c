"""The four export formats, one record at a time: LLaVA JSON, ShareGPT (LLaMA-Factory, with its
``dataset_info.json``), TRL SFT and TRL GRPO JSONL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FORMATS: dict[str, str] = {
    "llava": "llava.json",
    "sharegpt": "sharegpt.json",
    "trl-sft": "sft.jsonl",
    "trl-grpo": "grpo.jsonl",
}
IMAGE_TOKEN = "<image>"
DATASET_NAME = "medsynth"  # the name in LLaMA-Factory's dataset_info.json


@dataclass
class ExportSample:
    """A checked samples row, its images already in the export (paths relative to it)."""

    id: int
    record_id: int
    generator: str
    sample_type: str
    question: str
    answer: str
    key_answer: str
    ground_truth: str
    system: str
    images: list[str]
    path_triples: list[int]
    path_entities: list[str]
    model: str
    template: str
    template_version: str
    seed: int | None
    run_id: int | None

    @property
    def reasoning(self) -> bool:
        return self.sample_type == "reasoning" or self.generator == "reasoning"


# --- one record per format -------------------------------------------------------------------


def _user_parts(s: ExportSample) -> list[dict[str, str]]:
    return [*({"type": "image"} for _ in s.images), {"type": "text", "text": s.question}]


def _chat_prompt(s: ExportSample) -> list[dict[str, Any]]:
    system = (
        [{"role": "system", "content": [{"type": "text", "text": s.system}]}] if s.system else []
    )
    return [*system, {"role": "user", "content": _user_parts(s)}]


def llava_record(s: ExportSample) -> dict[str, Any]:
    """LLaVA: one ``<image>`` line per image; LLaVA has no system turn, so a system or role-play
    text opens the human turn, after the image tokens and before the question."""
    record: dict[str, Any] = {"id": f"s{s.id}"}
    if len(s.images) == 1:
        record["image"] = s.images[0]
    elif s.images:
        record["images"] = s.images
    human = f"{IMAGE_TOKEN}\n" * len(s.images) + (f"{s.system}\n\n" if s.system else "")
    record["conversations"] = [
        {"from": "human", "value": human + s.question},
        {"from": "gpt", "value": s.answer},
    ]
    return record | {"generator": s.generator, "sample_type": s.sample_type}


def sharegpt_record(s: ExportSample) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT layout (``messages`` + ``images``)."""
    system = [{"role": "system", "content": s.system}] if s.system else []
    return {
        "id": f"s{s.id}",
        "messages": [
            *system,
            {"role": "user", "content": IMAGE_TOKEN * len(s.images) + s.question},
            {"role": "assistant", "content": s.answer},
        ],
        "images": s.images,
        "generator": s.generator,
        "sample_type": s.sample_type,
    }


def sft_record(s: ExportSample) -> dict[str, Any]:
    """TRL SFT, conversational with typed content parts (one ``{"type": "image"}`` per image)."""
    return {
        "id": f"s{s.id}",
        "images": s.images,
        "messages": [
            *_chat_prompt(s),
            {"role": "assistant", "content": [{"type": "text", "text": s.answer}]},
        ],
        "generator": s.generator,
        "sample_type": s.sample_type,
    }


def grpo_record(s: ExportSample) -> dict[str, Any]:
    """TRL GRPO: the prompt, and the columns the reward functions read."""
    return {
        "id": f"s{s.id}",
        "images": s.images,
        "prompt": _chat_prompt(s),
        "key_answer": s.key_answer or s.ground_truth,
        "path_entities": s.path_entities,
        "ground_truth": s.ground_truth or s.key_answer,
        "generator": s.generator,
        "sample_type": s.sample_type,
        "reasoning": s.reasoning,
    }


RENDER = {
    "llava": llava_record,
    "sharegpt": sharegpt_record,
    "trl-sft": sft_record,
    "trl-grpo": grpo_record,
}


def grpo_eligible(row: dict[str, Any]) -> bool:
    """Rows trl-grpo takes: a key answer (keyanswer rows; hardneg rows, whose key answer is
    "No"), or a reasoning row with its final answer in ``ground_truth``."""
    if (row["key_answer"] or "").strip():
        return True
    reasoning = row["sample_type"] == "reasoning" or row["generator"] == "reasoning"
    return reasoning and bool((row["ground_truth"] or "").strip())


def dataset_info(with_eval: bool) -> bytes:
    """LLaMA-Factory's ``dataset_info.json`` for the ShareGPT files."""

    def entry(file_name: str) -> dict[str, Any]:
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }

    info = {DATASET_NAME: entry("sharegpt.json")}
    if with_eval:
        info[f"{DATASET_NAME}_eval"] = entry("sharegpt_eval.json")
    return (json.dumps(info, indent=2) + "\n").encode()
