"""MEDSAGE's self-check rollout (its Eq. 8-12) as a subclass of TRL's ``GRPOTrainer``.

Per prompt row the policy first samples a trajectory tau1. When its first answer a1 is right (or
the row has no target) tau1 is kept and trained on with the usual group-relative outcome
advantage. When a1 is wrong, a self-check turn (``train_self_check.jinja``) is appended after
tau1 and the same model samples a second completion: a ``<CHECK>...</CHECK>`` review followed by
a revised trajectory tau2. That row then trains on the second completion only, with per-token
advantages:

- the self-check tokens (up to and including ``</CHECK>``): ``alpha * r_sc``, where
  ``r_sc = 1[a1 wrong and a2 right]`` (Eq. 10-12);
- the tau2 tokens: the outcome rewards (the configured reward functions on tau2's text),
  normalised among the tau2 of the same prompt's group;
- everything else zero: tau1 of a wrong first answer is context in the prompt of the second pass
  and gets no gradient (our reading of "all remaining tokens receive zero advantage").

:attr:`SelfCheckGRPOTrainer.mask_log` keeps, per generation, each row's branch and how many
tokens fell in each mask class with the advantage they got; the per-step totals also go to the
trainer's metrics (``selfcheck/*``), so they are logged with the rewards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from trl import GRPOTrainer

from medsynth.prompts import render
from medsynth.train.rewards import SELF_CHECK_ALPHA, answer_reward

_CHECK_END = re.compile(r"</(check|self-check|self_check)>", re.IGNORECASE)


def self_check_turn() -> dict[str, str]:
    """The user turn that asks for the self-check and the revised trajectory.

    >>> self_check_turn()["role"], "<CHECK>" in self_check_turn()["content"]
    ('user', True)
    """
    messages, _ = render("train_self_check")
    return dict(messages[-1])


def second_prompt(prompt: list[dict[str, Any]], first: str) -> list[dict[str, Any]]:
    """The prompt of the second pass: the question, tau1 as the assistant's turn, then the
    self-check turn. Added turns take the structured form (typed parts) when the question has it,
    so that TRL places the row's images in the first user turn only.

    >>> [m["role"] for m in second_prompt([{"role": "user", "content": "Q?"}], "<ANS>a</ANS>")]
    ['user', 'assistant', 'user']
    >>> second_prompt([{"role": "user", "content": [{"type": "image"}]}], "a")[1]["content"]
    [{'type': 'text', 'text': 'a'}]
    """
    turns: list[dict[str, Any]] = [{"role": "assistant", "content": first}, self_check_turn()]
    if any(isinstance(m.get("content"), list) for m in prompt):
        turns = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in turns]
    return [*prompt, *turns]


def first_answer_right(text: str, key: Any, truth: Any) -> bool | None:
    """Whether the first answer of ``text`` is right (``answer_reward``'s matching); ``None``
    without a target.

    >>> first_answer_right("<ANS>cyst</ANS><CHECK>x</CHECK><ANS>nodule</ANS>", "nodule", "")
    False
    >>> first_answer_right("<ans>Nodule</ans>", "", "nodule"), first_answer_right("x", "", "")
    (True, None)
    """
    value = answer_reward([text], key_answer=[key], ground_truth=[truth])[0]
    return None if value is None else value == 1.0


def check_length(ids: Sequence[int], decode: Callable[[Sequence[int]], str]) -> int:
    """How many leading tokens of ``ids`` make up the self-check span (up to its closing tag);
    0 when the completion has no closed check.

    >>> words = ["<CHECK>", "bad", "</CHECK>", "<ANS>", "x", "</ANS>"]
    >>> check_length(range(6), lambda ids: "".join(words[i] for i in ids))
    3
    >>> check_length(range(2), lambda ids: "".join(words[i] for i in ids))
    0
    """
    ids = list(ids)
    if not _CHECK_END.search(decode(ids)):
        return 0
    low, high = 1, len(ids)  # the shortest prefix holding the closing tag
    while low < high:
        mid = (low + high) // 2
        if _CHECK_END.search(decode(ids[:mid])):
            high = mid
        else:
            low = mid + 1
    return low


def group_advantages(rewards: torch.Tensor, active: torch.Tensor, group: int) -> torch.Tensor:
    """GRPO's (r - mean) / (std + 1e-4) within each group of ``group`` rows, over the ``active``
    rows only (the others get 0); a group with one active row gives it 0.

    >>> group_advantages(torch.tensor([1.0, 0.0, 5.0, 9.0]), torch.tensor([1, 1, 1, 0]).bool(), 2)
    tensor([ 0.7070, -0.7070,  0.0000,  0.0000])
    """
    out = torch.zeros_like(rewards)
    for start in range(0, len(rewards), group):
        rows = torch.arange(start, min(start + group, len(rewards)))
        rows = rows[active[rows]]
        if len(rows) > 1:
            values = rewards[rows]
            out[rows] = (values - values.mean()) / (values.std() + 1e-4)
    return out


def _pad(tensor: torch.Tensor, length: int, left: bool) -> torch.Tensor:
    """``tensor`` (B, T) padded with zeros to ``length`` columns, on the left or the right."""
    extra = length - tensor.shape[1]
    if extra <= 0:
        return tensor
    pad = torch.zeros(tensor.shape[0], extra, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([pad, tensor] if left else [tensor, pad], dim=1)


def merge_rows(
    first: dict[str, Any], second: dict[str, Any], take_second: torch.Tensor
) -> dict[str, Any]:
    """One batch holding ``first``'s rows, with those where ``take_second`` is set from ``second``
    (prompts padded on the left, completion-length tensors on the right; other entries, such as
    the images' pixel values, are the same in both passes and come from ``first``)."""
    merged = dict(first)
    width = first["completion_ids"].shape[1]
    for key, value in first.items():
        other = second.get(key)
        if not isinstance(value, torch.Tensor) or not isinstance(other, torch.Tensor):
            continue
        if value.dim() != 2 or value.shape[0] != take_second.shape[0]:
            continue
        left = key.startswith("prompt")
        if not left and value.shape[1] != width:
            continue
        length = max(value.shape[1], other.shape[1])
        a, b = _pad(value, length, left), _pad(other.to(value.dtype), length, left)
        merged[key] = torch.where(take_second.unsqueeze(1).to(a.device), b, a)
    return merged


class SelfCheckGRPOTrainer(GRPOTrainer):
    """GRPO with MEDSAGE's two-pass self-check rollout (see the module docstring)."""

    def __init__(self, *args: Any, self_check_alpha: float = SELF_CHECK_ALPHA, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.self_check_alpha = self_check_alpha
        self.mask_log: list[dict[str, Any]] = []

    def judge(self, text: str, row: dict[str, Any], attempt: int) -> bool | None:
        """Whether ``text`` (attempt 1: tau1, 2: tau2) answers ``row`` right at its first answer;
        ``None`` without a target (the row is then never retried)."""
        return first_answer_right(text, row.get("key_answer"), row.get("ground_truth"))

    def check_span(self, ids: Sequence[int]) -> int:
        """How many leading tokens of a second completion are the self-check."""
        return check_length(ids, self._decode)

    def _decode(self, ids: Sequence[int]) -> str:
        processor: Any = self.processing_class
        return str(processor.decode(list(ids), skip_special_tokens=True))

    def _texts(self, output: dict[str, Any]) -> list[str]:
        ids, mask = output["completion_ids"], output["completion_mask"]
        return [self._decode(row[m.bool()].tolist()) for row, m in zip(ids, mask, strict=True)]

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        first = super()._generate_and_score_completions(inputs)
        texts = self._texts(first)
        right = [self.judge(t, x, 1) for t, x in zip(texts, inputs, strict=True)]
        retry = torch.tensor([r is False for r in right])
        adv1 = first["advantages"].reshape(-1, 1) * first["completion_mask"].float()
        if not retry.any():
            first["advantages"] = adv1
            self._log_masks(inputs, right, first["completion_mask"].sum(1), None)
            return first
        again = [
            {**x, "prompt": second_prompt(x["prompt"], t)}
            for x, t in zip(inputs, texts, strict=True)
        ]
        second = super()._generate_and_score_completions(again)
        advantages, counts = self._second_pass_advantages(second, inputs, retry)
        merged = merge_rows(first, second, retry)
        length = merged["completion_ids"].shape[1]
        merged["advantages"] = torch.where(
            retry.unsqueeze(1).to(advantages.device),
            _pad(advantages, length, left=False),
            _pad(adv1, length, left=False),
        )
        merged["num_items_in_batch"] = merged["completion_mask"].sum()
        self._log_masks(inputs, right, first["completion_mask"].sum(1), counts)
        return merged

    def _second_pass_advantages(
        self, second: dict[str, Any], inputs: list[dict[str, Any]], retry: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[Any, Any, Any, Any]]:
        """Per-token advantages of the second completions: alpha * r_sc on the check span, the
        group-normalised outcome advantage of tau2 on the rest; and the per-row counts."""
        ids, mask = second["completion_ids"], second["completion_mask"]
        checks, tau2_texts = [], []
        for row, m in zip(ids, mask, strict=True):
            kept = row[m.bool()].tolist()
            n = self.check_span(kept) if kept else 0
            checks.append(n)
            tau2_texts.append(self._decode(kept[n:]))
        rewards = self._outcome_rewards(tau2_texts, inputs).to(ids.device)
        outcome = group_advantages(rewards, retry.to(ids.device), int(self.num_generations or 1))
        fixed = [
            bool(retry[i]) and self.judge(t, inputs[i], 2) is True for i, t in enumerate(tau2_texts)
        ]
        r_sc = torch.tensor([float(f) for f in fixed], device=ids.device)
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        in_check = positions < torch.tensor(checks, device=ids.device).unsqueeze(1)
        sc_adv = (self.self_check_alpha * r_sc).unsqueeze(1)
        per_token = torch.where(in_check, sc_adv, outcome.unsqueeze(1)) * mask.float()
        n_check = torch.tensor(checks, device=ids.device)
        n_tau2 = mask.sum(1) - n_check
        return per_token, (n_check, sc_adv.squeeze(1), n_tau2, outcome)

    def _outcome_rewards(self, texts: list[str], inputs: list[dict[str, Any]]) -> torch.Tensor:
        """The weighted sum of the configured reward functions on the tau2 texts (None counts 0)."""
        columns = {k: [x.get(k) for x in inputs] for k in inputs[0] if k != "prompt"}
        prompts = [x["prompt"] for x in inputs]
        total = torch.zeros(len(texts))
        weights = self.reward_weights.tolist()
        funcs: list[Any] = list(self.reward_funcs)
        for func, weight in zip(funcs, weights, strict=True):
            values = func(prompts=prompts, completions=texts, **columns)
            total += weight * torch.tensor([float(v or 0.0) for v in values])
        return total

    def _log_masks(
        self, inputs: list[dict[str, Any]], right: list[bool | None], tau1: Any, counts: Any
    ) -> None:
        """Record each row's branch and mask-class token counts, and the totals as metrics."""
        check, check_adv, tau2, tau2_adv = counts if counts is not None else ([0] * len(right),) * 4
        rows: list[dict[str, Any]] = []
        for i, first_right in enumerate(right):
            retried = first_right is False
            rows.append(
                {
                    "target": inputs[i].get("key_answer") or inputs[i].get("ground_truth"),
                    "first_right": first_right,
                    "tau1_tokens": 0 if retried else int(tau1[i]),
                    "context_tokens": int(tau1[i])
                    if retried
                    else 0,  # tau1 as zero-advantage context
                    "check_tokens": int(check[i]) if retried else 0,
                    "check_advantage": float(check_adv[i]) if retried else 0.0,
                    "tau2_tokens": int(tau2[i]) if retried else 0,
                    "tau2_advantage": float(tau2_adv[i]) if retried else 0.0,
                }
            )
        self.mask_log.append({"step": int(self.state.global_step), "rows": rows})
        model: Any = self.model
        mode = "train" if model.training else "eval"
        for key in ("tau1_tokens", "context_tokens", "check_tokens", "tau2_tokens"):
            self._metrics[mode][f"selfcheck/{key}"].append(float(sum(int(r[key]) for r in rows)))
        self._metrics[mode]["selfcheck/retried"].append(
            float(sum(r["first_right"] is False for r in rows))
        )
