"""The exercises the kit can cut, by name."""

from __future__ import annotations

from pipelines.exercises import debug_pipeline, inference_api, prototype_production
from pipelines.exercises.model import Exercise, ExerciseError

EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in (inference_api.EXERCISE, debug_pipeline.EXERCISE, prototype_production.EXERCISE)
}


def exercise_named(name: str) -> Exercise:
    """The exercise called ``name``.

    Raises:
        ExerciseError: No exercise has that name (the message lists those that exist).
    """
    try:
        return EXERCISES[name]
    except KeyError:
        known = ", ".join(sorted(EXERCISES))
        raise ExerciseError(f"unknown exercise '{name}': choose one of {known}") from None
