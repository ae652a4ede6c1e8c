"""A grounded workspace for synthesis tests (tiny KG, entity images, records with their grounding
rows written directly), a scripted model that answers every synthesis prompt, and a synthesis
run that a test can start in a subprocess and kill."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

from medsynth.backends.base import Message
from medsynth.ground.service import TripleRetriever
from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.service import import_kg, link_entity_images
from medsynth.store.runs import utc_now
from medsynth.workspace import Workspace
from tests.fakes.records import add_dataset, add_record, png
from tests.unit.test_ground_stages import ENTITY_IMAGES, KG_TSV

DISEASES = ("Lung Cancer", "Kidney Stone", "Pneumonia", "Liver Cyst", "Pulmonary Mass")
ORGANS = ("Lung", "Kidney", "Lung", "Liver", "Lung")


def make_kg(folder: Path) -> Workspace:
    """Workspace with the tiny KG and entity images (the image index builds on first use)."""
    folder.mkdir(parents=True, exist_ok=True)
    ws = Workspace.init(folder / "ws")
    (folder / "kg.tsv").write_text(KG_TSV, encoding="utf-8")
    import_kg(ws, folder / "kg.tsv", "triples")
    for name, seeds in ENTITY_IMAGES.items():
        for seed in seeds:
            png(folder / "entity_images" / name / f"{seed}.png", seed=seed)
    link_entity_images(ws, folder / "entity_images", "folders")
    return ws


def ground_record(ws: Workspace, record_id: int, disease: str, organ: str) -> None:
    """Grounding rows as ``ground`` writes them (exact matches, retrieved triples)."""
    matcher = ExactMatcher(ws.db)
    retriever = TripleRetriever(ws, threading.Lock())
    now = utc_now()
    triples: set[int] = set()
    with ws.db.conn:
        ws.db.conn.execute(
            "INSERT INTO extractions (record_id, disease, organ, created_at) VALUES (?, ?, ?, ?)",
            [record_id, disease, organ, now],
        )
        for kind, mention in (("disease", disease), ("organ", organ)):
            ref = matcher.match(mention, kind)  # type: ignore[arg-type]
            ws.db.conn.execute(
                "INSERT INTO matches (record_id, kind, mention, stage, entity_id, candidates, "
                "text_only, created_at) VALUES (?, ?, ?, ?, ?, '[]', 0, ?)",
                [
                    record_id,
                    kind,
                    mention,
                    "exact" if ref else "unmatched",
                    ref.id if ref else None,
                    now,
                ],
            )
            if ref is not None:
                triples.update(retriever.triple_ids(ref.id))
        ws.db.conn.executemany(
            "INSERT INTO record_triples (record_id, triple_id) VALUES (?, ?)",
            [(record_id, t) for t in sorted(triples)],
        )


def make_records(ws: Workspace, folder: Path, count: int, **extra: Any) -> list[int]:
    """``count`` grounded records cycling through DISEASES (SLAKE-like QA on every third)."""
    dataset_id = add_dataset(ws, "cases", folder / "data")
    ids = []
    for n in range(count):
        png(folder / "data" / f"{n}.png", size=(80, 60), seed=500 + n)
        disease, organ = DISEASES[n % len(DISEASES)], ORGANS[n % len(ORGANS)]
        meta: dict[str, Any] = {}
        if n % 3 == 2:
            meta = {
                "boxes": [{"label": organ, "box": [10, 10, 30, 20]}],
                "qa": [
                    {
                        "qid": 1000 + n,
                        "question": f"Is the {organ.lower()} abnormal?",
                        "answer": "Yes",
                        "answer_type": "CLOSED",
                    },
                    {
                        "qid": 2000 + n,
                        "question": "Which organ is shown?",
                        "answer": organ,
                        "answer_type": "OPEN",
                    },
                ],
            }
        record_id = add_record(
            ws,
            dataset_id,
            [f"{n}.png"],
            f"case-{n:03d}: CT showing {disease.lower()}.",
            meta=meta | extra,
        )
        ground_record(ws, record_id, disease, organ)
        ids.append(record_id)
    return ids


def _digest(text: str) -> str:
    """Six letters naming ``text`` (letters only: a tag is never read as a number)."""
    return (
        hashlib.sha256(text.encode())
        .hexdigest()[:6]
        .translate(str.maketrans("0123456789", "ghijklmnop"))
    )


def reply(messages: list[Message]) -> str:
    """A valid, prompt-dependent answer to every synthesis prompt (deterministic)."""
    system = str(messages[0]["content"]) if messages else ""
    user = str(messages[-1]["content"])
    tag = _digest(user)
    if "teaching questions" in system:
        chain = user.split("Chain of facts", 1)[-1]
        last = chain.split("->")[-1].split("\n")[0].strip() if "->" in chain else "the region"
        return json.dumps(
            {
                "question": f"What does finding {tag} imply here?",
                "answer": f"It follows the chain {_digest(chain)} to {last}. The facts support it.",
            }
        )
    if "key answer" in system:
        answer = user.split("Full answer:", 1)[-1]
        key = answer.split(" to ", 1)[1].split(".")[0] if " to " in answer else answer.split()[0]
        return json.dumps({"key_answer": key.strip()})
    if "medical imaging expert" in system:
        return json.dumps(
            {
                "description": f"An axial CT slice {tag} showing the organs of the region with "
                "a focal abnormality and otherwise normal structures throughout the image.",
                "question": f"What stands out in scan {tag}?",
                "answer": "A focal abnormality stands out.",
            }
        )
    if "radiologist's reasoning" in system:  # MEDSAGE's chained steps, one key each
        for cue, key, text in (
            ("write the first step", "localization", f"Look at region {tag}."),
            ("write the second step", "visual_analysis", "A rounded area of different density."),
            ("write the third step", "knowledge", "The facts name where it lies."),
            ("write the last step", "conclusion", "Together these support the given answer."),
        ):
            if cue in system:
                return json.dumps({key: text})
    if "You check" in system:
        return json.dumps({"consistent": True, "reason": "stages agree"})
    raise AssertionError(f"unexpected prompt: {system[:80]}")


def kill_target(workspace: str, latency: float, limit: int | None = None) -> None:
    """Synthesise with scripted models (every generator) until killed."""
    from medsynth.backends.fake import ScriptedChat
    from medsynth.synth.service import synthesize

    ws = Workspace.open(Path(workspace))
    model = ScriptedChat(reply, latency_s=latency)
    synthesize(
        ws, models={"generator": model, "vision_generator": model, "verifier": model}, limit=limit
    )


if __name__ == "__main__":
    kill_target(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
