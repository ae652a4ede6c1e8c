"""A workspace holding one samples row of every kind the export meets, written straight into the
tables (migrations 2, 5 and 6) without running synthesis.

Images: ``a.png`` carries a PNG text chunk naming a patient; ``mrn-12345-doe-jane.jpg`` is a JPEG
whose EXIF names the patient and says "rotate 90°"; ``a_copy.png`` is a byte copy of ``a.png``
under another record; ``c1.png`` + ``c2.png`` make a two-image record; ``corrupt.png`` is not an
image; ``outside.png`` lies outside the dataset root.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from medsynth.kg.normalize import normalize
from medsynth.store.runs import record_reject, utc_now
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png

PATIENT = "Jane Doe MRN 12345"
JPEG_NAME = "mrn-12345-doe-jane.jpg"
SYSTEM = "You are a senior doctor teaching an intern."
ENTITIES = [
    ("Lung Cancer", "disease"),
    ("Lung", "organ"),
    ("Respiratory System", "system"),
    ("Pneumonia", "disease"),
    ("Liver", "organ"),
]
TRIPLES = [
    ("Lung Cancer", "location", "Lung"),
    ("Lung", "belong to", "Respiratory System"),
    ("Lung Cancer", "symptom", "cough"),
    ("Pneumonia", "location", "Lung"),
    ("Liver", "belong to", "Digestive System"),
]


@dataclass
class ExportFixture:
    """The workspace and the ids and files a test checks against."""

    ws: Workspace
    root: Path  # the dataset root
    samples: dict[str, int] = field(default_factory=dict)  # label -> samples.id
    records: dict[str, int] = field(default_factory=dict)  # label -> records.id
    triples: list[int] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)

    def row(self, label: str) -> dict[str, Any]:
        """The samples row of ``label``."""
        cursor = self.ws.db.execute("SELECT * FROM samples WHERE id = ?", [self.samples[label]])
        names = [c[0] for c in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def exif_jpeg(path: Path) -> Path:
    """A 48x32 colour JPEG whose EXIF names the patient and asks for a 90° rotation."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010E] = f"Patient {PATIENT}"  # ImageDescription
    exif[0x013B] = "Dr Example"  # Artist
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    Image.fromarray(pixels).save(path, "JPEG", exif=exif.tobytes(), quality=95)
    return path


def _kg(ws: Workspace) -> list[int]:
    ids = {}
    with ws.db.conn:
        for name, kind in ENTITIES:
            cursor = ws.db.conn.execute(
                "INSERT INTO entities (name, norm, type, language, source) VALUES (?, ?, ?, ?, ?)",
                [name, normalize(name), kind, "en", "test"],
            )
            ids[name] = cursor.lastrowid
        triples = []
        for head, relation, tail in TRIPLES:
            cursor = ws.db.conn.execute(
                "INSERT INTO triples (head_id, head, relation, tail, tail_id, language, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [ids[head], head, relation, tail, ids.get(tail), "en", "test"],
            )
            triples.append(int(cursor.lastrowid or 0))
    return triples


def _run(ws: Workspace, command: str) -> int:
    with ws.db.conn:
        cursor = ws.db.conn.execute(
            "INSERT INTO runs (command, config, versions, started_at, status) "
            "VALUES (?, '{}', '{}', ?, 'ok')",
            [command, utc_now()],
        )
    return int(cursor.lastrowid or 0)


