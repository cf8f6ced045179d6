"""The debug-the-pipeline exercise: one realistic fault, picked by a seed, hides in a copy.

Each fault is a small text patch of the project's own code. The seed picks the fault, so two
candidates given different seeds do not share an answer; the graders learn which fault from
``EXERCISE_VARIANT`` and check the fix with hidden tests, the rest of the pipeline for
regressions, and ``DIAGNOSIS.md`` for naming the root cause.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipelines.exercises.model import Exercise, ExerciseError, RubricLine

DIAGNOSIS_FILE = "DIAGNOSIS.md"


@dataclass(frozen=True)
class Patch:
    """Replace ``good`` by ``bad`` (exactly once) in ``path``."""

    path: str
    good: str
    bad: str


@dataclass(frozen=True)
class Fault:
    """A fault the exercise can inject, and the diagnosis of its reference solution."""

    name: str
    patches: tuple[Patch, ...]
    diagnosis: str


FAULTS: tuple[Fault, ...] = (
    Fault(
        "label_maturity",
        (
            Patch(
                "training/split.py",
                "known = (event <= at) & (known_at <= at) & frame[contract.label_column].notna()",
                "known = (event <= at) & frame[contract.label_column].notna()",
            ),
        ),
        "Root cause: `labelled_at` in training/split.py no longer checks when each label became "
        "known (`label_known_at`), so training used labels that were not yet mature at the "
        "cutoff: rows whose label arrives after the cutoff leaked into train and holdout.",
    ),
    Fault(
        "future_rows",
        (
            Patch(
                "training/split.py",
                "    in_train = event_day < holdout_start\n",
                "    in_train = event_day <= last_day\n",
            ),
        ),
        "Root cause: `time_split` in training/split.py selected train rows up to the last "
        "labelled day, so the train set overlaps the holdout: the model is evaluated on future "
        "rows it was trained on and the holdout metrics are inflated.",
    ),
    Fault(
        "drift_flag",
        (
            Patch(
                "monitoring/config.py",
                "        return n_drifted >= self.drifted_features_needed(n_features)",
                "        return n_drifted <= self.drifted_features_needed(n_features)",
            ),
        ),
        "Root cause: `flags_drift` in monitoring/config.py has its comparison inverted (<= "
        "instead of >=), so a window with no drifted feature is flagged as drift and a "
        "drifted window is not.",
    ),
    Fault(
        "leaky_feature",
        (
            Patch(
                "training/fit.py",
                "    return frame.loc[:, list(contract.features)]",
                "    return frame.loc[:, [*contract.features, contract.label_column]]",
            ),
            Patch(
                "training/fit.py",
                "    numeric = contract.numeric_features\n",
                "    numeric = [*contract.numeric_features, contract.label_column]\n",
            ),
        ),
        "Root cause: `feature_frame` and `build_pipeline` in training/fit.py pass the label "
        "column to the model as a feature: a target leak that makes holdout metrics perfect "
        "and the model unusable where the label is not known.",
    ),
)

BRIEF = f"""\
This copy of the pipeline has a bug. The training, evaluation or monitoring results it
produces cannot be trusted, and the on-call engineer before you did not find out why.

1. Find the root cause, and fix it in the code (the smallest change that makes the pipeline
   right; do not rewrite the stage).
2. Add a test that fails on the bug and passes on your fix.
3. Write `{DIAGNOSIS_FILE}` at the repository root: what the symptom was, the root cause (the
   file and the function, and what it got wrong), how you found it, and how your test guards
   against it coming back. Half a page is enough.

Useful: `make setup`, `make unit`, `lifecycle demo --days 30` (see `make help`), the audit
log and the monitoring reports of a run, the docs under `docs/`.
"""

RUBRIC = (
    RubricLine(
        "fix",
        50,
        "The fault is fixed: hidden tests of the faulty stage pass",
        "test_checks.py::test_{variant}_",
    ),
    RubricLine(
        "no_regressions",
        20,
        "Nothing else broke: hidden tests of the other stages still pass",
        "test_checks.py::",
        exclude="test_checks.py::test_{variant}_",
    ),
    RubricLine(
        "diagnosis",
        30,
        f"{DIAGNOSIS_FILE} names the faulty file and function and the root cause",
        "test_diagnosis.py",
    ),
)


def fault_for(seed: int) -> Fault:
    """The fault ``seed`` picks (a hash, so neighbouring seeds do not follow a pattern)."""
    digest = hashlib.sha256(f"debug-pipeline:{seed}".encode()).digest()
    return FAULTS[int.from_bytes(digest[:4], "big") % len(FAULTS)]


def variant(seed: int) -> str:
    """The name of the fault ``seed`` picks."""
    return fault_for(seed).name


def apply(repo: Path, patch: Patch, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` once in ``repo / patch.path``.

    Raises:
        ExerciseError: the text is not found exactly once (the project's code changed).
    """
    target = repo / patch.path
    text = target.read_text(encoding="utf-8")
    if text.count(old) != 1:
        raise ExerciseError(
            f"cannot cut the exercise: {patch.path} no longer holds the code the fault changes"
        )
    target.write_text(text.replace(old, new), encoding="utf-8")


def cut(repo: Path, seed: int) -> None:
    """Inject the fault ``seed`` picks."""
    for patch in fault_for(seed).patches:
        apply(repo, patch, patch.good, patch.bad)


def restore(root: Path, repo: Path, seed: int) -> None:
    """Undo the fault (the project's code) and write the reference diagnosis."""
    fault = fault_for(seed)
    for patch in fault.patches:
        apply(repo, patch, patch.bad, patch.good)
    (repo / DIAGNOSIS_FILE).write_text(fault.diagnosis + "\n", encoding="utf-8")


EXERCISE = Exercise(
    name="debug-pipeline",
    summary="Find and fix the fault hidden in the pipeline, with a test and a diagnosis.",
    time_box="2 hours",
    brief=BRIEF,
    rubric=RUBRIC,
    removed=(
        "tests/training/test_split.py",
        "tests/training/test_fit.py",
        "tests/monitoring/test_drift_decision.py",
    ),
    cut=cut,
    restore=restore,
    variant=variant,
)
