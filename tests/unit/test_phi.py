"""The PHI check: what it finds, what it leaves alone, and what ingest does with it (warn keeps
the text with [REDACTED], block rejects the item; neither stores or reports the PHI itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medsynth.ingest import ingest
from medsynth.ingest.phi import REDACTED, count_kinds, describe, find_phi, redact
from medsynth.workspace import Workspace
from tests.conftest import write
from tests.unit.ingest_helpers import CAPTION, captioned, image, records


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("Patient DOE^JOHN^Q seen", "name", "DOE^JOHN^Q"),
        ("Chest CT Johnathan Doe PHIMRN778899", "record_number", "PHIMRN778899"),
        ("Chest CT Johnathan Doe PHIMRN778899", "name", "Johnathan Doe"),
        ("referred by Dr. Gregory House for cough", "name", "Gregory House"),
        ("MRN: 4455-XQ, follow-up", "record_number", "4455-XQ"),
        ("id 12345678 scanned", "record_number", "12345678"),
        ("scanned on 2024-01-02 and", "date", "2024-01-02"),
        ("born 04/12/1961.", "date", "04/12/1961"),
        ("born 12 April 1961.", "date", "12 April 1961"),
        ("born April 12, 1961.", "date", "April 12, 1961"),
        ("study 19610412 done", "date", "19610412"),
        ("call (555) 867-5309 now", "phone", "(555) 867-5309"),
        ("mail j.doe@example.org today", "email", "j.doe@example.org"),
        ("seen at Saint Mary General Hospital today", "institution", "Saint Mary General"),
    ],
)
def test_finds_each_kind_and_redacts_it(text: str, kind: str, secret: str) -> None:
    findings = find_phi(text)
    assert kind in count_kinds(findings)
    cleaned = redact(text, findings)
    assert secret not in cleaned and REDACTED in cleaned


@pytest.mark.parametrize(
    "text",
    [
        CAPTION,
        "Figure 2 (PMC7654321): MRI of the brain shows a 3 cm lesion, p < 0.001, n = 120.",
        "Axial CT of the Chest and Abdomen shows Crohn Disease in a patient with fever.",
        "CT image of the chest. View: PA. Frame 3 of 5.",
        "Chest X-ray of a 45-year-old man in 2019 with a 2.5 x 3.1 cm mass (336x336 pixels).",
    ],
)
def test_leaves_ordinary_medical_text_alone(text: str) -> None:
    assert find_phi(text) == [] and redact(text) == text


def test_describe_counts_kinds_only() -> None:
    text = "Patient John Smith, MRN 556677, seen 2024-01-02"
    summary = describe(count_kinds(find_phi(text)))
    assert summary == "1 name, 1 record_number, 1 date"
    assert "Smith" not in summary and "556677" not in summary


def rows_file(root: Path) -> Path:
    image(root / "a.png", seed=1)
    image(root / "b.png", seed=2)
    rows = [
        {"id": "r1", "image": "a.png", "caption": f"{CAPTION} Patient Jane Roe, MRN 99881234."},
        {"id": "r2", "image": "b.png", "caption": CAPTION.replace("nodule", "mass")},
        {"id": "r3", "caption": "Jane Roe 99881234 without an image"},
    ]
    return write(root / "rows.json", json.dumps(rows))


def test_pubmedvision_warns_by_default_and_redacts(ws: Workspace, tmp_path: Path) -> None:
    report = ingest(ws, rows_file(tmp_path / "pmv"), "pubmedvision", filters=False)
    data = report.as_dict()
    assert data["phi"] == {"mode": "warn", "records": 1, "found": {"name": 1, "record_number": 1}}
    contexts = {r["key"]: r for r in records(ws)}
    flagged = contexts["a.png"]
    assert "Jane Roe" not in flagged["context"] and "99881234" not in flagged["context"]
    assert flagged["context"].endswith(f"Patient {REDACTED}, MRN {REDACTED}.")
    assert json.loads(flagged["meta"])["phi_redacted"] == {"name": 1, "record_number": 1}
    assert contexts["b.png"]["context"] == CAPTION.replace("nodule", "mass")
    # the reject of the image-less row keeps the row, with the PHI in it redacted
    (raw,) = ws.db.execute("SELECT raw FROM rejects WHERE source = 'rows.json[2]'").fetchone()
    assert "Jane Roe" not in raw and "99881234" not in raw and REDACTED in raw


def test_block_rejects_without_repeating_the_phi(ws: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "folder"
    captioned(root, "scan1.png", f"{CAPTION} Seen by Dr. Amelia Stone on 03/04/2021.", seed=3)
    captioned(root, "scan2.png", CAPTION.replace("left", "right"), seed=4)
    report = ingest(ws, root, "folder", filters=False, phi="block")
    assert [r["key"] for r in records(ws)] == ["scan2.png"]
    (reject,) = report.rejects
    assert reject.source == "scan1.png"
    assert reject.reason == "possible patient data in the text (1 name, 1 date); not stored"
    assert "--phi warn" in reject.hint
    stored = json.dumps(ws.db.query("SELECT * FROM rejects").__next__(), default=str)
    summary = ws.db.execute("SELECT summary FROM runs ORDER BY id DESC").fetchone()[0]
    for text in (stored, summary, json.dumps(report.as_dict())):
        assert "Amelia" not in text and "Stone" not in text and "03/04/2021" not in text


def test_bad_phi_mode_and_text_tag_are_refused(ws: Workspace, tmp_path: Path) -> None:
    from medsynth.errors import InputError

    root = tmp_path / "d"
    root.mkdir()
    with pytest.raises(InputError, match="bad --phi"):
        ingest(ws, root, "folder", phi="maybe")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="PatientName is not a descriptive free-text tag"):
        ingest(ws, root, "dicom", dicom_text_tags="SeriesDescription,PatientName")


def test_known_identifiers_are_found_in_any_case_as_whole_words() -> None:
    from medsynth.ingest.phi import find_phi, redact

    known = [("name", "DOE^JOHN"), ("name", "DOE"), ("name", "JOHN"), ("record_number", "A7")]
    text = "ct chest john doe; Doe_John scan; Johnson and Doerr are other words; a7"
    found = find_phi(text, known)
    assert redact(text, found) == (
        "ct chest [REDACTED] [REDACTED]; [REDACTED]_[REDACTED] scan; Johnson and Doerr are other "
        "words; a7"
    )  # A7 is shorter than MIN_KNOWN: initials and short codes would hit ordinary words
    assert find_phi(text) == []
