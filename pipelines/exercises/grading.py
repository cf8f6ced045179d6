"""``exercise grade``: hidden grader tests run against a candidate's repository, scored per line.

The grader tests of the exercise are copied into a temporary folder (never into the
candidate's repository) and run by ``python -m pytest`` in a subprocess whose working
directory is the candidate's repository and whose ``PYTHONPATH`` starts with it, so the
candidate's code is what the tests import. Each rubric line earns its points in proportion to
the tests it selects that pass; the tests are seeded, so two grades of the same repository
give the same score.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.exercises.catalog import exercise_named
from pipelines.exercises.model import MARKER_FILE, Exercise, ExerciseError, RubricLine

GRADERS = Path(__file__).resolve().parent / "graders"
PLUGIN = "grader_results"
#: Seconds one grader test may take, and the whole grader run.
TEST_TIMEOUT_S = 120
RUN_TIMEOUT_S = 900
PYTEST_INI = f"""\
[pytest]
addopts = -p no:cacheprovider -p {PLUGIN} -q --no-header
timeout = {TEST_TIMEOUT_S}
filterwarnings = ignore::DeprecationWarning
"""


@dataclass(frozen=True)
class LineScore:
    """The score of one rubric line and the tests behind it."""

    key: str
    text: str
    points: float
    max_points: int
    passed: int
    total: int
    failed_tests: list[str]


@dataclass(frozen=True)
class GradeReport:
    """The scored report of one repository."""

    exercise: str
    repository: str
    score: float
    max_score: int
    lines: list[LineScore]

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(asdict(self), indent=2)


def exercise_of(repo: Path) -> tuple[Exercise, int]:
    """The exercise a starter repository was cut for, and its seed (from its marker file).

    Raises:
        ExerciseError: ``repo`` is not a folder made by ``exercise new``.
    """
    marker = repo / MARKER_FILE
    if not marker.is_file():
        raise ExerciseError(
            f"{repo} is not an exercise repository (no {MARKER_FILE} file): "
            "make one with `lifecycle exercise new NAME DIR`"
        )
    name, _, seed = marker.read_text(encoding="utf-8").strip().partition("\n")
    if seed and not seed.strip().isdigit():
        raise ExerciseError(f"{marker} is damaged: its second line is not a seed")
    return exercise_named(name.strip()), int(seed or 0)


def stage_graders(exercise: Exercise, folder: Path) -> None:
    """Copy the exercise's grader tests, the results plugin and a pytest.ini into ``folder``."""
    for source in sorted((GRADERS / exercise.grader_folder).glob("*.py")):
        if source.name != "__init__.py":
            shutil.copyfile(source, folder / source.name)
    shutil.copyfile(GRADERS / "results_plugin.py", folder / f"{PLUGIN}.py")
    (folder / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def run_graders(exercise: Exercise, repo: Path, variant: str) -> tuple[dict[str, bool], str]:
    """Run the hidden tests against ``repo``: each test's outcome, and pytest's output."""
    with tempfile.TemporaryDirectory(prefix="exercise-grader-") as temp:
        folder = Path(temp)
        stage_graders(exercise, folder)
        results = folder / "results.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LIFECYCLE"))}
        env.update(
            PYTHONPATH=os.pathsep.join([str(repo), str(folder)]),
            GRADER_RESULTS=str(results),
            EXERCISE_VARIANT=variant,
            PYTHONDONTWRITEBYTECODE="1",
        )
        command = [sys.executable, "-m", "pytest", "-c", str(folder / "pytest.ini")]
        command += ["--rootdir", str(folder), str(folder)]
        try:
            done = subprocess.run(
                command,
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {}, f"the grader tests did not finish within {RUN_TIMEOUT_S} s"
        outcomes = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else {}
        return {str(k): bool(v) for k, v in outcomes.items()}, done.stdout + done.stderr


def score_line(line: RubricLine, outcomes: dict[str, bool], variant: str = "") -> LineScore:
    """Score one line from the outcomes of the tests it selects (none ran: zero)."""
    mine = {k: v for k, v in outcomes.items() if line.selects(k, variant)}
    passed = sum(mine.values())
    earned = round(line.points * passed / len(mine), 1) if mine else 0.0
    return LineScore(
        key=line.key,
        text=line.text,
        points=earned,
        max_points=line.points,
        passed=passed,
        total=len(mine),
        failed_tests=sorted(k.split("::", 1)[1] for k, ok in mine.items() if not ok),
    )


def grade(repo: Path) -> tuple[GradeReport, str]:
    """Grade the exercise repository ``repo``: the report, and the grader tests' output.

    Raises:
        ExerciseError: ``repo`` is not an exercise repository.
    """
    repo = repo.resolve()
    exercise, seed = exercise_of(repo)
    variant = exercise.variant(seed)
    outcomes, output = run_graders(exercise, repo, variant)
    lines = [score_line(line, outcomes, variant) for line in exercise.rubric]
    report = GradeReport(
        exercise=exercise.name,
        repository=str(repo),
        score=round(sum(line.points for line in lines), 1),
        max_score=exercise.max_points,
        lines=lines,
    )
    return report, output
