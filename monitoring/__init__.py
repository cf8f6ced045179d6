"""Evidently drift and quality reports, delayed-label performance and the retraining policy."""
