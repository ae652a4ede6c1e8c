"""Training data: read an export folder (``medsynth export``) into TRL datasets.

An export holds ``sft.jsonl`` (``messages`` with typed content parts), ``grpo.jsonl`` (``prompt``
plus the reward columns ``key_answer``, ``path_entities``, ``ground_truth``, ``reasoning``) and
``images/``. Image paths are relative to the export and may not leave it. Rows that cannot be
used (bad JSON, missing fields, an image missing or outside the export) are recorded as rejects
and skipped; the load fails only when nothing is left.

SFT rows become prompt/completion pairs (every turn before the last assistant turn is the prompt),
so the loss covers the answer tokens only. GRPO prompts get the "think" instruction
(``train_think.jinja``) or, for reasoning rows, the staged one (``train_lvkc.jinja``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medsynth.errors import InputError
from medsynth.files import safe_child

FILES = {"sft": "sft.jsonl", "grpo": "grpo.jsonl"}
REQUIRED = {
    "sft": ("messages",),
    "grpo": ("prompt",),
}
REWARD_COLUMNS = ("key_answer", "path_entities", "ground_truth", "reasoning")
EXPORT_HINT = (
    "run `medsynth export` to write one into the workspace's exports/ folder, or pass --data DIR"
)


@dataclass
class Reject:
    """One unusable row: ``file:line`` and why."""

    source: str
    reason: str
    raw: str


@dataclass
class ExportData:
    """The usable rows of one export file, with their images resolved inside the export."""

    root: Path
    kind: str
    path: Path
    rows: list[dict[str, Any]]
    data_hash: str
    rejects: list[Reject] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        with_images = sum(1 for row in self.rows if row["images"])
        return {
            "rows": len(self.rows),
            "with_images": with_images,
            "text_only": len(self.rows) - with_images,
            "reasoning": sum(1 for row in self.rows if row.get("reasoning")),
            "rejected": len(self.rejects),
        }


def find_export(exports: Path, kind: str) -> Path:
    """The most recently written export under ``exports`` that has ``kind``'s file."""
    name = FILES[kind]
    candidates = [p.parent for p in exports.glob(f"*/{name}")] if exports.is_dir() else []
    if (exports / name).is_file():
        candidates.append(exports)
    if not candidates:
        raise InputError(
            f"no export with {name} in the workspace",
            source=str(exports),
            hint=EXPORT_HINT,
        )
    return max(candidates, key=lambda p: (p / name).stat().st_mtime)


def _check_parts(messages: Any) -> str | None:
    """Why ``messages`` is not a list of {role, content} turns, or None."""
    if not isinstance(messages, list) or not messages:
        return "messages/prompt must be a non-empty list"
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in {"system", "user", "assistant"}:
            return "every turn needs a role of system, user or assistant"
        content = turn.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(
            isinstance(p, dict) and p.get("type") in {"image", "text"} for p in content
        ):
            return "content must be a string or a list of image/text parts"
    return None


def _image_parts(messages: list[dict[str, Any]]) -> int:
    return sum(
        1
        for turn in messages
        if isinstance(turn.get("content"), list)
        for part in turn["content"]
        if part.get("type") == "image"
    )


def _row_problem(kind: str, row: Any) -> str | None:
    if not isinstance(row, dict):
        return "not a JSON object"
    missing = [key for key in REQUIRED[kind] if key not in row]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    messages = row[REQUIRED[kind][0]]
    problem = _check_parts(messages)
    if problem:
        return problem
    if kind == "sft" and messages[-1]["role"] != "assistant":
        return "the last turn must be the assistant's answer"
    if kind == "grpo" and messages[-1]["role"] != "user":
        return "the prompt must end with a user turn"
    images = row.get("images", [])
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        return "images must be a list of relative paths"
    if _image_parts(messages) != len(images):
        return f"{_image_parts(messages)} image part(s) but {len(images)} image path(s)"
    if kind == "grpo":
        path = row.get("path_entities", [])
        if not isinstance(path, list):
            return "path_entities must be a list"
        if not (row.get("key_answer") or row.get("ground_truth")):
            return "no key_answer or ground_truth to reward"
    return None


