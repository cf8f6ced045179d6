"""Prior shift and gradual drift, in both built-in use cases: each does what its name says.

Prior shift: from the onset the positive rate is a fixed multiple of the rate before, while the
rows of each class are drawn exactly as before (two-sample tests find nothing, though the same
tests do find concept drift). Gradual drift: nothing before the onset, the step scenario's very
days once the ramp is over, and in between a shift that grows day after day.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from data.scenarios import GRADUAL_RAMP_DAYS, PRIOR_SHIFT_FACTOR
from data.usecases import UseCase, use_case
from features.contract import DatasetContract, load_contract

DAYS = 30
ONSET = 15
SEED = 3
#: Rows a day per use case: enough positives per class for the two-sample tests.
ROWS = {"card_fraud": 2000, "churn": 1000}
FACTOR = {"card_fraud": PRIOR_SHIFT_FACTOR, "churn": 1.75}
#: Below this p-value a two-sample test counts as finding a difference.
ALPHA = 1e-3

Frames = list[pd.DataFrame]


@pytest.fixture(scope="module", params=["card_fraud", "churn"])
def case(request: pytest.FixtureRequest) -> UseCase:
    return use_case(request.param)


@pytest.fixture(scope="module")
def contract(case: UseCase) -> DatasetContract:
    return load_contract(case.contract_file)


def _run(case: UseCase, scenario: str) -> Frames:
    rows = ROWS[case.name]
    return [
        case.generate_day(day, scenario, seed=SEED, days=DAYS, rows=rows, onset_day=ONSET)
        for day in range(DAYS)
    ]


@pytest.fixture(scope="module")
def runs(case: UseCase) -> dict[str, Frames]:
    names = ("none", "prior_shift", "concept_drift", "gradual_drift", "default")
    return {name: _run(case, name) for name in names}


def _labels(frame: pd.DataFrame, contract: DatasetContract) -> pd.Series:
    return contract.binary_labels(frame[contract.label_column])


def _positive_rate(frames: Frames, contract: DatasetContract) -> float:
    return float(_labels(pd.concat(frames, ignore_index=True), contract).mean())


def _class_p_values(before: pd.DataFrame, after: pd.DataFrame, contract: DatasetContract) -> dict:
    """p-value of a two-sample test per feature: K-S for numbers, chi-square for categories."""
    found: dict[str, float] = {}
    for column in contract.numeric_features:
        a, b = before[column].dropna(), after[column].dropna()
        found[column] = float(stats.ks_2samp(a, b).pvalue)
    for column in contract.categorical_features:
        counts = pd.crosstab(
            pd.concat([before[column], after[column]], ignore_index=True),
            np.repeat([0, 1], [len(before), len(after)]),
        )
        counts = counts[(counts > 0).all(axis=1)]
        found[column] = float(stats.chi2_contingency(counts.to_numpy()).pvalue)
    return found


def _per_class(frames: Frames, contract: DatasetContract) -> dict[int, pd.DataFrame]:
    run = pd.concat(frames, ignore_index=True)
    labels = _labels(run, contract)
    return {label: run[labels == label] for label in (0, 1)}


# --- prior shift -------------------------------------------------------------------------------


def test_prior_shift_equals_none_before_its_onset(case: UseCase, runs: dict[str, Frames]) -> None:
    for day in (0, ONSET - 1):
        pd.testing.assert_frame_equal(
            runs["prior_shift"][day], runs["none"][day], obj=f"{case.name} day {day}"
        )


def test_prior_shift_multiplies_the_positive_rate_from_its_onset(
    case: UseCase, contract: DatasetContract, runs: dict[str, Frames]
) -> None:
    frames = runs["prior_shift"]
    before = _positive_rate(runs["none"], contract)  # the whole control run: the steadiest rate
    after = _positive_rate(frames[ONSET:], contract)
    ratio = after / before
    factor = FACTOR[case.name]
    assert 0.9 * factor <= ratio <= 1.1 * factor, (
        f"{case.name}: positive rate {before:.3f} -> {after:.3f} ({ratio:.2f}x, want {factor}x)"
    )
    assert all(len(f) == ROWS[case.name] for f in frames), "the day's volume is unchanged"


def test_prior_shift_keeps_each_class_s_feature_distributions(
    case: UseCase, contract: DatasetContract, runs: dict[str, Frames]
) -> None:
    frames = runs["prior_shift"]
    before, after = _per_class(frames[:ONSET], contract), _per_class(frames[ONSET:], contract)
    for label in (0, 1):
        p_values = _class_p_values(before[label], after[label], contract)
        moved = {c: p for c, p in p_values.items() if p < ALPHA}
        assert not moved, f"{case.name}, class {label}: P(features | label) moved: {moved}"


def test_the_same_tests_do_find_concept_drift(
    case: UseCase, contract: DatasetContract, runs: dict[str, Frames]
) -> None:
    """The previous test has power: the positives' features change under concept drift."""
    frames = runs["concept_drift"]
    before, after = _per_class(frames[:ONSET], contract), _per_class(frames[ONSET:], contract)
    p_values = _class_p_values(before[1], after[1], contract)
    assert min(p_values.values()) < 1e-6, f"{case.name}: concept drift unseen: {p_values}"


