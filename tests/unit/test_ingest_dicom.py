"""DICOM ingest on synthetic files: rescale, window, MONOCHROME1, multi-frame selection, PNGs in
the workspace, bad files as rejects, and no patient-identifying value anywhere it could leak."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medsynth.errors import InputError
from medsynth.files import sha256_file
from medsynth.ingest import ingest
from medsynth.workspace import Workspace
from tests.conftest import write
from tests.unit.ingest_helpers import dump, open_image, records, rejects

PHI = {
    "PatientName": "Doe^Jane",
    "PatientID": "PID-7731-XQ",
    "PatientBirthDate": "19700314",
    "AccessionNumber": "ACC-99812",
    "InstitutionName": "St Elsewhere General",
    "ReferringPhysicianName": "House^Gregory",
    "StudyDescription": "Jane Doe follow-up",
    "ImageComments": "patient Jane Doe, bed 12",
    "StudyDate": "20240102",
    "OtherPatientIDs": "MRN-445566",
}


def dicom(path: Path, pixels: np.ndarray, **tags: Any) -> tuple[Path, list[str]]:
    """Write a CT DICOM file holding ``pixels`` ((rows, cols) or (frames, rows, cols), uint16)
    with the PHI above plus ``tags``; returns the path and the UIDs written."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.BodyPartExamined, ds.SeriesDescription = "CT", "CHEST", "AXIAL LUNG"
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    uids = [meta.MediaStorageSOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID]
    return path, uids


def png_of(ws: Workspace, row: dict[str, Any]) -> Path:
    (relative,) = json.loads(row["images"])
    return ws.root / relative


def test_rescale_window_monochrome1_and_no_phi(ws: Workspace, tmp_path: Path) -> None:
    pixels = np.zeros((64, 96), dtype=np.uint16)
    pixels[:, 32:64] = 500  # 2 * 500 - 1024 = -24 HU, inside the window
    pixels[:, 64:] = 700  # 376 HU, above the window
    root = tmp_path / "dicom"
    _, uids = dicom(
        root / "study" / "slice.dcm",
        pixels,
        PhotometricInterpretation="MONOCHROME1",
        RescaleSlope=2,
        RescaleIntercept=-1024,
        WindowCenter=40,
        WindowWidth=400,
    )
    report = ingest(ws, root, "dicom", filters=False)
    assert report.rejects == [] and report.records_new == 1
    (row,) = records(ws)
    digest = sha256_file(root / "study" / "slice.dcm")
    assert row["key"] == f"dicom-{digest[:16]}"  # never the file name
    assert row["context"] == "CT image of the chest."  # free-text tags are not read by default
    assert row["context_derived"] == 1
    assert report.root == str(ws.root)  # images live in the workspace
    png = png_of(ws, row)
    assert png.parent == ws.root / "images" / "dicom"
    assert json.loads(row["image_sha256"]) == [sha256_file(png)] and png.stem == sha256_file(png)
    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    with open_image(png) as shown:
        assert shown.mode == "L" and shown.size == (96, 64)
        assert shown.info == {} and not getattr(shown, "text", {})
        values = np.asarray(shown)
    # -1024 HU is below the window -> black -> inverted to white; 376 HU -> white -> black.
    assert values[0, 0] == 255 and values[0, 95] == 0
    # -24 HU: ((-24 - 39.5) / 399 + 0.5) * 255 = 86.9 -> 87, inverted -> 168.
    assert abs(int(values[0, 40]) - 168) <= 1
    leaks = [*PHI.values(), *uids, "Doe", "Jane", "Elsewhere", "7731", "slice", "AXIAL"]
    text = dump(ws) + json.dumps(report.as_dict()) + json.dumps(records(ws))
    png_bytes = png.read_bytes()
    for value in leaks:
        assert value not in text, value
        assert value.encode() not in png_bytes, value
    meta = json.loads(row["meta"])
    assert meta["tags"] == {"Modality": "CT", "BodyPartExamined": "CHEST"}
    assert meta["dicom_sha256"] == digest and "dicom_file" not in meta
    assert set(meta["technical"]) <= {
        "PhotometricInterpretation",
        "Rows",
        "Columns",
        "BitsStored",
        "SamplesPerPixel",
    }


