"""The ingest report. The datasets' queries (one row per ingested input, options fixed at first
use; ``--limit``'s selection) are in :mod:`medsynth.ingest.queries`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from medsynth.ingest.filters import FILTERS

# synth/service.py imports these two from here (its owners are editing it): kept as re-exports
# until that import names medsynth.ingest.queries
from medsynth.ingest.queries import find_dataset as find_dataset
from medsynth.ingest.queries import selection_end as selection_end
from medsynth.ingest.sources import BadItem


@dataclass
class IngestReport:
    """What one ``medsynth ingest`` did, and the dataset's totals afterwards."""

    dataset: str
    dataset_id: int
    format: str
    root: str
    files: list[str]
    filters: dict[str, Any] | None
    vocabulary_terms: int
    records_new: int = 0
    records_existing: int = 0
    kept_new: int = 0
    filtered_new: Counter[str] = field(default_factory=Counter)
    rejects: list[BadItem] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    phi_mode: str | None = None  # the PHI check's mode; None when the format is not checked
    phi_records: int = 0  # items in which the check found something (rejected or redacted)
    phi_found: Counter[str] = field(default_factory=Counter)  # findings by kind

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "dataset_id": self.dataset_id,
            "format": self.format,
            "root": self.root,
            "files": self.files,
            "filters": self.filters,
            "vocabulary_terms": self.vocabulary_terms,
            "records_new": self.records_new,
            "records_existing": self.records_existing,
            "kept_new": self.kept_new,
            "filtered_new": {name: self.filtered_new[name] for name in FILTERS},
            "rejects": [
                {"source": r.source, "reason": r.reason, **({"hint": r.hint} if r.hint else {})}
                for r in self.rejects
            ],
            "phi": {
                "mode": self.phi_mode,
                "records": self.phi_records,
                "found": dict(sorted(self.phi_found.items())),
            },
            "totals": self.totals,
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.records_new / self.seconds, 1) if self.seconds else None,
        }
