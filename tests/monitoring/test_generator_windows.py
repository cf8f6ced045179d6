"""The project's own generator against the monitor: the control stays quiet, a shift is caught.

The score is a fixed stand-in (no model is trained here): drift of the features does not depend
on it, and its own drift follows the features it reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.generator import generate_day
from data.scenarios import get_scenario, scenario_timeline
from features.contract import DatasetContract
from monitoring.config import MonitoringConfig
from monitoring.reports import WindowResult, evaluate_window

DAYS = 30
SEED = 7
ROWS_PER_DAY = 1500
REFERENCE_DAYS = range(10, 17)  # a 7-day holdout before the onset
LATE_DAY = 29


def stand_in_score(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    logit = (
        -6.0
        + 0.5 * np.log(frame["amount"])
        + 1.0 * (frame["channel"] == "online")
        + 0.4 * frame["txn_count_1h"]
    )
    return frame.assign(**{contract.score_name: 1 / (1 + np.exp(-logit))})


def day(scenario: str, index: int, contract: DatasetContract) -> pd.DataFrame:
    """Day ``index`` of a ``DAYS``-day run, as ``generate(scenario, DAYS, SEED)`` yields it."""
    frame = generate_day(index, get_scenario(scenario), seed=SEED, days=DAYS, rows=ROWS_PER_DAY)
    return stand_in_score(frame, contract)


@pytest.fixture(scope="module")
def windows(contract: DatasetContract) -> dict[str, WindowResult]:
    reference = pd.concat([day("none", i, contract) for i in REFERENCE_DAYS], ignore_index=True)
    return {
        name: evaluate_window(
            reference,
            day(name, LATE_DAY, contract),
            contract,
            labelled=None,
            reference_performance={},
            threshold=0.2,
            config=MonitoringConfig(),
        )
        for name in ("none", "covariate_shift")
    }


def test_late_window_is_after_the_onset() -> None:
    timeline = scenario_timeline("covariate_shift", DAYS)
    assert timeline.is_drifted(LATE_DAY), f"onset {timeline.onset_day}"


def test_control_window_is_not_flagged(windows: dict[str, WindowResult]) -> None:
    summary = windows["none"].summary
    assert not summary.data_drift_detected, f"flagged: {summary.drifted_features}"
    assert summary.drift_share == 0.0, f"no feature should drift: {summary.drifted_features}"
    assert summary.performance is None, "no labels given"
    assert "no labelled predictions" in summary.performance_note, summary.performance_note


def test_covariate_shift_window_is_flagged(windows: dict[str, WindowResult]) -> None:
    summary = windows["covariate_shift"].summary
    assert summary.data_drift_detected, (
        f"drift share {summary.drift_share}: {summary.drifted_features}"
    )
    assert "amount" in summary.drifted_features, "higher amounts after the onset"
    assert summary.drift_share > windows["none"].summary.drift_share, "more drift than control"
