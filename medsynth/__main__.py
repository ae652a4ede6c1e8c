"""``python -m medsynth`` runs the CLI."""

from medsynth.cli import run

run()