def test_multiframe_selection_sidecar_and_bad_files(ws: Workspace, tmp_path: Path) -> None:
    ramp = np.arange(32 * 48, dtype=np.uint16).reshape(32, 48)
    frames = np.stack([ramp + 100 * f for f in range(5)]) % 4096
    frames[:, :4, :4] = 4095 * (np.arange(5)[:, None, None] % 2)  # frames differ visibly
    root = tmp_path / "dicom"
    dicom(root / "cine.dcm", frames)
    write(root / "cine.txt", "Axial CT of the chest with a pulmonary nodule.")
    good, _ = dicom(root / "single.dcm", ramp)
    write(root / "not_dicom.dcm", "hello")
    truncated = good.read_bytes()
    write(root / "truncated.dcm", truncated[: len(truncated) - 1000])
    write(root / "undecodable.txt", b"\xff\xfe\xfa")
    dicom(root / "undecodable.dcm", ramp)
    middle = ingest(ws, root, "dicom", filters=False, keep_filenames=True)
    found = rejects(ws)
    assert found.pop("not_dicom.dcm") == "not a DICOM file (fix: remove it from the folder)"
    assert found.pop("truncated.dcm").startswith("cannot decode the pixel data")
    assert found.pop("undecodable.txt").startswith("not UTF-8 text")
    assert found == {}
    rows = {r["key"]: r for r in records(ws)}
    assert set(rows) == {"cine.dcm#frame=3", "single.dcm"}
    cine = rows["cine.dcm#frame=3"]
    assert cine["context_derived"] == 0
    assert cine["context"] == (
        "CT image of the chest. Frame 3 of 5. Axial CT of the chest with a pulmonary nodule."
    )
    assert json.loads(cine["meta"])["frame"] == 3 and middle.dataset == "dicom-dicom"

    every = ingest(
        ws, root, "dicom", frames="all", name="all-frames", filters=False, keep_filenames=True
    )
    keys = [r["key"] for r in records(ws, "all-frames")]
    assert keys == [*(f"cine.dcm#frame={f}" for f in range(1, 6)), "single.dcm"]
    assert len({json.loads(r["image_sha256"])[0] for r in records(ws, "all-frames")}) == 6
    assert every.records_new == 6
    chosen = ingest(
        ws, root, "dicom", frames="2,9", name="chosen", filters=False, keep_filenames=True
    )
    assert [r["key"] for r in records(ws, "chosen")] == ["cine.dcm#frame=2", "single.dcm"]
    assert {
        "source": "cine.dcm",
        "reason": "frame 9 not in 1..5",
        "hint": "pick frames with --frames",
    } in chosen.as_dict()["rejects"]
    with pytest.raises(InputError, match="bad --frames"):
        ingest(ws, root, "dicom", frames="first", name="bad")
    # Same frame content -> same PNG file: the all-frames run reused the middle run's file.
    assert len(list((ws.root / "images" / "dicom").glob("*.png"))) == 6


def test_too_large_dicom_is_refused(ws: Workspace, tmp_path: Path) -> None:
    dicom(tmp_path / "d" / "big.dcm", np.zeros((64, 64), dtype=np.uint16))
    ws.config.images.max_pixels = 1000
    report = ingest(ws, tmp_path / "d", "dicom", filters=False)
    label = f"dicom-{sha256_file(tmp_path / 'd' / 'big.dcm')[:16]}"
    assert [(r.source, r.reason) for r in report.rejects] == [
        (label, "image too large (64x64; limit 1000 px)")
    ]
    assert "max_pixels" in report.rejects[0].hint
