"""Grounding refuses mentions that do not look like an entity: the rules on their own (English
and Chinese, the demo's captions, SLAKE's real KG names and Chinese records), then a grounding
run on the tiny KG with a scripted extractor, checking the matches and rejects rows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medsynth.backends.fake import ScriptedChat
from medsynth.demo_records import DEMO_RECORDS
from medsynth.ground import ground, ground_report
from medsynth.ground.extract import MENTION_MAX_CHARS
from medsynth.ground.plausible import (
    EXACT,
    FUZZY_FLOOR,
    PLAUSIBILITY,
    REJECT_STAGE,
    VERIFIER,
    MentionRules,
    content_units,
    parse_reason,
)
from medsynth.ingest.annotated import read_slake, slake_file
from medsynth.ingest.sources import RawItem
from medsynth.workspace import Workspace
from tests.conftest import shared_path
from tests.fakes.records import add_dataset, add_record, png, script_reply
from tests.unit.test_ground_stages import make_kg

RULES = MentionRules()
KIDNEY_CAPTION = DEMO_RECORDS[1][2]  # "... a dense calculus in the left kidney ..."


def category(mention: str, context: str) -> str | None:
    refusal = RULES.check(mention, context)
    return None if refusal is None else refusal.category


def test_the_whole_caption_is_refused_as_too_long() -> None:
    refusal = RULES.check(KIDNEY_CAPTION, KIDNEY_CAPTION)
    assert refusal is not None
    assert (refusal.step, refusal.category) == (PLAUSIBILITY, "too long")
    assert refusal.reason.startswith("plausibility: too long (")
    assert parse_reason(refusal.reason) == (PLAUSIBILITY, "too long")
    for _name, _entity, caption in DEMO_RECORDS:  # every demo caption, as written
        assert category(caption, caption) == "too long"


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("kidney stone; liver normal", "sentence punctuation inside"),
        ("calculus, left kidney", "sentence punctuation inside"),
        ("there is a kidney stone", "a clause, not a name"),
        ("consistent with kidney stone", "a clause, not a name"),
        ("the liver is normal", "a clause, not a name"),
        ("no hydronephrosis", "negated"),
        ("without kidney stone", "negated"),
        ("disease", "generic word"),
        ("Abnormalities", "generic word"),
        ("a dense calculus in the left kidney with mild hydronephrosis", "too long"),
    ],
)
def test_shapes_that_are_not_an_entity_name(mention: str, expected: str) -> None:
    assert category(mention, KIDNEY_CAPTION) == expected


@pytest.mark.parametrize(
    "mention",
    [
        "kidney stone",
        "Kidney Stones",  # plural and case
        "hydronephrosis",
        "calculus in the left kidney",
        "left kidney calculus",  # near: every content word is in the caption
        "kidney stone.",  # trailing punctuation is not "inside"
        "non-contrast",  # a hyphen is not sentence punctuation
    ],
)
def test_short_mentions_found_in_the_caption_pass(mention: str) -> None:
    assert RULES.check(mention, KIDNEY_CAPTION) is None


def test_mentions_absent_from_the_caption_are_refused() -> None:
    refusal = RULES.check("Cardiovascular disease", KIDNEY_CAPTION)
    assert refusal is not None and refusal.category == "not in the context"
    assert refusal.detail == "0 of 1 content words found"  # "disease" is generic: not counted
    assert category("renal cyst", KIDNEY_CAPTION) == "not in the context"  # 0 of 2
    assert category("kidney cyst", KIDNEY_CAPTION) == "not in the context"  # 1 of 2 < 2/3
    assert MentionRules(in_context=False).check("renal cyst", KIDNEY_CAPTION) is None


def test_limits_follow_the_rules() -> None:
    six = "left lower lobe lung base opacity"
    assert RULES.check(six, six) is None
    assert MentionRules(max_words=5).check(six, six) is not None
    assert MentionRules(max_chars=20).check(six, six) is not None


def test_chinese_mentions() -> None:
    context = "CT图像显示右肺上叶可见肺癌，无胸腔积液。"
    assert RULES.check("肺癌", context) is None
    assert RULES.check("右肺上叶肺癌", context) is None  # near: every character occurs
    whole = RULES.check("右肺上叶可见肺癌", context)  # a clause (可见: "is seen")
    assert whole is not None and whole.category == "a clause, not a name"
    sentence = RULES.check(context, context)
    assert sentence is not None and sentence.category == "too long"
    comma = RULES.check("肺癌，积液", context)
    assert comma is not None and comma.category == "sentence punctuation inside"
    assert category("未见肺癌", context) == "negated"
    absent = RULES.check("心血管疾病", context)  # 心血管 absent; 疾病 ("disease") as characters
    assert absent is not None and absent.category == "not in the context"
    assert content_units("肺部的结节") == ["肺", "部", "结", "节"]
    assert RULES.check("气管、支气管狭窄", "气管、支气管狭窄") is None  # 、 as in SLAKE's KG


def test_every_slake_kg_name_has_an_entity_shape() -> None:
    kg = shared_path("slake", "KG")
    names = []
    for file in ("disease-en-zh.json", "organ-en-zh.json"):
        pairs = json.loads((kg / file).read_text(encoding="utf-8"))
        names += [*pairs, *pairs.values()]
    assert len(names) > 700
    refused = {name: RULES.shape(name) for name in names}
    assert {n: r for n, r in refused.items() if r is not None} == {}


def test_slake_chinese_records_find_their_own_answers() -> None:
    """On real SLAKE zh records (contexts as ingest derives them), a Chinese answer that names a
    KG disease is found in its own record's context, and the context itself is refused."""
    base, file = slake_file(shared_path("slake"), "train")
    diseases = set(
        json.loads((base / "KG" / "disease-en-zh.json").read_text(encoding="utf-8")).values()
    )
    checked = 0
    for item in read_slake(base, file, "zh"):
        if not isinstance(item, RawItem):
            continue
        found = [d for d in diseases if d in item.context]
        for disease in found:
            assert RULES.check(disease, item.context) is None, (disease, item.context)
        assert RULES.check(item.context, item.context) is not None
        checked += bool(found)
        if checked >= 20:
            break
    assert checked == 20


