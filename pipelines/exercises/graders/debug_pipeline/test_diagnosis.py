"""The written diagnosis: present, and naming the faulty file and the root cause."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.exercises.graders.debug_pipeline.conftest import RootCause

MIN_WORDS = 25


def test_a_diagnosis_is_written(diagnosis: str) -> None:
    assert len(diagnosis.split()) >= MIN_WORDS, "DIAGNOSIS.md is missing or too short"


def test_it_names_the_faulty_file(diagnosis: str, root_cause: RootCause) -> None:
    assert root_cause.path in diagnosis or root_cause.path.rsplit("/", 1)[1] in diagnosis


def test_it_names_the_root_cause(diagnosis: str, root_cause: RootCause) -> None:
    text = diagnosis.lower()
    missing = [g for g in root_cause.groups if not any(word in text for word in g)]
    assert not missing, f"the diagnosis names none of {missing}"
