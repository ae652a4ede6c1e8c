"""GRPO reward functions: their doctests, and hand-computed cases from the papers' examples."""

from __future__ import annotations

import doctest
import math

import pytest

from medsynth.train import rewards
from medsynth.train.rewards import (
    answer_reward,
    format_reward,
    full_path_reward,
    path_reward,
    self_check_reward,
    structured_format_reward,
)

# MedKInstruct's worked example (appendix, Table 5): KG context "chest pain # symptom # Pulmonary
# Mass # location # Lung # belong to # Respiratory System", condensed key answer "chest pain".
PATH = ["chest pain", "Pulmonary Mass", "Lung", "Respiratory System"]
KEY = "chest pain"


def total(completion: str, path: list[str] = PATH, key: str = KEY) -> float:
    """The four MedKInstruct rewards summed (weights 1), as GRPO adds them."""
    parts = [
        answer_reward([completion], key_answer=[key])[0],
        path_reward([completion], path_entities=[path])[0],
        full_path_reward([completion], path_entities=[path])[0],
        format_reward([completion])[0],
    ]
    return sum(p for p in parts if p is not None)


def test_doctests_pass() -> None:
    result = doctest.testmod(rewards)
    assert result.attempted >= 15
    assert result.failed == 0


def test_paper_answer_is_not_the_key_answer() -> None:
    """The synthesised answer of the example ("...discomfortable or pain in the chest") does not
    contain the key answer "chest pain": containment is literal (after normalisation)."""
    paper = (
        "<think>As part of the respiratory system, significant enlargement of the mass could "
        "compress surrounding structures.</think><answer>Leading to discomfortable or pain in "
        "the chest.</answer>"
    )
    assert answer_reward([paper], key_answer=[KEY]) == [0.0]
    # respiratory system only: "mass" alone does not name "Pulmonary Mass", "chest" is not
    # "chest pain", the lung is not mentioned
    assert path_reward([paper], path_entities=[PATH]) == [0.25]
    assert full_path_reward([paper], path_entities=[PATH]) == [0.0]
    assert format_reward([paper]) == [0.5]
    assert total(paper) == 0.75


def test_paper_example_complete_answer() -> None:
    """An output naming every path entity, in the think format, with the key answer: 1 + 1 + 1 +
    0.5 = 3.5, the most the four rewards give."""
    best = (
        "<think>The pulmonary mass sits in the lung, part of the respiratory system; as it grows "
        "it presses on the chest wall.</think>\n<answer>Chest pain.</answer>"
    )
    assert total(best) == 3.5


def test_path_counts_partial_and_plural_mentions() -> None:
    # Lung (as "lungs") and Respiratory System: r = 2 of |path| = 4
    text = "<think>Both lungs are part of the respiratory system.</think><answer>cough</answer>"
    assert path_reward([text], path_entities=[PATH]) == [0.5]
    assert total(text) == 0.5 + 0.5  # path 0.5, format 0.5, answer 0, full 0


def test_repeated_entities_count_once() -> None:
    assert path_reward(["lung"], path_entities=[["Lung", "lungs", "Liver"]]) == [0.5]


def test_format_reward_is_strict() -> None:
    assert format_reward(["<think>a</think><answer>b</answer> trailing"]) == [0.0]
    assert format_reward(["prefix <think>a</think><answer>b</answer>"]) == [0.0]
    assert format_reward(["<answer>b</answer><think>a</think>"]) == [0.0]
    assert format_reward(["<think>a</think><answer></answer>"]) == [0.0]
    assert format_reward(["  <think>a\nb</think>\n\n<answer>c</answer>\n"]) == [0.5]


def test_answer_reward_reads_the_last_answer_block_only() -> None:
    think_only = "<think>chest pain is likely</think><answer>cough</answer>"
    assert answer_reward([think_only], key_answer=[KEY]) == [0.0]
    unclosed = "<think>x</think><answer>chest pain"
    assert answer_reward([unclosed], key_answer=[KEY]) == [0.0]


def test_conversational_completions() -> None:
    """TRL passes conversational completions as message lists."""
    message = [{"role": "assistant", "content": "<think>lung</think><answer>Chest pain</answer>"}]
    assert answer_reward([message], key_answer=[KEY]) == [1.0]
    assert format_reward([message]) == [0.5]


