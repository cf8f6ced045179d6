"""Grader tests of the debug-pipeline exercise."""
