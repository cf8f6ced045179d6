"""The debug-pipeline kit: each seeded fault is caught by its own checks only, the reference
fix with its diagnosis scores full marks, and a fix without a diagnosis scores in between.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.exercises.debug_pipeline import DIAGNOSIS_FILE, EXERCISE, FAULTS, fault_for
from pipelines.exercises.grading import grade
from pipelines.exercises.scaffold import create_exercise
from pipelines.settings import REPO_ROOT

#: One seed per fault (the seed picks the fault by a hash).
SEEDS = {fault.name: next(s for s in range(100) if fault_for(s) is fault) for fault in FAULTS}


def starter(parent: Path, fault: str) -> Path:
    return create_exercise(EXERCISE, REPO_ROOT, parent / fault, SEEDS[fault])


def points(repo: Path) -> dict[str, float]:
    report, _ = grade(repo)
    return {"total": report.score} | {line.key: line.points for line in report.lines}


def test_the_seed_picks_every_fault_and_always_the_same_one():
    assert set(SEEDS) == {f.name for f in FAULTS}
    assert [fault_for(s).name for s in range(20)] == [fault_for(s).name for s in range(20)]


def test_the_starter_differs_from_the_project_only_by_the_fault(tmp_path):
    repo = starter(tmp_path, "drift_flag")
    patch = fault_for(SEEDS["drift_flag"]).patches[0]
    text = (repo / patch.path).read_text(encoding="utf-8")
    assert patch.bad in text
    assert patch.good not in text
    assert not (repo / "tests" / "monitoring" / "test_drift_decision.py").exists()
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    )
    assert "drift" not in log.stdout.lower(), "the commit does not name the fault"


@pytest.mark.e2e
@pytest.mark.parametrize("fault", sorted(SEEDS))
def test_the_untouched_starter_loses_the_fix_and_diagnosis_lines(tmp_path, fault):
    scored = points(starter(tmp_path, fault))
    assert scored == {"total": 20.0, "fix": 0.0, "no_regressions": 20.0, "diagnosis": 0.0}


@pytest.mark.e2e
@pytest.mark.parametrize("fault", sorted(SEEDS))
def test_the_reference_fix_and_diagnosis_score_full_marks(tmp_path, fault):
    repo = starter(tmp_path, fault)
    EXERCISE.restore(REPO_ROOT, repo, SEEDS[fault])
    assert points(repo)["total"] == 100.0


def test_a_fix_with_a_diagnosis_of_another_fault_scores_in_between(tmp_path):
    repo = starter(tmp_path, "future_rows")
    EXERCISE.restore(REPO_ROOT, repo, SEEDS["future_rows"])
    (repo / DIAGNOSIS_FILE).write_text(
        fault_for(SEEDS["drift_flag"]).diagnosis + "\n", encoding="utf-8"
    )
    first, second = points(repo), points(repo)
    assert first == second, "grading is deterministic"
    assert first["fix"] == 50.0
    assert first["diagnosis"] == 10.0, "long enough, but names the wrong file and cause"
    assert 50.0 < first["total"] < 100.0
