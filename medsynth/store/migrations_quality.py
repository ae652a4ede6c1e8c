"""Migrations for sample quality: rubric scores from the judge model and reviews by people.

Registered through :func:`medsynth.store.migrations.migration` like the others; imported at the
bottom of ``migrations.py`` so that opening a database always knows them.
"""

from __future__ import annotations

import sqlite_utils

from medsynth.store.migrations import migration


@migration(9)
def m009_judgements_reviews(db: sqlite_utils.Database) -> None:
    """Judge scores per sample and rubric criterion; reviews (who, when, verdict, scores, note).

    A judgement row is unique per (sample, criterion, template version, judge model): a re-run
    with the same judge adds nothing, another judge model adds its own rows. Reviews are never
    updated: the latest row per (sample, reviewer) is the one that counts, earlier ones are the
    history.
    """
    db.execute(
        """
        CREATE TABLE judgements (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id),
            criterion TEXT NOT NULL
                CHECK (criterion IN ('accuracy', 'relevance', 'completeness', 'usefulness')),
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            rationale TEXT,
            model TEXT NOT NULL,
            template TEXT,
            template_version TEXT NOT NULL,
            call_id INTEGER REFERENCES llm_calls(id),
            run_id INTEGER REFERENCES runs(id),
            created_at TEXT,
            UNIQUE (sample_id, criterion, template_version, model)
        )
        """
    )
    db.execute("CREATE INDEX idx_judgements_sample_id ON judgements (sample_id)")
    score = "INTEGER CHECK ({0} IS NULL OR {0} BETWEEN 1 AND 5)"
    db.execute(
        f"""
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id),
            reviewer TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
            verdict TEXT CHECK (verdict IS NULL OR verdict IN ('accept', 'reject')),
            accuracy {score.format("accuracy")},
            relevance {score.format("relevance")},
            completeness {score.format("completeness")},
            usefulness {score.format("usefulness")},
            note TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('tui', 'cli', 'csv')),
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_reviews_sample_id ON reviews (sample_id, reviewer)")
