"""The prototype-production kit: a lean starter whose prototype runs, and fair grading (the
untouched starter scores 0, a gate that always promotes with a policy that always alarms scores
in between, the reference solution full marks).
"""

from __future__ import annotations

import runpy
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from pipelines.exercises import prototype_production
from pipelines.exercises.catalog import EXERCISES
from pipelines.exercises.grading import grade
from pipelines.exercises.model import ExerciseError
from pipelines.exercises.prototype_production import DESIGN_SECTIONS, EXERCISE, MODULE_FILE
from pipelines.exercises.scaffold import create_exercise
from pipelines.settings import REPO_ROOT

#: A first attempt: the gate promotes everything, the policy alarms on every window.
CARELESS = '''\
"""Ship everything, retrain always."""


def promote(champion, challenger, holdout):
    return True


def ship(tracking_uri):
    raise NotImplementedError


def should_retrain(reference, current):
    return True, "retrain on fresh data; features: " + ", ".join(reference.columns)
'''

#: Each graded repository's points per rubric line (and "total"), as they come in.
Graded = dict[str, Future[dict[str, float]]]


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_exercise(EXERCISE, REPO_ROOT, tmp_path_factory.mktemp("prototype") / "starter")


def copy_of(starter: Path, dest: Path) -> Path:
    return Path(shutil.copytree(starter, dest))


def points(repo: Path) -> dict[str, float]:
    report, _ = grade(repo)
    assert report.max_score == 100
    return {"total": report.score} | {line.key: line.points for line in report.lines}


def test_it_is_in_the_catalog():
    assert EXERCISES["prototype-production"] is EXERCISE
    assert EXERCISE.max_points == 100


def test_the_starter_is_the_prototype_the_generator_and_the_contract(starter):
    files = {p.relative_to(starter).as_posix() for p in starter.rglob("*") if p.is_file()}
    files = {f for f in files if not f.startswith(".git/")}
    for kept in ("prototype.py", MODULE_FILE, "DESIGN.md", "Makefile", "uv.lock"):
        assert kept in files
    assert "data/generator.py" in files
    assert "features/contract.py" in files
    for gone in ("training", "serving", "monitoring", "pipelines", "tests", "benchmarks", "docs"):
        assert not (starter / gone).exists(), gone
    assert not (starter / "features" / "validation.py").exists()
    assert "raise NotImplementedError" in (starter / MODULE_FILE).read_text(encoding="utf-8")


def test_the_starter_readme_and_design_template_state_what_is_asked(starter):
    readme = (starter / "README.md").read_text(encoding="utf-8")
    for signature in ("promote(champion, challenger, holdout) -> bool", "ship(tracking_uri: str)"):
        assert signature in readme
    assert "should_retrain(reference, current) -> tuple[bool, str]" in readme
    assert EXERCISE.time_box in readme
    design = (starter / "DESIGN.md").read_text(encoding="utf-8")
    assert all(f"## {section}" in design for section in DESIGN_SECTIONS)


def test_the_starter_builds_only_the_packages_it_holds(starter):
    pyproject = (starter / "pyproject.toml").read_text(encoding="utf-8")
    assert 'packages = ["data", "features"]' in pyproject
    assert "pipelines.cli" not in pyproject
    assert "model.pkl" in (starter / ".gitignore").read_text(encoding="utf-8")


def test_a_pyproject_that_changed_stops_the_cut(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(ExerciseError, match=r"pyproject\.toml"):
        prototype_production.patch_pyproject(tmp_path)


def test_the_prototype_runs_and_ships_a_file(starter, tmp_path, monkeypatch, capsys):
    repo = copy_of(starter, tmp_path / "run")
    monkeypatch.chdir(repo)  # run in-process: the starter's data/ and features/ are the project's
    with threadpool_limits(limits=1):
        runpy.run_path(str(repo / "prototype.py"), run_name="__main__")
    assert "PR-AUC" in capsys.readouterr().out
    assert (repo / "model.pkl").is_file()


@pytest.fixture(scope="module")
def graded(starter: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graded]:
    """The three repositories graded at once (each grade is a subprocess; they overlap)."""
    parent = tmp_path_factory.mktemp("graded")
    careless = copy_of(starter, parent / "careless")
    EXERCISE.restore(REPO_ROOT, careless, 0)  # the reference DESIGN.md
    (careless / MODULE_FILE).write_text(CARELESS, encoding="utf-8")
    reference = copy_of(starter, parent / "reference")
    EXERCISE.restore(REPO_ROOT, reference, 0)
    repos = {"untouched": starter, "careless": careless, "reference": reference}
    with ThreadPoolExecutor(max_workers=len(repos)) as pool:
        yield {name: pool.submit(points, repo) for name, repo in repos.items()}


@pytest.mark.e2e
def test_the_untouched_starter_scores_nothing(graded):
    assert graded["untouched"].result() == {
        "total": 0.0,
        "gate": 0.0,
        "registry": 0.0,
        "drift_recall": 0.0,
        "false_alarms": 0.0,
        "design": 0.0,
    }


@pytest.mark.e2e
def test_a_gate_that_always_promotes_and_a_policy_that_always_alarms_score_in_between(graded):
    scored = graded["careless"].result()
    assert scored["gate"] == 12.0, "promotes the better model and the first one only"
    assert (scored["drift_recall"], scored["false_alarms"]) == (15.0, 0.0)
    assert scored["registry"] == 0.0
    assert scored["design"] == 15.0
    assert 20.0 < scored["total"] < 80.0


@pytest.mark.e2e
def test_the_reference_solution_scores_full_marks(graded):
    assert graded["reference"].result()["total"] == 100.0
