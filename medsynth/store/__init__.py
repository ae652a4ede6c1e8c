"""The workspace database: sqlite-utils, numbered migrations, runs and rejects."""

from medsynth.store.db import open_database
from medsynth.store.runs import RunRecorder, record_reject

__all__ = ["RunRecorder", "open_database", "record_reject"]
