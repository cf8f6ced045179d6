"""The window's drift verdict: a share of the features *and* a minimum count of them.

With 3 features one drifted column is a share of 0.33, above the 0.30 threshold: a single
column crossing its test threshold on a clean day flagged the window. The count floor
(``min_drifted_features``, capped at the number of features) keeps one column from alarming
alone on a small contract and changes nothing on a wide one.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring.config import MonitoringConfig
from monitoring.performance import classification_performance
from monitoring.reports import evaluate_window
from monitoring.summary import WindowSummary
from tests.monitoring.frames import make_churn_frame


@pytest.mark.parametrize(
    ("n_features", "needed"),
    [(1, 1), (2, 2), (3, 2), (5, 2), (6, 2), (7, 3), (10, 3), (20, 6)],
)
def test_features_needed_is_the_share_or_the_floor_whichever_is_more(
    n_features: int, needed: int
) -> None:
    assert MonitoringConfig().drifted_features_needed(n_features) == needed, n_features


def test_the_share_alone_is_the_old_rule() -> None:
    legacy = MonitoringConfig(min_drifted_features=1)
    for n_features in range(1, 31):
        for n_drifted in range(n_features + 1):
            old = n_drifted / n_features >= legacy.drift_share_threshold
            assert legacy.flags_drift(n_drifted, n_features) is old, (n_drifted, n_features)


def test_a_floor_above_the_feature_count_still_lets_every_feature_flag() -> None:
    strict = MonitoringConfig(min_drifted_features=5)
    assert strict.drifted_features_needed(3) == 3, "capped at the contract's features"
    assert strict.flags_drift(3, 3), "all three drifted"
    assert not strict.flags_drift(2, 3), "two of three is not all"
    with pytest.raises(ValueError, match="at least one feature"):
        strict.drifted_features_needed(0)


def _three_feature_window(
    churn: DatasetContract,
    reference: pd.DataFrame,
    config: MonitoringConfig,
    *,
    shift_charges: bool,
    shift_tenure: bool,
) -> WindowSummary:
    assert len(churn.features) == 3, churn.features
    current = make_churn_frame(churn, 1500, seed=3, day=date(2026, 3, 8))
    if shift_charges:
        current["monthly_charges"] = (current["monthly_charges"] * 3).clip(0, 500)
    if shift_tenure:
        current["tenure_months"] = (current["tenure_months"] + 60).clip(0, 120)
    figures = classification_performance(reference, churn, threshold=0.5).as_reference()
    return evaluate_window(
        reference,
        current,
        churn,
        labelled=None,
        reference_performance=figures,
        threshold=0.5,
        config=config,
    ).summary


def test_one_drifted_column_of_three_does_not_flag_the_window(
    churn: DatasetContract, churn_reference: pd.DataFrame
) -> None:
    summary = _three_feature_window(
        churn, churn_reference, MonitoringConfig(), shift_charges=True, shift_tenure=False
    )
    assert summary.drifted_features == ["monthly_charges"], summary.feature_drift
    assert summary.drift_share == pytest.approx(1 / 3), "above the 0.30 share threshold"
    assert not summary.data_drift_detected, "one column of three alone does not alarm"
    assert summary.min_drifted_features == 2, "the summary records the floor it used"
    legacy = _three_feature_window(
        churn,
        churn_reference,
        MonitoringConfig(min_drifted_features=1),
        shift_charges=True,
        shift_tenure=False,
    )
    assert legacy.data_drift_detected, "the share-only rule flagged it"


def test_two_drifted_columns_of_three_flag_the_window(
    churn: DatasetContract, churn_reference: pd.DataFrame
) -> None:
    summary = _three_feature_window(
        churn, churn_reference, MonitoringConfig(), shift_charges=True, shift_tenure=True
    )
    assert summary.drifted_features == ["tenure_months", "monthly_charges"], summary
    assert summary.data_drift_detected, "two of three is a real shift"


def test_a_clean_three_feature_window_is_not_flagged(
    churn: DatasetContract, churn_reference: pd.DataFrame
) -> None:
    summary = _three_feature_window(
        churn, churn_reference, MonitoringConfig(), shift_charges=False, shift_tenure=False
    )
    assert summary.n_drifted_features == 0, summary.feature_drift
    assert not summary.data_drift_detected, "same process as the reference"
