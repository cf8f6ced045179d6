"""Drift statistics on a seeded sample; quality counts and performance on every row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring import labels as labels_module
from monitoring.config import MonitoringConfig
from monitoring.performance import classification_performance
from monitoring.reports import WindowResult, drift_sample, evaluate_window
from tests.monitoring.frames import make_frame

THRESHOLD = 0.2
SAMPLE = 1_000


def _evaluate(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    config: MonitoringConfig,
) -> WindowResult:
    return evaluate_window(
        reference,
        current,
        contract,
        labelled=current,
        reference_performance=classification_performance(
            reference, contract, threshold=THRESHOLD
        ).as_reference(),
        threshold=THRESHOLD,
        config=config,
        charts=False,
    )


@pytest.fixture(scope="module")
def window(contract: DatasetContract) -> pd.DataFrame:
    """4,000 rows (four times the sample) with out-of-range amounts, gaps, unseen categories."""
    frame = make_frame(contract, 4_000, seed=11)
    frame.loc[::97, "amount"] = -5.0
    frame.loc[::89, "customer_age"] = np.nan
    frame.loc[::53, "country"] = "ZZ"
    return frame


def test_drift_sample_is_seeded_and_deterministic(window: pd.DataFrame) -> None:
    first = drift_sample(window, SAMPLE, 3)
    assert len(first) == SAMPLE
    pd.testing.assert_frame_equal(first, drift_sample(window, SAMPLE, 3))
    assert not first.equals(drift_sample(window, SAMPLE, 4))
    assert drift_sample(window, None, 3) is window
    assert drift_sample(window, len(window), 3) is window


def test_sampled_window_keeps_exact_quality_and_performance(
    contract: DatasetContract, reference: pd.DataFrame, window: pd.DataFrame
) -> None:
    sampled_config = MonitoringConfig(min_labelled_positives=20, drift_sample_rows=SAMPLE)
    full_config = MonitoringConfig(min_labelled_positives=20, drift_sample_rows=None)
    sampled = _evaluate(reference, window, contract, sampled_config).summary
    full = _evaluate(reference, window, contract, full_config).summary

    quality = sampled.quality
    assert quality.n_rows == len(window) == sampled.n_rows
    for column in [*contract.features, contract.score_name]:
        expected = float(pd.to_numeric(window[column], errors="coerce").isna().mean())
        if column in contract.categorical_features:
            expected = float(window[column].isna().mean())
        assert quality.missing_share[column] == pytest.approx(expected)
    amount = contract.columns["amount"]
    values = window["amount"]
    expected_out = int(values.notna().sum() - values.between(amount.min, amount.max).sum())
    assert quality.out_of_range_rows["amount"] == expected_out == len(window[::97])
    assert quality.unseen_categories["country"].not_in_contract_rows == len(window[::53])
    # Same counts as Evidently's on the unsampled run.
    assert quality == full.quality
    assert sampled.performance == full.performance
    assert sampled.n_labelled == full.n_labelled == len(window)
    assert any("drift_sample_rows=1000" in w for w in sampled.warnings)
    assert not any("drift_sample_rows" in w for w in full.warnings)
    # The sample is seeded: the same window gives the same drift figures.
    again = _evaluate(reference, window, contract, sampled_config).summary
    assert again.feature_drift == sampled.feature_drift
    assert again.prediction_drift == sampled.prediction_drift


def test_window_smaller_than_the_sample_is_not_sampled(
    contract: DatasetContract, reference: pd.DataFrame
) -> None:
    small = make_frame(contract, 800, seed=12)
    config = MonitoringConfig(min_labelled_positives=20, drift_sample_rows=5_000)
    sampled = _evaluate(reference, small, contract, config).summary
    full = _evaluate(
        reference, small, contract, config.model_copy(update={"drift_sample_rows": None})
    ).summary
    assert not any("drift_sample_rows" in w for w in sampled.warnings)
    assert sampled.feature_drift == full.feature_drift
    assert sampled.quality == full.quality


def test_columnar_log_reader_matches_the_line_reader(
    contract: DatasetContract, tmp_path: Path
) -> None:
    frame = make_frame(contract, 300, seed=13)
    frame["logged_at"] = frame["event_time"]
    records = json.loads(
        frame.drop(columns=["label_available_at"]).to_json(orient="records", date_format="iso")
    )
    path = tmp_path / "2026-03-01.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    fast = labels_module._arrow_frame(path, contract)
    assert fast is not None
    lines, _, bad = labels_module._read_json_lines(path)
    assert not bad
    slow = pd.DataFrame.from_records(lines)
    for column in ("event_time", "logged_at"):
        slow[column] = pd.to_datetime(slow[column], utc=True, format="ISO8601").dt.tz_convert(None)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    path.write_text(path.read_text(encoding="utf-8") + '{"transaction_id": "half', "utf-8")
    assert labels_module._arrow_frame(path, contract) is None
