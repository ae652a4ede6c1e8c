"""Grounding's two stages on a tiny KG with the real MiniLM text index and the thumbnail image
index; the extractor and verifier are scripted, so nothing here depends on a model's quality."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from medsynth.backends.base import Message
from medsynth.backends.fake import ScriptedChat
from medsynth.cli import main
from medsynth.cli.ground import print_run
from medsynth.ground import GroundReport, ground, ground_report
from medsynth.kg.lookup import ExactMatcher
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.workspace import Workspace
from tests.conftest import write
from tests.fakes.records import add_dataset, add_record, png, script_reply

KG_TSV = """head\trelation\ttail\thead_type\ttail_type
Lung Cancer\tlocation\tLung\tdisease\torgan
Lung Cancer\talias\tbronchial carcinoma\tdisease\t
Lung Cancer\tsymptom\tpersistent cough\tdisease\t
Pulmonary Mass\tlocation\tLung\tdisease\torgan
Pulmonary Mass\tdescription\ta solid lesion in the lung\tdisease\t
Pneumonia\tlocation\tLung\tdisease\torgan
Pneumonia\tsymptom\tfever and cough\tdisease\t
Kidney Stone\tlocation\tKidney\tdisease\torgan
Kidney Stone\tsymptom\tflank pain\tdisease\t
Liver Cyst\tlocation\tLiver\tdisease\torgan
Lung\tbelong to\tRespiratory System\torgan\tsystem
Kidney\tbelong to\tUrinary System\torgan\tsystem
Liver\tbelong to\tDigestive System\torgan\tsystem
"""
# Entity images (seed per file); Liver Cyst has none, so it scores on text alone.
ENTITY_IMAGES = {
    "Lung Cancer": (1, 2),
    "Pulmonary Mass": (3, 4),
    "Pneumonia": (5,),
    "Kidney Stone": (6,),
    "Lung": (7,),
    "Kidney": (8,),
    "Liver": (9,),
}
ANSWERS = {
    "case-1": {"disease": "Lung Cancer", "organ": "Lung"},
    "case-2": {"disease": "bronchial carcinoma", "organ": "lungs"},
    "case-3": {"disease": "KIDNEY STONES", "organ": "Kidney"},
    "case-4": {"disease": "lung mass", "organ": "none"},
    "case-5": {"disease": "spaceship", "organ": "Liver"},
}
DISEASES = {"Lung Cancer", "Pulmonary Mass", "Pneumonia", "Kidney Stone", "Liver Cyst"}


def verifier_reply(messages: list[Message]) -> str:
    """Says "same" only for lung mass / Pulmonary Mass."""
    text = str(messages[-1]["content"])
    same = "First term: lung mass" in text and "Second term: Pulmonary Mass" in text
    return json.dumps({"same": same})


def extractor_reply(messages: list[Message]) -> str:
    """Known answers by case; case-6 answers with something that is not JSON at all."""
    if "case-6" in str(messages[-1]["content"]) or "cannot be used" in str(messages[-1]):
        return "I think this shows a lung."
    reply: str = script_reply(ANSWERS)(messages)
    return reply


def make_kg(tmp: Path) -> Workspace:
    """Workspace with the tiny KG, entity images (folders layout) and both indexes."""
    ws = Workspace.init(tmp / "ws")
    import_kg(ws, write(tmp / "kg.tsv", KG_TSV), "triples")
    for name, seeds in ENTITY_IMAGES.items():
        for seed in seeds:
            png(tmp / "entity_images" / name / f"{seed}.png", seed=seed)
    link_entity_images(ws, tmp / "entity_images", "folders")
    build_indexes(ws)
    return ws


def make_records(ws: Workspace, tmp: Path) -> dict[str, int]:
    """Records case-1..7 (case-4's image is one of Lung Cancer's; case-7 has no file)."""
    data = tmp / "data"
    ids = {}
    for n in range(1, 7):
        png(data / f"case-{n}.png", seed=100 + n)
    shutil.copy(tmp / "entity_images" / "Lung Cancer" / "1.png", data / "case-4.png")
    dataset_id = add_dataset(ws, "tiny", data)
    for n in range(1, 8):
        # the fuzzy-stage mentions occur in their captions: grounding refuses mentions that
        # are neither KG names nor found in the record's text (test_ground_plausible.py)
        caption = {4: "a scan with a lung mass", 5: "a scan of a spaceship"}.get(n, "a scan")
        ids[f"case-{n}"] = add_record(ws, dataset_id, [f"case-{n}.png"], f"case-{n}: {caption}")
    return ids


@dataclass
class Grounded:
    ws: Workspace
    ids: dict[str, int]
    report: GroundReport
    extractor: ScriptedChat
    verifier: ScriptedChat

    def match(self, case: str, kind: str) -> dict[str, Any]:
        row = next(
            self.ws.db.query(
                "SELECT m.*, e.name AS entity FROM matches m LEFT JOIN entities e "
                "ON e.id = m.entity_id WHERE record_id = ? AND kind = ?",
                [self.ids[case], kind],
            )
        )
        row["candidates"] = json.loads(row["candidates"])
        return row


@pytest.fixture(scope="module")
def grounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grounded]:
    tmp = tmp_path_factory.mktemp("ground")
    ws = make_kg(tmp)
    ids = make_records(ws, tmp)
    extractor, verifier = ScriptedChat(extractor_reply), ScriptedChat(verifier_reply)
    report = ground(ws, extractor=extractor, verifier=verifier)
    yield Grounded(ws, ids, report, extractor, verifier)
    ws.close()


def test_exact_stage_names_aliases_and_variants(grounded: Grounded) -> None:
    expected = {
        ("case-1", "disease"): "Lung Cancer",
        ("case-1", "organ"): "Lung",
        ("case-2", "disease"): "Lung Cancer",  # alias
        ("case-2", "organ"): "Lung",  # plural
        ("case-3", "disease"): "Kidney Stone",  # case and plural
        ("case-3", "organ"): "Kidney",
        ("case-5", "organ"): "Liver",
    }
    for (case, kind), name in expected.items():
        row = grounded.match(case, kind)
        assert (row["stage"], row["entity"]) == ("exact", name), (case, kind)
        assert row["candidates"] == []
    assert grounded.match("case-4", "organ")["stage"] == "unmatched"  # "none": skipped


def test_exact_matcher_keeps_to_the_kind(grounded: Grounded) -> None:
    matcher = ExactMatcher(grounded.ws.db)
    assert matcher.match("Liver", "disease") is None
    liver = matcher.match("liver", "organ")
    assert liver is not None and liver.type == "organ"
    system = matcher.match("respiratory systems", "organ")
    assert system is not None and system.name == "Respiratory System"
    assert matcher.match("Bronchial Carcinoma", "disease").name == "Lung Cancer"  # type: ignore[union-attr]


def test_near_synonym_reaches_fuzzy_and_the_verifier_picks_it(grounded: Grounded) -> None:
    row = grounded.match("case-4", "disease")
    assert (row["stage"], row["entity"]) == ("fuzzy", "Pulmonary Mass")
    candidates = row["candidates"]
    assert {c["name"] for c in candidates} == DISEASES  # disease entities only, all five
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True)
    for c in candidates:
        assert c["score"] == pytest.approx(c["text_score"] + (c["image_score"] or 0), abs=2e-4)
    by_name = {c["name"]: c for c in candidates}
    # The record's image is one of Lung Cancer's: it ranks first, and the verifier refuses it.
    assert by_name["Lung Cancer"]["image_score"] == pytest.approx(1.0, abs=1e-3)
    assert candidates[0]["name"] == "Lung Cancer"
    assert by_name["Pulmonary Mass"]["text_score"] > by_name["Lung Cancer"]["text_score"]
    assert by_name["Liver Cyst"]["text_only"] is True
    assert by_name["Liver Cyst"]["image_score"] is None
    assert by_name["Pulmonary Mass"]["text_only"] is False
    assert row["text_only"] == 0
    chosen = [c["name"] for c in candidates].index("Pulmonary Mass")
    assert chosen >= 1
    assert [c["verified"] for c in candidates[:chosen]] == [False] * chosen
    assert candidates[chosen]["verified"] is True
    # keep-all (the default, MedKInstruct's rule): every candidate above the floors is asked
    asked = [c for c in candidates if not c.get("below_floor")]
    assert all(c["verified"] is not None and c["call_id"] for c in asked)
    for c in asked:
        call = next(grounded.ws.db.query("SELECT * FROM llm_calls WHERE id = ?", [c["call_id"]]))
        assert (call["role"], call["template"]) == ("verifier", "verify_same_concept")
        assert c["name"] in call["messages"]


def test_unknown_term_is_unmatched_with_every_candidate_under_the_floor(
    grounded: Grounded,
) -> None:
    row = grounded.match("case-5", "disease")
    assert (row["stage"], row["entity_id"]) == ("unmatched", None)
    assert len(row["candidates"]) == 5
    # no KG name is near "spaceship": every candidate is under the text floor, none is asked
    assert all(c["below_floor"] and c["verified"] is None for c in row["candidates"])
    assert all(c["text_score"] < 0.45 for c in row["candidates"])
    assert not any("spaceship" in str(c["messages"]) for c in grounded.verifier.calls)
    reason = grounded.ws.db.execute(
        "SELECT reason FROM rejects WHERE stage = 'ground mention' AND source = ?",
        [f"record {grounded.ids['case-5']} disease"],
    ).fetchone()[0]
    assert reason.startswith("fuzzy floor: below the score floor (closest name ")


def test_extraction_rows_and_rejects(grounded: Grounded) -> None:
    ws, ids = grounded.ws, grounded.ids
    extraction = next(ws.db.query("SELECT * FROM extractions WHERE record_id = ?", [ids["case-3"]]))
    assert (extraction["disease"], extraction["organ"]) == ("KIDNEY STONES", "Kidney")
    call = next(ws.db.query("SELECT * FROM llm_calls WHERE id = ?", [extraction["call_id"]]))
    assert (call["role"], call["template"], call["template_version"]) == (
        "vision_generator",
        "extract_entities",
        "3",
    )
    assert len(json.loads(call["image_hashes"])) == 1  # the record image was sent
    rejects = {r["source"]: r for r in ws.db.query("SELECT * FROM rejects WHERE stage = 'ground'")}
    assert set(rejects) == {f"record {ids['case-6']}", f"record {ids['case-7']}"}
    bad_json = rejects[f"record {ids['case-6']}"]
    assert bad_json["reason"].startswith("model output does not match the schema")
    assert bad_json["raw"] == "I think this shows a lung."
    assert "not a readable image" in rejects[f"record {ids['case-7']}"]["reason"]
    for case in ("case-6", "case-7"):
        assert (
            ws.db.execute(
                "SELECT count(*) FROM matches WHERE record_id = ?", [ids[case]]
            ).fetchone()[0]
            == 0
        )


def test_record_triples_hold_head_triples_and_the_chain(grounded: Grounded) -> None:
    def triples(case: str) -> set[tuple[str, str, str]]:
        return {
            (r["head"], r["relation"], r["tail"])
            for r in grounded.ws.db.query(
                "SELECT e.name AS head, t.relation, t.tail FROM record_triples rt JOIN triples t "
                "ON t.id = rt.triple_id JOIN entities e ON e.id = t.head_id WHERE rt.record_id = ?",
                [grounded.ids[case]],
            )
        }

    assert triples("case-1") >= {
        ("Lung Cancer", "location", "Lung"),
        ("Lung Cancer", "symptom", "persistent cough"),
        ("Lung", "belong to", "Respiratory System"),
    }
    assert triples("case-4") == {  # fuzzy match: Pulmonary Mass, organ "none"
        ("Pulmonary Mass", "location", "Lung"),
        ("Pulmonary Mass", "description", "a solid lesion in the lung"),
        ("Lung", "belong to", "Respiratory System"),
    }
    assert ("Kidney", "belong to", "Urinary System") in triples("case-3")
    assert triples("case-5") == {("Liver", "belong to", "Digestive System")}


def test_run_report_and_workspace_report_add_up(grounded: Grounded) -> None:
    run = grounded.report.as_dict()
    assert (run["records"], run["grounded"], run["rejected"]) == (7, 5, 2)
    assert run["stages"]["disease"] == {"exact": 3, "fuzzy": 1, "not_found": 1, "rejected": 2}
    assert run["stages"]["organ"] == {"exact": 4, "no_mention": 1, "rejected": 2}
    assert run["model_calls"]["verifier"] == len(grounded.verifier.calls)
    report = ground_report(grounded.ws)
    overall = report["overall"]
    assert overall["records_processed"] == 7 and overall["records_pending"] == 0
    for kind, row in overall["kinds"].items():
        assert row["exact"] + row["fuzzy"] + row["unmatched"] == 7, kind
    assert overall["mentions"] == {
        "total": 9,
        "exact": 7,
        "fuzzy": 1,
        "unmatched": 1,
        "refused": 0,
        "fuzzy_text_only": 0,
        "matched_split_percent": {"exact": 87.5, "fuzzy": 12.5},
    }
    assert overall["reject_reasons"] == {
        "model output does not match the schema": 1,
        "not a readable image": 1,
    }
    assert "72.6" in report["note"]


def test_rerun_is_a_no_op_and_rejects_cost_no_model_calls(grounded: Grounded) -> None:
    extractor, verifier = ScriptedChat([]), ScriptedChat([])
    again = ground(grounded.ws, extractor=extractor, verifier=verifier)
    assert again.records == 2 and again.rejected == 2  # only the rejects are tried again
    assert extractor.calls == [] and verifier.calls == []
    assert grounded.ws.db.execute("SELECT count(*) FROM matches").fetchone()[0] == 10


def test_top_k_limits_candidates_and_verifier_calls(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    ids = make_records(ws, tmp_path)
    ws.config.ground.top_k = 2
    ws.config.ground.fuzzy_min_text_score = 0.0  # floor off: spaceship's candidates are asked
    verifier = ScriptedChat(verifier_reply)
    ground(ws, limit=5, extractor=ScriptedChat(extractor_reply), verifier=verifier)
    row = next(
        ws.db.query(
            "SELECT * FROM matches WHERE record_id = ? AND kind = 'disease'", [ids["case-5"]]
        )
    )
    assert len(json.loads(row["candidates"])) == 2
    spaceship = [c for c in verifier.calls if "spaceship" in str(c["messages"])]
    assert len(spaceship) == 2
    assert ws.db.execute("SELECT count(DISTINCT record_id) FROM matches").fetchone()[0] == 5
    ws.close()


def test_cli_report_json(grounded: Grounded, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ground", "--report", "-w", str(grounded.ws.root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["datasets"][0]["dataset"] == "tiny"
    assert main(["ground", "--report", "-w", str(grounded.ws.root)]) == 0
    assert "exact" in capsys.readouterr().out
    assert main(["ground", "--dataset", "nope", "-w", str(grounded.ws.root)]) == 2
    assert "no such dataset" in capsys.readouterr().err
    print_run(grounded.report.as_dict())
    out = capsys.readouterr().out
    assert "7 record(s)" in out and "5 grounded, 2 rejected" in out
    assert "thumbnail-32" in out  # the weak image encoder is named


def test_image_too_large_is_a_reject_without_a_model_call(tmp_path: Path) -> None:
    ws = make_kg(tmp_path)
    ids = make_records(ws, tmp_path)
    ws.config.images.max_pixels = 1000  # the records' images are 64 x 64
    extractor = ScriptedChat([])
    report = ground(ws, limit=1, extractor=extractor, verifier=ScriptedChat([]))
    assert report.rejected == 1 and extractor.calls == []
    reject = next(ws.db.query("SELECT * FROM rejects WHERE stage = 'ground'"))
    assert reject["source"] == f"record {ids['case-1']}"
    assert "too large" in reject["reason"] and "case-1.png" in reject["raw"]
    ws.close()
