"""The take-home kit's commands: listing, cutting a starter, refusing mistakes, scoring lines."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from pipelines.exercises.catalog import EXERCISES, exercise_named
from pipelines.exercises.grading import score_line
from pipelines.exercises.model import MARKER_FILE, ExerciseError, RubricLine
from pipelines.exercises.scaffold import create_exercise
from pipelines.settings import REPO_ROOT
from tests.pipelines.cli_runner import lifecycle


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("kit") / "starter"
    return create_exercise(exercise_named("inference-api"), REPO_ROOT, dest)


def assert_clean_refusal(run, words: str) -> None:
    assert run.code != 0, run
    assert words in run.stderr, run
    assert "Traceback" not in run.stdout + run.stderr, run


def test_list_shows_each_exercise_with_its_time_box(tmp_path):
    run = lifecycle(tmp_path, "exercise", "list")
    assert run.code == 0, run
    for exercise in EXERCISES.values():
        assert exercise.name in run.stdout
        assert exercise.time_box in run.stdout


def test_new_refuses_an_unknown_exercise(tmp_path):
    run = lifecycle(tmp_path, "exercise", "new", "no-such-exercise", str(tmp_path / "x"))
    assert_clean_refusal(run, "unknown exercise 'no-such-exercise'")
    assert not (tmp_path / "x").exists()


def test_new_refuses_a_folder_with_something_in_it(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    run = lifecycle(tmp_path, "exercise", "new", "inference-api", str(taken))
    assert_clean_refusal(run, "not an empty folder")
    assert [p.name for p in taken.iterdir()] == ["notes.txt"], "nothing written"


def test_grade_refuses_a_folder_no_exercise_was_cut_into(tmp_path):
    run = lifecycle(tmp_path, "exercise", "grade", str(tmp_path))
    assert_clean_refusal(run, "not an exercise repository")


def test_the_starter_is_a_committed_git_repository(starter):
    log = subprocess.run(
        ["git", "-C", str(starter), "log", "--oneline"], capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) == 1, log.stdout
    status = subprocess.run(
        ["git", "-C", str(starter), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout == "", "everything is committed"
    assert (starter / MARKER_FILE).read_text(encoding="utf-8").split() == ["inference-api", "0"]


def test_the_starter_readme_holds_the_brief_time_box_and_rubric(starter):
    exercise = exercise_named("inference-api")
    readme = (starter / "README.md").read_text(encoding="utf-8")
    assert exercise.time_box in readme
    assert "POST /v1/predict" in readme, "the spec"
    for line in exercise.rubric:
        assert f"| {line.text} | {line.points} |" in readme
    assert f"({exercise.max_points} points)" in readme


def test_the_starter_is_lean_and_hides_the_graders(starter):
    assert (starter / "Makefile").is_file()
    assert (starter / "uv.lock").is_file()
    assert not (starter / ".venv").exists()
    assert not (starter / "pipelines" / "exercises").exists(), "the hidden graders stay here"
    assert not list(starter.rglob("test_exercise*.py"))


def test_the_starter_lacks_the_app_and_its_tests(starter):
    app = (starter / "serving" / "app.py").read_text(encoding="utf-8")
    assert "raise NotImplementedError" in app
    assert (starter / "serving" / "schemas.py").is_file(), "the building blocks stay"
    importing = [
        p for p in (starter / "tests").rglob("*.py") if "serving.app" in p.read_text("utf-8")
    ]
    assert importing == []


def test_a_rubric_line_can_select_tests_by_variant():
    fix = RubricLine("fix", 10, "text", "test_c.py::test_{variant}_")
    others = RubricLine("rest", 10, "text", "test_c.py::", exclude="test_c.py::test_{variant}_")
    outcomes = {"test_c.py::test_a_one": False, "test_c.py::test_b_one": True}
    assert score_line(fix, outcomes, "a").failed_tests == ["test_a_one"]
    assert (score_line(others, outcomes, "a").points, score_line(others, outcomes, "b").points) == (
        10.0,
        0.0,
    )


def test_a_rubric_line_earns_points_in_proportion_to_its_tests():
    line = RubricLine("x", 20, "text", "test_x.py")
    outcomes = {
        "test_x.py::test_a": True,
        "test_x.py::test_b": False,
        "test_x.py::test_c[1]": True,
        "test_x.py::test_d": True,
        "test_y.py::test_a": False,
    }
    scored = score_line(line, outcomes)
    assert (scored.points, scored.passed, scored.total) == (15.0, 3, 4)
    assert scored.failed_tests == ["test_b"]


def test_a_rubric_line_whose_tests_never_ran_scores_zero():
    scored = score_line(RubricLine("x", 10, "text", "test_x.py"), {})
    assert (scored.points, scored.total) == (0.0, 0)


def test_exercise_named_lists_the_known_ones():
    with pytest.raises(ExerciseError, match="inference-api"):
        exercise_named("nope")


def test_a_starter_that_cannot_be_cut_leaves_nothing_behind(tmp_path):
    def broken_cut(repo, seed):
        raise ExerciseError("cannot cut the exercise")

    exercise = dataclasses.replace(exercise_named("debug-pipeline"), cut=broken_cut)
    with pytest.raises(ExerciseError, match="cannot cut"):
        create_exercise(exercise, REPO_ROOT, tmp_path / "half")
    assert list((tmp_path / "half").iterdir()) == []
