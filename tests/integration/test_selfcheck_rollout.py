"""MEDSAGE's two-pass self-check rollout on a tiny random Llama, on the CPU: ``build_trainer``
picks :class:`SelfCheckGRPOTrainer` when ``self_check`` is on, and the per-token advantages it
trains on follow the rule (a right first answer: its tau1 only; a wrong one: alpha * r_sc on the
check tokens, tau2's group-relative outcome advantage on the rest, tau1 as zero-weight context).

A random model writes no tags, so the test scripts what the model cannot: whether an answer is
right (by the row's target and the attempt) and the self-check span (the first 2 tokens of a
second completion). Everything else (generation, the second pass, the loss) is TRL's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from medsynth.train.settings import TrainConfig, TrainOptions, resolve
from tests.conftest import text_only_lm

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

# target -> (first answer right, second answer right)
SCRIPT = {"right first": (True, None), "fixed": (False, True), "still wrong": (False, False)}
CHECK_TOKENS = 2


def spread_reward(completions: list[Any], **_: Any) -> list[float]:
    """Test-only outcome reward: the length, so two completions of a group differ."""
    return [len(str(c)) / 10 for c in completions]


def test_two_pass_rollout_masks_follow_the_rule(tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medsynth.train import grpo
    from medsynth.train.selfcheck import SelfCheckGRPOTrainer

    folder = text_only_lm(tmp_path / "lm")
    settings = resolve(
        TrainOptions(kind="grpo", self_check=True, reward_weights={"format": 0.0}),
        TrainConfig(),
        device="cpu",
        smoke=True,
        model=folder,
        data=tmp_path,
        name="sc",
        output_dir=tmp_path / "out",
    )
    settings.max_steps, settings.batch_size, settings.grad_accum = 3, 2, 1
    settings.num_generations, settings.max_completion_length = 2, 8
    assert settings.self_check and settings.self_check_alpha == 0.2

    class Scripted(SelfCheckGRPOTrainer):
        outputs: ClassVar[list[dict[str, Any]]] = []

        def judge(self, text: str, row: dict[str, Any], attempt: int) -> bool | None:
            return SCRIPT[row["key_answer"]][attempt - 1]

        def check_span(self, ids: Any) -> int:
            return min(CHECK_TOKENS, len(ids))

        def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> Any:
            out = super()._generate_and_score_completions(inputs)
            self.outputs.append({k: v for k, v in out.items() if isinstance(v, torch.Tensor)})
            return out

    rows = [
        {"prompt": [{"role": "user", "content": f"question {t}?"}], "key_answer": t} for t in SCRIPT
    ]
    # a weight of 0 drops the format reward; the old whole-sequence self-check reward is gone
    funcs, _ = grpo.reward_functions(settings)
    assert "self_check_reward" not in [f.__name__ for f in funcs]
    trainer = grpo.build_trainer(
        AutoModelForCausalLM.from_pretrained(folder),
        AutoTokenizer.from_pretrained(folder),
        Dataset.from_list(rows),
        settings,
        callbacks=[],
        extra_rewards=[spread_reward],
    )
    assert isinstance(trainer, SelfCheckGRPOTrainer)
    trainer.__class__ = Scripted  # the scripted judge on the trainer build_trainer made
    trainer.train()
    assert trainer.state.global_step == 3
    assert all(math.isfinite(h["loss"]) for h in trainer.state.log_history if "loss" in h)

    seen: set[str] = set()
    for log, out in zip(trainer.mask_log, Scripted.outputs, strict=True):
        advantages, mask = out["advantages"], out["completion_mask"]
        assert advantages.shape == mask.shape  # per-token advantages
        tau2_values = []
        for i, row in enumerate(log["rows"]):
            seen.add(row["target"])
            first, second = SCRIPT[row["target"]]
            n = int(mask[i].sum())
            assert row["first_right"] is first
            if first:  # tau1 kept: the outcome advantage on each of its tokens, no second pass
                assert row["check_tokens"] == row["tau2_tokens"] == row["context_tokens"] == 0
                assert row["tau1_tokens"] == n > 0
                assert torch.allclose(advantages[i, :n], advantages[i, 0].expand(n))
                continue
            assert row["tau1_tokens"] == 0 and row["context_tokens"] > 0
            assert row["check_tokens"] == CHECK_TOKENS and row["tau2_tokens"] == n - CHECK_TOKENS
            alpha_r_sc = 0.2 if second else 0.0
            assert row["check_advantage"] == pytest.approx(alpha_r_sc)
            assert torch.allclose(advantages[i, :CHECK_TOKENS], torch.tensor(alpha_r_sc))
            tau2 = advantages[i, CHECK_TOKENS:n]
            assert torch.allclose(tau2, torch.tensor(row["tau2_advantage"]))
            tau2_values.append(row["tau2_advantage"])
            assert torch.all(advantages[i, n:] == 0)
        if len(tau2_values) == 2:  # both of the group retried: normalised within the group
            assert sum(tau2_values) == pytest.approx(0.0, abs=1e-4)
    assert seen == set(SCRIPT)
    metrics = [h for h in trainer.state.log_history if "selfcheck/check_tokens" in h]
    assert metrics and any(h["selfcheck/check_tokens"] > 0 for h in metrics)