def load_export(root: Path, kind: str, *, limit: int | None = None) -> ExportData:
    """Read ``kind``'s file of the export at ``root``; images are checked to exist inside it."""
    root = Path(root).expanduser().resolve()
    path = root / FILES[kind]
    if not path.is_file():
        raise InputError(f"no {FILES[kind]} in this export", source=str(root), hint=EXPORT_HINT)
    raw_bytes = path.read_bytes()
    digest = hashlib.sha256(raw_bytes)
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    hashed: dict[str, str] = {}
    for number, line in enumerate(raw_bytes.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        source = f"{path.name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(source, f"invalid JSON: {exc.msg}", line[:2000]))
            continue
        problem = _row_problem(kind, row)
        images: list[str] = []
        if problem is None:
            try:
                for rel in row.get("images", []):
                    resolved = safe_child(root, root / rel)
                    if not resolved.is_file():
                        raise InputError("image file missing", source=rel)
                    images.append(str(resolved))
            except InputError as exc:
                problem = f"{exc.message}: {exc.source}"
        if problem is not None:
            rejects.append(Reject(source, problem, line[:2000]))
            continue
        for name in images:
            if name not in hashed:
                hashed[name] = hashlib.sha256(Path(name).read_bytes()).hexdigest()
        rows.append({**row, "images": images, "source": source})
        if limit is not None and len(rows) >= limit:
            break
    for name in sorted(hashed):
        digest.update(f"{Path(name).relative_to(root)}\0{hashed[name]}\n".encode())
    if not rows:
        raise InputError(
            f"no usable rows in {FILES[kind]} ({len(rejects)} rejected"
            + (f", first: {rejects[0].source}: {rejects[0].reason}" if rejects else "")
            + ")",
            source=str(path),
            hint=EXPORT_HINT,
        )
    return ExportData(root, kind, path, rows, digest.hexdigest(), rejects)


def text_of(content: Any) -> str:
    """The text of a message's content (string or typed parts)."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or "" for p in content if p.get("type") == "text")


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [
        {"type": "image"} if p.get("type") == "image" else {"type": "text", "text": p["text"]}
        for p in content
    ]


def _text_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages for a text-only model: string contents, image parts dropped."""
    return [{"role": m["role"], "content": text_of(m["content"])} for m in messages]


def sft_rows(data: ExportData, *, vision: bool) -> tuple[list[dict[str, Any]], int]:
    """Prompt/completion rows for TRL's SFTTrainer, and how many image rows a text-only model
    had to skip."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for row in data.rows:
        messages = row["messages"]
        if not vision and row["images"]:
            skipped += 1
            continue
        prompt, completion = messages[:-1], messages[-1:]
        if vision:
            rows.append(
                {
                    "images": row["images"],
                    "prompt": [
                        {"role": m["role"], "content": _parts(m["content"])} for m in prompt
                    ],
                    "completion": [
                        {"role": m["role"], "content": _parts(m["content"])} for m in completion
                    ],
                }
            )
        else:
            rows.append({"prompt": _text_turns(prompt), "completion": _text_turns(completion)})
    return rows, skipped


PromptRenderer = Callable[[str, bool], str]


def think_instruction(self_check: bool = False) -> tuple[PromptRenderer, dict[str, str]]:
    """A function turning (question, reasoning row) into the GRPO user text, and the template
    versions it uses."""
    from medsynth.prompts import render

    versions: dict[str, str] = {}

    def user_text(question: str, reasoning: bool) -> str:
        name = "train_lvkc" if reasoning else "train_think"
        messages, template = render(name, question=question, self_check=self_check)
        versions[name] = template.version
        return str(messages[-1]["content"])

    user_text("?", False)
    user_text("?", True)
    return user_text, versions


def grpo_rows(
    data: ExportData, *, vision: bool, user_text: PromptRenderer
) -> tuple[list[dict[str, Any]], int]:
    """Rows for TRL's GRPOTrainer: the prompt with the think instruction in its last user turn,
    and the reward columns; image rows are skipped for a text-only model (their count returned)."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for row in data.rows:
        if not vision and row["images"]:
            skipped += 1
            continue
        reasoning = bool(row.get("reasoning"))
        prompt = [dict(m) for m in row["prompt"]]
        last = prompt[-1]
        question = text_of(last["content"])
        instructed = user_text(question, reasoning)
        if vision:
            images = [p for p in _parts(last["content"]) if p["type"] == "image"]
            last["content"] = [*images, {"type": "text", "text": instructed}]
            prompt = [
                m if m is last else {"role": m["role"], "content": _parts(m["content"])}
                for m in prompt
            ]
        else:
            last["content"] = instructed
            prompt = [
                m if m is last else {"role": m["role"], "content": text_of(m["content"])}
                for m in prompt
            ]
        out: dict[str, Any] = {
            "prompt": prompt,
            "key_answer": str(row.get("key_answer") or ""),
            "path_entities": [str(e) for e in row.get("path_entities") or []],
            "ground_truth": str(row.get("ground_truth") or ""),
            "reasoning": reasoning,
            "id": str(row.get("id", row["source"])),
        }
        if vision:
            out["images"] = row["images"]
        rows.append(out)
    return rows, skipped


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset``; image paths become lazily decoded images."""
    from datasets import Dataset, Image, List

    dataset = Dataset.from_list(rows)
    if "images" in dataset.column_names:
        dataset = dataset.cast_column("images", List(Image()))
    return dataset


def longest_text_tokens(rows: list[dict[str, Any]], tokenizer: Any, sample: int = 2000) -> int:
    """Tokens of the longest row's text (prompt + completion), over up to ``sample`` rows."""
    longest = 0
    for row in rows[:sample]:
        turns = [*row.get("prompt", []), *row.get("completion", [])]
        text = "\n".join(text_of(m["content"]) for m in turns)
        longest = max(longest, len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return longest + 8 * 4  # role markers and template tokens, a few per turn