ANSWERS = {
    # the defect in issue 13: the caption as the disease, cut where the schema's maxLength cuts
    "case-1": {"disease": KIDNEY_CAPTION[:MENTION_MAX_CHARS], "organ": "Kidney"},
    "case-2": {"disease": "kidney stone", "organ": "left kidney"},
    "case-3": {"disease": "bronchial carcinoma", "organ": "Lung"},  # KG alias, not in context
    "case-4": {"disease": "Cardiovascular disease", "organ": "heart"},  # in neither
    "case-5": {"disease": "Liver", "organ": "Pneumonia"},  # KG names of the other kind
    "case-6": {"disease": "肺癌", "organ": "肺"},
}
CONTEXTS = {
    "case-1": "case-1: " + KIDNEY_CAPTION,
    "case-2": "case-2: " + KIDNEY_CAPTION,
    "case-3": "case-3: chest CT, right upper lobe",
    "case-4": "case-4: " + KIDNEY_CAPTION,
    "case-5": "case-5: liver CT",
    "case-6": "case-6: 胸部CT，右肺上叶肺癌。",
}


@pytest.fixture(scope="module")
def refused_ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("plausible")
    ws = make_kg(tmp)
    dataset_id = add_dataset(ws, "tiny", tmp / "data")
    ids = {}
    for n, (case, context) in enumerate(CONTEXTS.items()):
        png(tmp / "data" / f"{case}.png", seed=300 + n)
        ids[case] = add_record(ws, dataset_id, [f"{case}.png"], context)
    verifier = ScriptedChat(lambda _m: '{"same": false}')
    report = ground(ws, extractor=ScriptedChat(script_reply(ANSWERS)), verifier=verifier)
    yield ws, ids, report, verifier
    ws.close()