# MEDSAGE's appendix trajectory (hemoperitoneum on non-contrast CT), shortened; the paper uses
# the long tag names <VISUAL> <KNOWLEDGE> <ANSWER>, our export the short ones.
MEDSAGE = (
    "This is a non-contrast axial CT image of the upper abdomen. "
    "<LOC>The left upper quadrant near the spleen, where hyperdense free fluid is present.</LOC>"
    "<VISUAL>Hyperdense free fluid adjacent to the spleen, 40-60 HU, consistent with acute "
    "blood.</VISUAL><KNOWLEDGE>- Acute intraperitoneal hemorrhage appears as hyperdense free "
    "fluid on non-contrast CT.</KNOWLEDGE><CON>Free intraperitoneal fluid with the attenuation "
    "of acute blood supports hemoperitoneum.</CON><ANSWER>Findings are consistent with acute "
    "intraperitoneal hemorrhage (hemoperitoneum).</ANSWER>"
)


def test_structured_format_paper_trajectory() -> None:
    assert structured_format_reward([MEDSAGE], reasoning=[True]) == [0.5]
    short = MEDSAGE.replace("<VISUAL>", "<VIS>").replace("</VISUAL>", "</VIS>")
    assert structured_format_reward([short], reasoning=[True]) == [0.5]
    assert answer_reward([MEDSAGE], key_answer=["hemoperitoneum"]) == [1.0]


def test_structured_format_needs_every_stage_in_order() -> None:
    no_knowledge = MEDSAGE.split("<KNOWLEDGE>")[0] + "<CON>" + MEDSAGE.split("<CON>")[1]
    assert structured_format_reward([no_knowledge], reasoning=[True]) == [0.0]
    swapped = (
        "<VIS>fluid</VIS><LOC>spleen</LOC><KNO>blood is dense</KNO><CON>bleeding</CON>"
        "<ANS>hemoperitoneum</ANS>"
    )
    assert structured_format_reward([swapped], reasoning=[True]) == [0.0]
    empty_stage = "<LOC> </LOC><VIS>fluid</VIS><KNO>k</KNO><CON>c</CON><ANS>hemoperitoneum</ANS>"
    assert structured_format_reward([empty_stage], reasoning=[True]) == [0.0]
    after = MEDSAGE + " and some text after the answer"
    assert structured_format_reward([after], reasoning=[True]) == [0.0]


def test_think_and_structured_formats_split_by_row_kind() -> None:
    rows = [True, False]
    completions = [MEDSAGE, "<think>x</think><answer>y</answer>"]
    assert structured_format_reward(completions, reasoning=rows) == [0.5, None]
    assert format_reward(completions, reasoning=rows) == [None, 0.5]


def test_self_check_bonus_only_for_a_corrected_wrong_answer() -> None:
    """MEDSAGE: r_sc = 1[a1 wrong and a2 right], scaled by alpha (0.2)."""
    first = MEDSAGE.replace(
        "Findings are consistent with acute intraperitoneal hemorrhage (hemoperitoneum).",
        "A simple splenic cyst.",
    )
    check = "<CHECK>The fluid is 40-60 HU, too dense for a cyst: it is blood.</CHECK>"
    corrected = first + check + "<ANSWER>Hemoperitoneum.</ANSWER>"
    still_wrong = first + check + "<ANSWER>A splenic cyst.</ANSWER>"
    right_then_check = MEDSAGE + check + "<ANSWER>Hemoperitoneum.</ANSWER>"
    key = ["hemoperitoneum"] * 4
    got = self_check_reward([corrected, still_wrong, right_then_check, first], key_answer=key)
    assert got == [0.2, 0.0, 0.0, 0.0]
    assert self_check_reward([corrected], key_answer=["hemoperitoneum"], alpha=0.15) == [0.15]
    # the corrected trajectory still counts as structured (the first trajectory is complete)
    assert structured_format_reward([corrected], reasoning=[True]) == [0.5]
    # the answer reward is judged on the first answer: the correction earns alpha, not 1.0
    assert answer_reward([corrected], key_answer=["hemoperitoneum"]) == [0.0]


