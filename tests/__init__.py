"""Tests mirror the code: one folder per stage, plus stack and end-to-end tests."""
