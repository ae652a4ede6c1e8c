"""End to end through the CLI: 30 SLAKE validation questions answered by the embedded GGUF model
and by the tiny LLaVA with a LoRA adapter trained here for a few steps, then ``eval compare``.

The models know nothing (the scores are near zero and mean nothing); what is checked is that
every question gets a stored, scored prediction, the run resumes, the text-only model is
reported as not seeing images, and the comparison table holds a difference and an interval.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from medsynth.cli import main
from medsynth.workspace import Workspace
from tests.conftest import shared_path

pytestmark = pytest.mark.slow
QUESTIONS = 30


@pytest.fixture(scope="module")
def adapter(tiny_llava: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny LLaVA, trained for a few steps on SLAKE training pairs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    torch.manual_seed(0)
    processor = AutoProcessor.from_pretrained(tiny_llava, local_files_only=True)
    base = LlavaForConditionalGeneration.from_pretrained(
        tiny_llava, local_files_only=True, dtype=torch.float32
    )
    model = get_peft_model(
        base, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    )
    slake = shared_path("slake")
    rows = [r for r in json.loads((slake / "train.json").read_text()) if r["q_lang"] == "en"][:6]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    model.train()
    for row in rows:
        image = Image.open(slake / "imgs" / row["img_name"]).convert("RGB")
        conversation = [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": image},
                    {"type": "text", "text": row["question"]},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": str(row["answer"])}]},
        ]
        inputs = processor.apply_chat_template(
            conversation, tokenize=True, return_dict=True, return_tensors="pt"
        )
        inputs["pixel_values"] = inputs["pixel_values"].to(torch.float32)
        loss = model(**inputs, labels=inputs["input_ids"].clone()).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    changed = [
        n for n, p in model.named_parameters() if "lora_B" in n and not torch.equal(p, before[n])
    ]
    assert changed, "the LoRA weights did not change"
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    assert (folder / "adapter_config.json").is_file()
    return folder


def _eval(ws: Path, model: str, name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    args = ["eval", "-d", "slake", str(shared_path("slake")), "--split", "validate"]
    args += ["-n", str(QUESTIONS), "-m", model, "--name", name, "--max-tokens", "12"]
    assert main([*args, "-w", str(ws), "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_eval_embedded_and_adapter_then_compare(
    tmp_path: Path, adapter: Path, tiny_llava: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    Workspace.init(ws).close()
    timings: dict[str, float] = {}

    started = time.perf_counter()
    base = _eval(ws, "llamacpp:embedded", "embedded", capsys)
    timings["embedded"] = time.perf_counter() - started
    assert base["predicted"] == base["questions"] == QUESTIONS
    assert base["images_seen"] is False
    assert any("NOT seen" in w for w in base["warnings"])
    overall = base["metrics"]["overall"]
    assert overall["n"] == QUESTIONS
    closed, opened = overall["closed_accuracy"]["n"], overall["open_recall"]["n"]
    assert closed + opened == QUESTIONS and closed > 0 and opened > 0
    by_type = base["metrics"]["by_question_type"]
    assert sum(block["n"] for block in by_type.values()) == QUESTIONS  # SLAKE: one type each

    started = time.perf_counter()
    tuned = _eval(ws, f"hf:{tiny_llava},adapter={adapter}", "adapter", capsys)
    timings["adapter"] = time.perf_counter() - started
    assert tuned["predicted"] == QUESTIONS
    assert tuned["images_seen"] is True
    assert tuned["backend"] == "hf" and "#" in tuned["model"]  # weights fingerprint

    again = _eval(ws, "llamacpp:embedded", "embedded", capsys)  # resumes: nothing to ask
    assert again["eval_run_id"] == base["eval_run_id"]
    assert again["asked_now"] == 0 and again["resumed_from"] == QUESTIONS
    assert again["metrics"] == base["metrics"]

    assert main(["eval", "compare", "embedded", "adapter", "-w", str(ws), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["questions_compared"] == QUESTIONS
    rows = {(r["group"], r["metric"]): r for r in table["rows"]}
    average = rows[("overall", "average")]
    assert average["values"] == [
        base["metrics"]["overall"]["average"],
        tuned["metrics"]["overall"]["average"],
    ]
    diff = average["diffs"][0]
    assert diff["diff"] == pytest.approx(average["values"][1] - average["values"][0], abs=0.011)
    low, high = diff["ci"]
    assert low <= diff["diff"] + 1e-6 and diff["diff"] - 1e-6 <= high

    assert main(["eval", "compare", "embedded", "adapter", "-w", str(ws)]) == 0
    text = capsys.readouterr().out
    assert "adapter - " in text and "text-only model" in text
    print(f"\ntimings (s): {timings}")
    print(f"embedded: {base['metrics']['overall']}")
    print(f"adapter: {tuned['metrics']['overall']}")