def test_a_wrong_first_answer_never_out_scores_a_right_one() -> None:
    """Issue 16: every case of the self-check rule, with the totals a GRPO step adds up
    (answer + structured format + self-check, weights 1)."""
    first_wrong = MEDSAGE.replace(
        "Findings are consistent with acute intraperitoneal hemorrhage (hemoperitoneum).",
        "A simple splenic cyst.",
    )
    check = "<CHECK>The fluid is 40-60 HU, too dense for a cyst: it is blood.</CHECK>"
    cases = {
        "right first": MEDSAGE,
        "wrong then right": first_wrong + check + "<ANSWER>Hemoperitoneum.</ANSWER>",
        "wrong then wrong": first_wrong + check + "<ANSWER>A splenic cyst.</ANSWER>",
        "right then wrong": MEDSAGE + check + "<ANSWER>A splenic cyst.</ANSWER>",
    }
    names, completions = list(cases), list(cases.values())
    key, reasoning = ["hemoperitoneum"] * 4, [True] * 4
    parts = [
        answer_reward(completions, key_answer=key),
        structured_format_reward(completions, reasoning=reasoning),
        self_check_reward(completions, key_answer=key),
    ]
    total = {n: sum(float(p[i] or 0.0) for p in parts) for i, n in enumerate(names)}
    assert total == {
        "right first": 1.5,
        "wrong then right": 0.7,
        "wrong then wrong": 0.5,
        "right then wrong": 0.5,
    }
    assert total["right first"] > total["wrong then right"] > total["wrong then wrong"]


def test_medkinstructs_ans_tag_counts_for_the_format() -> None:
    assert format_reward(["<think>the lung</think><ans>nodule</ans>"]) == [0.5]
    assert format_reward(["<think>the lung</think><answer>nodule</answer>"]) == [0.5]
    assert format_reward(["<think>the lung</think><ans>nodule</answer>"]) == [0.0]
    assert answer_reward(["<think>x</think><ans>Nodule</ans>"], key_answer=["nodule"]) == [1.0]


def test_rows_without_a_target_or_path_are_not_applicable() -> None:
    assert answer_reward(["<answer>x</answer>"], key_answer=[""], ground_truth=[""]) == [None]
    assert path_reward(["x"], path_entities=[None]) == [None]
    assert full_path_reward(["x"], path_entities=[[]]) == [None]
    assert self_check_reward(["x"]) == [None]


@pytest.mark.parametrize("name", sorted(rewards.REWARD_FUNCS))
def test_every_reward_takes_trl_keyword_columns(name: str) -> None:
    """TRL calls each function with every dataset column plus its own extras."""
    func = rewards.REWARD_FUNCS[name]
    got = func(
        prompts=[[{"role": "user", "content": "q"}]] * 2,
        completions=["<think>lung</think><answer>chest pain</answer>", "no"],
        completion_ids=[[1], [2]],
        key_answer=[KEY, KEY],
        path_entities=[PATH, PATH],
        ground_truth=["g", "g"],
        reasoning=[False, False],
        images=[[], []],
        trainer_state=None,
    )
    assert len(got) == 2
    assert all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in got)


def test_two_pass_rollout_pieces() -> None:
    """selfcheck.py's pure parts: group-relative tau2 advantages over the retried rows only, and
    the merged batch (prompts padded on the left, completions on the right, rows picked)."""
    import torch

    from medsynth.train.selfcheck import group_advantages, merge_rows, second_prompt

    rewards_ = torch.tensor([2.0, 0.0, 1.0, 3.0])
    got = group_advantages(rewards_, torch.tensor([True, True, False, True]), 2)
    assert got[2] == 0 and got[3] == 0  # not retried; alone in its group
    assert got[0] > 0 > got[1] and float(got[0] + got[1]) == pytest.approx(0.0)

    first = {
        "prompt_ids": torch.tensor([[1, 2], [3, 4]]),
        "completion_ids": torch.tensor([[5, 6, 7], [8, 9, 0]]),
        "completion_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "advantages": torch.tensor([0.5, -0.5]),
    }
    second = {
        "prompt_ids": torch.tensor([[1, 2, 10, 11], [3, 4, 12, 13]]),
        "completion_ids": torch.tensor([[20, 21, 22, 23], [24, 0, 0, 0]]),
        "completion_mask": torch.tensor([[1, 1, 1, 1], [1, 0, 0, 0]]),
    }
    merged = merge_rows(first, second, torch.tensor([False, True]))
    assert merged["prompt_ids"].tolist() == [[0, 0, 1, 2], [3, 4, 12, 13]]
    assert merged["completion_ids"].tolist() == [[5, 6, 7, 0], [24, 0, 0, 0]]
    assert merged["completion_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert torch.equal(merged["advantages"], first["advantages"])  # set by the trainer

    prompt = [{"role": "user", "content": "Is there a nodule?"}]
    turns = second_prompt(prompt, "<ANS>no</ANS>")
    assert turns[0] == prompt[0] and turns[1]["content"] == "<ANS>no</ANS>"
    assert "<CHECK>" in turns[2]["content"] and turns[2]["role"] == "user"
