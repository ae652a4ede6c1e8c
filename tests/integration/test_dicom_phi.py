"""PHI planted in every text tag of a DICOM file and in its name never reaches the workspace or
an export: ingest (through the CLI), synthesis with the scripted model, export, then a byte-level
search of every file in the workspace folder (database, WAL, images, indexes) and the export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medsynth.backends.fake import ScriptedChat
from medsynth.cli import main
from medsynth.synth.service import synthesize
from medsynth.workspace import Workspace
from tests.fakes.synth import ground_record, make_kg, reply

FILE_NAME = "Doe_Johnathan_PHIMRN778899.dcm"
TEXT_TAGS = {  # free text: unread by default
    "SeriesDescription": "Chest CT Johnathan Doe PHIMRN778899",
    "StudyDescription": "Follow-up of patient Johnathan Doe born 04/12/1961",
    "ProtocolName": "DOE^JOHNATHAN chest protocol",
    "ImageComments": "Patient Johnathan Doe, call 555-867-5309, jdoe@plantedmail.org",
}
IDENTITY_TAGS = {  # never read
    "PatientName": "DOE^JOHNATHAN",
    "PatientID": "PHIMRN778899",
    "PatientBirthDate": "19610412",
    "OtherPatientIDs": "PHIOTHER556677",
    "AccessionNumber": "ACCPHI445566",
    "InstitutionName": "Saint Plantedfield Hospital",
    "InstitutionAddress": "12 Plantedfield Road, Springfield",
    "ReferringPhysicianName": "PLANTEDREF^GREGORY",
    "PerformingPhysicianName": "PLANTEDPERF^LISA",
    "OperatorsName": "PLANTEDOP^SAM",
    "StationName": "PHISTATION7",
    "StudyDate": "20240102",
    "StudyID": "PHISTUDY9931",
}
PLANTED = (
    "Johnathan",
    "PHIMRN",
    "778899",
    "19610412",
    "04/12/1961",
    "PHIOTHER",
    "ACCPHI",
    "Plantedfield",
    "PLANTEDREF",
    "PLANTEDPERF",
    "PLANTEDOP",
    "867-5309",
    "plantedmail",
    "PHISTATION",
    "PHISTUDY",
    "Doe_Johnathan",
    "DOE^",
)


def planted_dicom(folder: Path, text_tags: dict[str, str] | None = None) -> Path:
    """A CT slice whose every text tag and file name carries the planted PHI."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    for keyword, value in {
        **IDENTITY_TAGS,
        **(TEXT_TAGS if text_tags is None else text_tags),
    }.items():
        setattr(ds, keyword, value)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.BodyPartExamined = "CT", "CHEST"
    pixels = (np.arange(96 * 128).reshape(96, 128) * 7 % 4096).astype(np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    ds.save_as(path, enforce_file_format=True)
    return path


def leaks(*folders: Path) -> list[str]:
    """``file: planted string`` for every planted string (any case) in any file's name or
    bytes under ``folders``."""
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.name.lower().encode() + b"\0" + path.read_bytes().lower()
            found += [f"{path}: {s}" for s in PLANTED if s.lower().encode() in data]
    return found


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    """Run the real CLI with --json; its parsed output."""
    capsys.readouterr()
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert not [s for s in PLANTED if s.lower() in out.lower()], "PHI in the command's output"
    data: dict[str, object] = json.loads(out)
    return data


def test_planted_phi_never_reaches_workspace_or_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = make_kg(tmp_path / "kg")
    root = ws.root
    ws.close()
    source = tmp_path / "scans"
    planted_dicom(source)
    w = ["-w", str(root)]
    default = cli(capsys, "ingest", str(source), "--format", "dicom", *w)
    assert default["records_new"] == 1 and default["rejects"] == []
    assert default["phi"] == {"mode": "block", "records": 0, "found": {}}
    redacted = cli(
        capsys,
        "ingest",
        str(source),
        "--format",
        "dicom",
        "--name",
        "with-text",
        "--dicom-text-tags",
        ",".join(TEXT_TAGS),
        "--phi",
        "warn",
        *w,
    )
    assert redacted["records_new"] == 1
    phi = redacted["phi"]
    assert isinstance(phi, dict) and phi["mode"] == "warn" and phi["records"] == 1
    assert {"name", "record_number", "date", "phone", "email"} <= set(phi["found"])
    blocked = cli(
        capsys,
        "ingest",
        str(source),
        "--format",
        "dicom",
        "--name",
        "blocked",
        "--dicom-text-tags",
        "SeriesDescription",
        *w,
    )
    (reject,) = blocked["rejects"]  # type: ignore[misc]
    assert reject["source"].startswith("dicom-") and "possible patient data" in reject["reason"]
    assert "--phi warn" in reject["hint"]

    ws = Workspace.open(root)
    rows = ws.db.execute("SELECT id, key, context, meta FROM records ORDER BY id").fetchall()
    assert len(rows) == 2 and all(key.startswith("dicom-") for _, key, _, _ in rows)
    assert rows[0][2] == "CT image of the chest."
    assert "[REDACTED]" in rows[1][2] and "Series: Chest CT" in rows[1][2]
    assert "dicom_file" not in json.loads(rows[0][3])
    for record_id, *_ in rows:
        ground_record(ws, record_id, "Lung Cancer", "Lung")
    model = ScriptedChat(reply)
    report = synthesize(
        ws, models={"generator": model, "vision_generator": model, "verifier": model}
    )
    assert sum(report.kept.values()) > 0
    ws.close()

    out = tmp_path / "export"
    exported = cli(capsys, "export", str(out), "--format", "llava", *w)
    assert isinstance(exported["samples"], int) and exported["samples"] > 0
    assert exported and any(out.iterdir())
    assert leaks(root, out) == []
    assert (root / "medsynth.db").exists()  # the search did cover the database


def test_the_search_would_find_a_leak(tmp_path: Path) -> None:
    """The byte search is not vacuous: the source folder itself is full of planted strings."""
    found = leaks(planted_dicom(tmp_path / "scans").parent)
    assert sorted(line.rsplit(": ", 1)[1] for line in found) == sorted(PLANTED)


def test_names_without_any_cue_are_found_through_the_files_own_identity_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All-capitals names with no cue word slip past every name pattern; the file's own
    PatientName and physician names (read in memory, never stored) catch them."""
    from medsynth.ingest.phi import find_phi

    series = "CT CHEST JOHNATHAN DOE"
    protocol = "LOW DOSE GREGORY PLANTEDREF"
    assert find_phi(series) == [] and find_phi(protocol) == []  # the patterns alone miss them
    ws = make_kg(tmp_path / "kg")
    root = ws.root
    ws.close()
    source = tmp_path / "scans"
    planted_dicom(source, {"SeriesDescription": series, "ProtocolName": protocol})
    w = ["-w", str(root)]
    tags = ["--dicom-text-tags", "SeriesDescription,ProtocolName"]
    warned = cli(capsys, "ingest", str(source), "--format", "dicom", *tags, "--phi", "warn", *w)
    assert warned["records_new"] == 1
    phi = warned["phi"]
    assert isinstance(phi, dict) and phi["found"] == {"name": 4}
    blocked = cli(capsys, "ingest", str(source), "--format", "dicom", "--name", "b", *tags, *w)
    (reject,) = blocked["rejects"]  # type: ignore[misc]
    assert "possible patient data in the text (4 name)" in reject["reason"]
    ws = Workspace.open(root)
    (context, meta) = ws.db.execute("SELECT context, meta FROM records").fetchone()
    ws.close()
    assert "Series: CT CHEST [REDACTED]" in context
    assert "Protocol: LOW DOSE [REDACTED]" in context
    stored = (context + meta).lower()
    assert not any(word in stored for word in ("johnathan", " doe", "gregory", "plantedref"))