def _row(ws: Workspace, record_id: int, kind: str) -> dict[str, Any]:
    return next(
        ws.db.query(
            "SELECT m.*, e.name AS entity FROM matches m LEFT JOIN entities e "
            "ON e.id = m.entity_id WHERE m.record_id = ? AND m.kind = ?",
            [record_id, kind],
        )
    )


def _reason(ws: Workspace, record_id: int, kind: str) -> str:
    rows = ws.db.execute(
        "SELECT reason, raw FROM rejects WHERE stage = ? AND source = ?",
        [REJECT_STAGE, f"record {record_id} {kind}"],
    ).fetchall()
    assert len(rows) == 1, rows
    assert rows[0][1] == _row(ws, record_id, kind)["mention"]
    return str(rows[0][0])


def test_grounding_refuses_the_sentence_and_keeps_real_mentions(refused_ws: Any) -> None:
    ws, ids, _report, verifier = refused_ws
    sentence = _row(ws, ids["case-1"], "disease")
    assert (sentence["stage"], sentence["entity_id"], sentence["candidates"]) == (
        "refused",
        None,
        "[]",
    )
    assert _reason(ws, ids["case-1"], "disease").startswith("plausibility: too long (")
    assert _row(ws, ids["case-1"], "organ")["entity"] == "Kidney"
    assert _row(ws, ids["case-2"], "disease")["entity"] == "Kidney Stone"
    assert (
        _row(ws, ids["case-3"], "disease")["stage"],
        _row(ws, ids["case-3"], "disease")["entity"],
    ) == (
        "exact",
        "Lung Cancer",
    )
    absent = _row(ws, ids["case-4"], "disease")
    assert absent["stage"] == "refused"
    assert _reason(ws, ids["case-4"], "disease").startswith("plausibility: not in the context")
    assert not any("Cardiovascular" in str(c["messages"]) for c in verifier.calls)


def test_kg_names_of_the_other_kind_are_refused_at_the_exact_stage(refused_ws: Any) -> None:
    ws, ids, _report, _verifier = refused_ws
    for kind, expected in (("disease", "not a disease"), ("organ", "not an organ")):
        row = _row(ws, ids["case-5"], kind)
        assert row["stage"] == "refused"
        assert parse_reason(_reason(ws, ids["case-5"], kind)) == (EXACT, expected)


def test_chinese_mention_found_in_a_chinese_context_reaches_matching(refused_ws: Any) -> None:
    ws, ids, _report, _verifier = refused_ws
    for kind in ("disease", "organ"):  # 肺癌 and 肺: plausible, but the tiny KG is English
        row = _row(ws, ids["case-6"], kind)
        assert row["stage"] == "unmatched"
        assert json.loads(row["candidates"])  # it went on to the fuzzy stage and was scored
        step, _ = parse_reason(_reason(ws, ids["case-6"], kind))
        assert step in (FUZZY_FLOOR, VERIFIER)


def test_run_report_counts_refusals_by_step_and_reason(refused_ws: Any) -> None:
    ws, _ids, report, _verifier = refused_ws
    refused = report.as_dict()["refused"]
    assert list(refused) == ["plausibility", "exact", "fuzzy floor", "verifier"]
    assert refused["plausibility"] == {  # the caption; Cardiovascular disease and heart
        "refused": 3,
        "reasons": {"not in the context": 2, "too long": 1},
    }
    assert refused["exact"] == {"refused": 2, "reasons": {"not a disease": 1, "not an organ": 1}}
    assert report.stages["disease"]["refused"] == 3
    assert report.stages["organ"]["refused"] == 2
    later = refused["fuzzy floor"]["refused"] + refused["verifier"]["refused"]
    assert later == sum(report.stages[k]["not_found"] for k in ("disease", "organ")) > 0
    workspace = ground_report(ws)["overall"]
    assert workspace["refused"] == refused  # the same counts, read back from the database
    assert workspace["mentions"]["refused"] == 5
    assert workspace["kinds"]["disease"]["unmatched_detail"]["refused"] == 3
