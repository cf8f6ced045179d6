"""The monitoring policy on hidden windows: drift raises a retrain, noise does not."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from features.contract import DatasetContract

if TYPE_CHECKING:
    from pipelines.exercises.graders.prototype_production.conftest import RunDays

#: The reference window: the first days of the run.
REFERENCE_DAYS = tuple(range(5))


@dataclass(frozen=True)
class Window:
    """A hidden monitoring case: a scenario's run, and the days of its current window."""

    scenario: str
    seed: int
    days: tuple[int, ...]


#: Windows whose population moved (a covariate shift, complete by then; runs drift from day 20).
DRIFTED = {
    "step-late": Window("covariate_shift", 9101, (30, 31)),
    "step-early": Window("covariate_shift", 9102, (24, 25)),
    "mixed-story": Window("default", 9103, (32, 33)),
    "ramp-done": Window("gradual_drift", 9104, (34, 35)),
    "ramp-end": Window("gradual_drift", 9105, (36, 37)),
}
#: Windows with only day-to-day noise: stationary runs, and drifting runs before their onset.
CLEAN = {
    "stationary-late": Window("none", 9201, (30, 31)),
    "stationary-near": Window("none", 9202, (12, 13)),
    "stationary-one-day": Window("none", 9208, (38,)),
    "before-step": Window("covariate_shift", 9204, (14, 15)),
    "before-ramp": Window("gradual_drift", 9205, (17, 18)),
}


def verdict(
    production: ModuleType, generate: RunDays, contract: DatasetContract, window: Window
) -> tuple[bool, str]:
    """The policy's answer on ``window``, checked to be ``(bool, non-empty reason)``."""
    features = list(contract.features)
    reference = generate(window.scenario, window.seed, REFERENCE_DAYS).loc[:, features]
    current = generate(window.scenario, window.seed, window.days).loc[:, features]
    retrain, reason = production.should_retrain(reference, current)
    assert isinstance(reason, str), "the reason is text"
    assert reason.strip(), "a decision needs a reason"
    return bool(retrain), reason


@pytest.mark.parametrize("name", sorted(DRIFTED))
def test_drift_raises_a_retrain_and_names_a_feature(
    production: ModuleType, generate: RunDays, contract: DatasetContract, name: str
) -> None:
    retrain, reason = verdict(production, generate, contract, DRIFTED[name])
    assert retrain, f"drift missed: {reason}"
    assert any(f in reason for f in contract.features), f"no feature named in: {reason}"


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_window_raises_no_retrain(
    production: ModuleType, generate: RunDays, contract: DatasetContract, name: str
) -> None:
    retrain, reason = verdict(production, generate, contract, CLEAN[name])
    assert not retrain, f"false alarm: {reason}"
