"""SLAKE is bilingual: its Chinese questions about one image are distinct questions, and the
near-duplicate pass must keep them apart (the old ASCII-only question key made every Chinese
question identical)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

from medsynth.store.runs import utc_now
from medsynth.synth.service import mark_duplicates
from medsynth.text import key_answer, question_key, similarity
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.fakes.records import add_dataset, add_record


def _zh_questions() -> dict[str, list[str]]:
    rows = json.loads(shared_path("slake", "train.json").read_text(encoding="utf-8"))
    by_image: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["q_lang"] == "zh":
            by_image[row["img_name"]].append(row["question"])
    # distinct questions only (the same question asked twice IS a duplicate)
    return {img: list({key_answer(q): q for q in qs}.values()) for img, qs in by_image.items()}


def test_no_two_distinct_chinese_questions_of_an_image_look_alike() -> None:
    pairs = 0
    for questions in _zh_questions().values():
        for a, b in itertools.combinations(questions, 2):
            pairs += 1
            assert similarity(question_key(a), question_key(b)) < 0.85, (a, b)
    assert pairs > 20_000  # every image of SLAKE's training split, not a sample of it


def test_mark_duplicates_keeps_the_chinese_questions_of_real_images(ws: Workspace) -> None:
    images = sorted(_zh_questions().items(), key=lambda kv: -len(kv[1]))[:12]
    dataset = add_dataset(ws, "slake-zh", shared_path("slake", "imgs"), "slake")
    rows = 0
    with ws.db.conn:
        for img, questions in images:
            record = add_record(ws, dataset, [img], "中文记录", key=img)
            for i, question in enumerate([*questions, questions[0]]):  # one true repeat
                ws.db.conn.execute(
                    "INSERT INTO samples (task_key, position, record_id, generator, "
                    "sample_type, question, answer, question_key, status, created_at) "
                    "VALUES (?, 0, ?, 'multihop', 'qa', ?, '答案。', ?, 'kept', ?)",
                    [
                        f"multihop:r{record}:q{i}",
                        record,
                        question,
                        question_key(question),
                        utc_now(),
                    ],
                )
                rows += 1
    marked = mark_duplicates(ws, 0.85)
    assert marked == len(images)  # exactly the planted repeat of each image
    kept = ws.db.execute("SELECT count(*) FROM samples WHERE status = 'kept'").fetchone()[0]
    assert kept == rows - len(images)
