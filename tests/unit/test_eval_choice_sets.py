"""PathVQA, PMC-VQA and OmniMedVQA loaders against small files written in the released formats,
multiple-choice scoring, and closed questions put as multiple choice."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from PIL import Image

from medsynth.backends.base import Message
from medsynth.errors import InputError
from medsynth.eval.choice_sets import as_choices
from medsynth.eval.loaders import EvalQuestion, load_eval_set
from medsynth.eval.metrics import chosen_option, score
from medsynth.prompts import render
from medsynth.workspace import Workspace


def _png(path: Path, shade: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), shade).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _pmc(root: Path) -> Path:
    header = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D",
              "Answer_label"]  # fmt: skip
    rows = [
        [
            "PMC1_fig1.jpg",
            "Which imaging modality?",
            "MRI",
            "A:CT",
            "B:MRI",
            "C:X-ray",
            "D:PET",
            "B",
        ],
        [
            "PMC2_fig3.jpg",
            "Where is the lesion?",
            " Left lobe",
            " A: Left lobe",
            " B: Right lobe",
            " C: Hilum",
            " D: Apex",
            "A",
        ],
        ["", "No figure", "x", "A:x", "B:y", "", "", "A"],
        ["../escape.jpg", "Outside?", "A", "A:a", "B:b", "", "", "A"],
    ]
    with (root / "test_clean.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows[:3])
    _png(root / "images" / "PMC1_fig1.jpg")
    _png(root / "images" / "PMC2_fig3.jpg")
    return root


def test_pmc_vqa_reads_the_csv_release(tmp_path: Path) -> None:
    evalset = load_eval_set("pmc-vqa", _pmc(tmp_path))
    first, second = evalset.questions
    assert first.choices == ("CT", "MRI", "X-ray", "PET") and first.answer == "MRI"
    assert second.choices[0] == "Left lobe" and second.answer == "Left lobe"
    assert first.answer_type == "CLOSED" and first.image == "images/PMC1_fig1.jpg"
    assert evalset.image_path(first).is_file()
    assert evalset.problems == [("test_clean.csv:4", "row without Figure_path")]


def test_pmc_vqa_refuses_a_path_escaping_the_root(tmp_path: Path) -> None:
    (tmp_path / "pmc").mkdir()
    root = _pmc(tmp_path / "pmc")
    with (root / "test_clean.csv").open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(["../../x.jpg", "Q?", "a", "A:a", "B:b", "", "", "A"])
    with pytest.raises(InputError, match="escapes"):
        load_eval_set("pmc-vqa", root)


def _omni(root: Path) -> Path:
    rows = [
        {
            "question_id": "q1",
            "question_type": "Modality Recognition",
            "question": "What is it?",
            "gt_answer": "CT",
            "image_path": "Images/Set/1.png",
            "option_A": "MRI",
            "option_B": "CT",
            "modality_type": "CT",
            "dataset": "Set",
        },
        {
            "question_id": "q2",
            "question_type": "Anatomy Identification",
            "question": "Organ?",
            "gt_answer": "Liver",
            "image_path": "Images/Set/2.png",
            "option_A": "Liver",
            "option_B": "Spleen",
            "option_C": "Kidney",
            "option_D": "Lung",
        },
        {
            "question_id": "q3",
            "question": "Bad",
            "gt_answer": "Heart",
            "image_path": "Images/Set/2.png",
            "option_A": "Liver",
            "option_B": "Spleen",
        },
    ]
    qa = root / "QA_information" / "Open-access"
    qa.mkdir(parents=True)
    (qa / "Set.json").write_text(json.dumps(rows), encoding="utf-8")
    _png(root / "Images" / "Set" / "1.png")
    _png(root / "Images" / "Set" / "2.png")
    return root


def test_omnimedvqa_reads_the_json_release(tmp_path: Path) -> None:
    evalset = load_eval_set("omnimedvqa", _omni(tmp_path))
    assert [q.qid for q in evalset.questions] == ["q1", "q2"]
    assert evalset.questions[0].choices == ("MRI", "CT")
    assert evalset.questions[1].question_type == "Anatomy Identification"
    assert evalset.problems == [("Set.json[2]", "gt_answer is none of the options")]
    one_file = load_eval_set("omnimedvqa", tmp_path / "QA_information/Open-access/Set.json")
    assert evalset.image_path(one_file.questions[0]) == one_file.image_path(one_file.questions[0])


def _pathvqa(data: Path) -> tuple[Path, bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data.mkdir(parents=True)
    image = _png(data / "scratch.png", 90)
    table = pa.table(
        {
            "image": [{"bytes": image, "path": "img_0.png"}, {"bytes": image, "path": "i.png"}],
            "question": ["Is there necrosis?", "What stain is used?"],
            "answer": ["yes", "hematoxylin and eosin"],
        }
    )
    pq.write_table(table, data / "test-00000-of-00001.parquet")
    return data, image


def test_pathvqa_reads_parquet_and_writes_images_owner_only(tmp_path: Path) -> None:
    data, image = _pathvqa(tmp_path / "pathvqa" / "data")
    cache = tmp_path / "cache"
    evalset = load_eval_set("pathvqa", data, image_cache=cache)
    closed, opened = evalset.questions
    assert (closed.answer_type, opened.answer_type) == ("CLOSED", "OPEN")
    path = evalset.image_path(closed)
    assert path.read_bytes() == image and path.parent.parent == cache.resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(list((cache / "pathvqa").iterdir())) == 1  # the same image is written once


def test_pathvqa_needs_a_cache_and_refuses_pickles(tmp_path: Path) -> None:
    data, _ = _pathvqa(tmp_path / "data")
    with pytest.raises(InputError, match="folder to go to"):
        load_eval_set("pathvqa", data)
    old = tmp_path / "pvqa"
    old.mkdir()
    (old / "test_vqa.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(InputError, match="never loads pickle"):
        load_eval_set("pathvqa", old, image_cache=tmp_path / "c")


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [("B", True), ("(b)", True), ("Option B", True), ("b) CT", True), ("It is a CT.", True),
     ("A", False), ("MRI", False), ("CT or MRI", False), ("", False), ("E", False)],
)  # fmt: skip
def test_multiple_choice_scoring(prediction: str, expected: bool) -> None:
    scored = score(prediction, "CT", "CLOSED", choices=("MRI", "CT", "X-ray"))
    assert scored["closed_correct"] is expected


def test_chosen_option_prefers_the_longest_named_option() -> None:
    assert chosen_option("a right lobe mass", ["lobe", "right lobe"]) == "right lobe"


def test_closed_questions_as_choices_and_the_prompt_lists_them() -> None:
    def q(qid: str, question: str, answer: str, kind: str = "CLOSED") -> EvalQuestion:
        return EvalQuestion("slake", qid, f"{qid}.png", question, answer, kind, "", "en", "")

    put = as_choices(
        [
            q("1", "Which modality is this?", "CT"),
            q("2", "which modality is this", "MRI"),
            q("3", "Is the liver normal?", "Yes"),
            q("4", "Which side?", "Left"),
            q("5", "What organ?", "Liver", "OPEN"),
        ]
    )
    assert [x.choices for x in put] == [("CT", "MRI"), ("CT", "MRI"), ("Yes", "No"), (), ()]
    messages, _ = render(
        "eval_vqa", question=put[0].question, with_image=True, think=False, choices=put[0].choices
    )
    assert "A. CT\nB. MRI" in messages[-1]["content"]
    assert "letter" in messages[0]["content"]


def test_multiple_choice_runs_end_to_end(ws: Workspace, tmp_path: Path) -> None:
    from medsynth.backends.fake import ScriptedChat
    from medsynth.eval.runner import EvalRequest, run_eval

    def letter_b(messages: list[Message]) -> str:
        assert "A. " in str(messages[-1]["content"]) and "letter" in str(messages[0]["content"])
        return "B"

    root = tmp_path / "pmc"
    root.mkdir()
    request = EvalRequest(dataset="pmc-vqa", path=_pmc(root), model="b")
    result = run_eval(ws, request, model=ScriptedChat(letter_b))
    assert result["metrics"]["overall"]["closed_accuracy"] == {"value": 50.0, "n": 2}  # B, A
    data, _ = _pathvqa(tmp_path / "pvqa" / "data")
    request = EvalRequest(dataset="pathvqa", path=data, model="yes")
    result = run_eval(ws, request, model=ScriptedChat(lambda m: "yes"))
    assert result["metrics"]["overall"]["closed_accuracy"] == {"value": 100.0, "n": 1}
    assert any((ws.path("cache") / "eval-images" / "pathvqa").iterdir())
