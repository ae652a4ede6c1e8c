"""Evaluation on SLAKE and VQA-RAD: loaders, metrics, runs, comparisons, contamination checks.

``loaders`` reads the official question files, ``metrics`` scores answers, ``runner`` asks a
model and stores predictions (resumable), ``compare`` puts runs side by side with bootstrap
intervals, ``contamination`` / ``exports`` find test images and questions in training data.
"""
