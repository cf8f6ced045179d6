"""Grader tests of the prototype-production exercise."""
