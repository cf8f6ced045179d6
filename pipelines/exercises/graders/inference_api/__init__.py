"""Grader tests of the inference-api exercise."""
