"""Name normalisation for KG matching: re-exported from :mod:`medsynth.text`, the one module
that compares text (entity names, answers, questions, key answers)."""

from medsynth.text import mentions, normalize, singular

__all__ = ["mentions", "normalize", "singular"]
