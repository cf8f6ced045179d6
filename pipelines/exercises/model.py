"""The shape of an exercise: its brief, time box, rubric, and how its starter is cut."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: The file every starter repository records its exercise name in (read back by ``grade``).
MARKER_FILE = ".exercise"


class ExerciseError(ValueError):
    """A user mistake with the kit (unknown exercise, occupied folder, not a starter repo)."""


@dataclass(frozen=True)
class RubricLine:
    """One scored line: its points are earned in proportion to the grader tests that pass.

    Attributes:
        key: Short id, shown in the report and used in the JSON.
        points: Points of the line when every one of its tests passes.
        text: What the line rewards, as the candidate reads it in the README.
        tests: Start of the pytest node ids that decide the line: a module file name, or
            ``file::test_prefix``; ``{variant}`` stands for the starter's variant.
        exclude: Node ids starting with this (same placeholder) do not count; "" excludes none.
    """

    key: str
    points: int
    text: str
    tests: str
    exclude: str = ""

    def selects(self, node_id: str, variant: str) -> bool:
        """Whether the test ``node_id`` decides this line for a starter of ``variant``."""
        chosen = node_id.startswith(self.tests.format(variant=variant))
        excluded = bool(self.exclude) and node_id.startswith(self.exclude.format(variant=variant))
        return chosen and not excluded


def no_variant(seed: int) -> str:
    """The variant of an exercise that has only one: the empty string."""
    return ""


@dataclass(frozen=True)
class Exercise:
    """A take-home exercise.

    Attributes:
        name: What ``new`` and ``list`` call it.
        summary: One line for ``list``.
        time_box: Suggested time, e.g. ``"3 hours"``.
        brief: The README's task section (Markdown).
        rubric: The scored lines; their points add up to the maximum.
        removed: Tracked paths (files or folders) left out of the starter.
        cut: Writes the starter's broken or missing part into the copied repository, for the
            variant the seed picks.
        restore: Puts the reference solution back from the project root into a starter of
            the given seed.
        variant: The variant a seed picks (e.g. which fault is injected); graders read it
            from ``EXERCISE_VARIANT``, the candidate never sees it.
    """

    name: str
    summary: str
    time_box: str
    brief: str
    rubric: tuple[RubricLine, ...]
    removed: tuple[str, ...]
    cut: Callable[[Path, int], None]
    restore: Callable[[Path, Path, int], None]
    variant: Callable[[int], str] = no_variant

    @property
    def max_points(self) -> int:
        """The full-marks score."""
        return sum(line.points for line in self.rubric)

    @property
    def grader_folder(self) -> str:
        """Folder of its grader tests under :mod:`pipelines.exercises.graders`."""
        return self.name.replace("-", "_")