def add_sample(
    fx: ExportFixture,
    label: str,
    record: str,
    generator: str,
    sample_type: str,
    question: str,
    answer: str,
    *,
    images: list[str] | str,
    key_answer: str = "",
    ground_truth: str = "",
    path_triples: list[int] | str = "[]",
    path_entities: list[str] | str = "[]",
    system: str = "",
    status: str = "kept",
    reason: str = "",
    model: str = "fake-vlm",
    template: str | None = None,
    version: str = "1",
    seed: int = 7,
    run: int = 0,
) -> int:
    """One ``samples`` row (lists are JSON-encoded; strings go in as they are)."""

    def enc(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    row = {
        "task_key": f"{generator}:{record}:{label}:{seed}",
        "position": 0,
        "record_id": fx.records[record],
        "generator": generator,
        "sample_type": sample_type,
        "question": question,
        "answer": answer,
        "key_answer": key_answer,
        "ground_truth": ground_truth,
        "path_triples": enc(path_triples),
        "path_entities": enc(path_entities),
        "images": enc(images),
        "system": system,
        "meta": "{}",
        "template": template or generator,
        "template_version": version,
        "model": model,
        "seed": seed,
        "call_ids": "[]",
        "question_key": normalize(question),
        "status": status,
        "reason": reason,
        "contamination": "[]",
        "run_id": fx.runs[run],
        "created_at": utc_now(),
    }
    with fx.ws.db.conn:
        cursor = fx.ws.db.conn.execute(
            f"INSERT INTO samples ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    fx.samples[label] = int(cursor.lastrowid or 0)
    return fx.samples[label]


def build(tmp: Path) -> ExportFixture:
    """The workspace in ``tmp/ws`` and its dataset in ``tmp/data``."""
    ws = Workspace.init(tmp / "ws")
    root = (tmp / "data").resolve()
    info = PngInfo()
    info.add_text("Comment", f"Patient {PATIENT}")
    pixels = np.random.default_rng(1).integers(0, 255, (40, 40), dtype=np.uint8)
    root.mkdir(parents=True)
    Image.fromarray(pixels).save(root / "a.png", pnginfo=info)
    shutil.copyfile(root / "a.png", root / "a_copy.png")
    exif_jpeg(root / JPEG_NAME)
    png(root / "c1.png", (24, 24), seed=11)
    png(root / "c2.png", (24, 24), seed=12)
    png(root / "g.png", (24, 24), seed=13)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    png(tmp / "outside.png", (24, 24), seed=14)

    fx = ExportFixture(ws=ws, root=root)
    fx.triples = _kg(ws)
    fx.runs = [_run(ws, "synth"), _run(ws, "synth")]
    dataset = add_dataset(ws, "clinic", root)
    for label, images in (
        ("A", ["a.png"]),
        ("B", [JPEG_NAME]),
        ("C", ["c1.png", "c2.png"]),
        ("F", ["a_copy.png"]),
        ("G", ["g.png"]),
    ):
        fx.records[label] = add_record(ws, dataset, images, f"caption of {label}")
    fx.records["H"] = add_record(ws, dataset, ["g.png"], "filtered", key="h", status="filtered")
    t1, t2, t3, t4, _t5 = fx.triples

    def at(*names: str) -> list[str]:
        return [str(root / name) for name in names]

    add_sample(
        fx, "multihop", "A", "multihop", "qa",
        "Which body system does the organ in this image belong to?",
        "The organ shown is the lung, which belongs to the respiratory system.",
        ground_truth="The organ shown is the lung, which belongs to the respiratory system.",
        images=at("a.png"), path_triples=[t1, t2],
        path_entities=["Lung Cancer", "Lung", "Respiratory System"],
    )  # fmt: skip
    add_sample(
        fx, "hardneg", "A", "hardneg", "negative",
        "Does Pneumonia appear in this image?",
        "No. Pneumonia, an infection of the lung, is not seen in this image.",
        key_answer="no", ground_truth="no", images=at("a.png"), path_triples=[t4],
        path_entities=["Pneumonia", "Lung"], template="hardneg",
    )  # fmt: skip
    add_sample(
        fx, "keyanswer", "B", "keyanswer", "rl",
        "What symptom can the disease in this image cause?", "cough",
        key_answer="cough", ground_truth="The lesion in the lung can cause a cough.",
        images=at(JPEG_NAME), path_triples=[t3], path_entities=["Lung Cancer", "cough"],
        model="fake-llm", run=1,
    )  # fmt: skip
    add_sample(
        fx, "describe", "C", "describe", "alignment",
        "Please describe these images.",
        "Two axial CT slices of the chest with a round opacity in the right lung.",
        ground_truth="Two axial CT slices of the chest with a round opacity in the right lung.",
        images=at("c1.png", "c2.png"), version="2",
    )  # fmt: skip
    add_sample(
        fx, "instruct", "B", "instruct", "instruction",
        "What should I look at first on this scan?",
        "Start with the lung fields, then compare both sides.",
        images=at(JPEG_NAME), system=SYSTEM,
    )  # fmt: skip
    add_sample(
        fx, "reasoning", "F", "reasoning", "reasoning",
        "What abnormality is seen in this image?",
        "<LOC>The right lung.</LOC><VIS>A round opacity.</VIS><KNO>Lung cancer sits in the "
        "lung.</KNO><CON>It fits a lung mass.</CON><ANS>A lung mass.</ANS>",
        key_answer="lung mass", ground_truth="A lung mass.", images=at("a_copy.png"),
        path_triples=[t1], path_entities=["Lung Cancer", "Lung"], seed=8,
    )  # fmt: skip
    add_sample(
        fx, "text_only", "C", "instruct", "instruction",
        "Why does a kidney stone cause pain in the back?",
        "It blocks the ureter, so the kidney swells and the back hurts.", images=[],
    )  # fmt: skip
    add_sample(
        fx, "rejected", "A", "multihop", "qa", "What disease is this lung cancer?", "Lung cancer.",
        images=at("a.png"), status="rejected", reason="the question names the disease",
    )  # fmt: skip
    add_sample(
        fx, "duplicate", "A", "multihop", "qa",
        "Which body system does the organ in this image belong to ?", "The respiratory system.",
        images=at("a.png"), status="duplicate", reason="near-duplicate question",
    )  # fmt: skip
    add_sample(
        fx, "contaminated", "G", "keyanswer", "rl", "Which organ is the largest here?", "liver",
        key_answer="liver", ground_truth="The liver.", images=at("g.png"),
        status="contaminated", reason="matches a SLAKE test question",
    )  # fmt: skip
    add_sample(
        fx, "missing", "A", "multihop", "qa", "What is shown?", "A lung.",
        images=at("gone.png"),
    )  # fmt: skip
    add_sample(
        fx, "escaping", "A", "multihop", "qa", "What is shown here?", "A lung.",
        images=[str(tmp / "outside.png")],
    )  # fmt: skip
    add_sample(
        fx, "bad_json", "B", "keyanswer", "rl", "What is the key finding?", "cough",
        key_answer="cough", images=at(JPEG_NAME), path_entities="[not json",
    )  # fmt: skip
    add_sample(
        fx, "corrupt", "C", "describe", "alignment", "Describe this image.", "A chest CT.",
        images=at("c1.png", "corrupt.png"),
    )  # fmt: skip
    record_reject(
        ws.db, stage="synth", source="record 1", raw="{bad", reason="model output is not JSON",
        run_id=fx.runs[0],
    )  # fmt: skip
    ws.db.conn.commit()
    return fx


EXPORTED = ["multihop", "hardneg", "keyanswer", "describe", "instruct", "reasoning", "text_only"]
SKIPPED = {
    "missing": "image 1 of 1: image file is missing",
    "escaping": "image 1 of 1: image path escapes its dataset root",
    "bad_json": "malformed JSON in path_entities",
    "corrupt": "image 2 of 2: unreadable image",
}
GRPO = ["hardneg", "keyanswer", "reasoning"]
