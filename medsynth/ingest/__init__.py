"""Ingest image-caption data into records: readers per format, image checks, PubMedVision's
filters, and the resumable service behind ``medsynth ingest``."""

from __future__ import annotations

from medsynth.ingest.service import IngestReport, ingest
from medsynth.ingest.sources import FORMATS, Format

__all__ = ["FORMATS", "Format", "IngestReport", "ingest"]