# --- gradual drift -----------------------------------------------------------------------------

RAMP_END = ONSET + GRADUAL_RAMP_DAYS - 1  # the first day with the drift complete


def test_gradual_drift_equals_none_before_and_the_step_drift_after_its_ramp(
    case: UseCase, runs: dict[str, Frames]
) -> None:
    gradual = runs["gradual_drift"]
    for day in (0, ONSET - 1):
        pd.testing.assert_frame_equal(gradual[day], runs["none"][day], obj=f"day {day} vs none")
    for day in (RAMP_END, DAYS - 1):
        pd.testing.assert_frame_equal(
            gradual[day], runs["default"][day], obj=f"{case.name} day {day} vs the step drift"
        )
    for day in (ONSET, ONSET + 4):
        assert not gradual[day].equals(runs["default"][day]), f"day {day} is mid-ramp"
        assert not gradual[day].equals(runs["none"][day]), f"day {day} has begun to drift"


def _age(frame: pd.DataFrame) -> float:
    return float(-frame["customer_age"].mean())


def _card_testing_share(frame: pd.DataFrame) -> float:
    return float(
        (
            frame["channel"].isin(["card_present", "contactless"])
            & frame["merchant_category"].isin(["grocery", "fuel", "pharmacy"])
            & (frame["amount"] < 12)
            & (frame["txn_count_1h"] >= 4)
        ).mean()
    )


def _month_to_month_share(frame: pd.DataFrame) -> float:
    return float(frame["contract_type"].eq("month_to_month").mean())


def _young_share(frame: pd.DataFrame) -> float:
    return float(frame["age_band"].eq("18-29").mean())


#: Statistics that grow with each use case's drift (younger customers count as growth).
SHIFT_STATISTICS: dict[str, dict[str, Callable[[pd.DataFrame], float]]] = {
    "card_fraud": {"younger customers": _age, "card-testing rows": _card_testing_share},
    "churn": {"month-to-month share": _month_to_month_share, "18-29 share": _young_share},
}


def test_gradual_drift_grows_monotonically_over_its_ramp(case: UseCase) -> None:
    half_way = ONSET + GRADUAL_RAMP_DAYS // 2 - 1  # weight 0.5
    checkpoints = [ONSET - 1, ONSET + 1, half_way, ONSET + 7, RAMP_END]  # 3 days apart
    frames = {
        day: case.generate_day(
            day, "gradual_drift", seed=SEED, days=DAYS, rows=8000, onset_day=ONSET
        )
        for day in checkpoints
    }
    for name, statistic in SHIFT_STATISTICS[case.name].items():
        values = {day: statistic(frames[day]) for day in checkpoints}
        ordered = list(values.values())
        assert all(b > a for a, b in pairwise(ordered)), (
            f"{case.name}: {name} should grow over the ramp: {values}"
        )
        share = (values[half_way] - ordered[0]) / (ordered[-1] - ordered[0])
        assert 0.3 <= share <= 0.7, f"{case.name}: {name} is {share:.0%} of the way at mid-ramp"
