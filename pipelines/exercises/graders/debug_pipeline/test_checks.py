"""The behaviours each fault breaks, two checks per fault, named ``test_<fault>_...``."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

import pandas as pd

from features.contract import DatasetContract


def test_label_maturity_labels_unknown_at_the_cutoff_are_left_out(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp
) -> None:
    from training.split import labelled_at

    kept = labelled_at(frame, contract, cutoff)
    assert (contract.label_known_at(kept) <= cutoff).all()
    assert len(kept) < len(frame), "some labels are not known yet at the cutoff"


def test_label_maturity_a_split_uses_only_mature_labels(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp
) -> None:
    from training.split import time_split

    split = time_split(frame, contract, cutoff, holdout_days=7)
    for side in (split.train, split.holdout):
        assert (contract.label_known_at(side) <= cutoff).all()


def test_future_rows_train_ends_before_the_holdout_begins(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp
) -> None:
    from training.split import time_split

    split = time_split(frame, contract, cutoff, holdout_days=7)
    time = contract.event_time_column
    assert split.train[time].max().normalize() < split.holdout[time].min().normalize()


def test_future_rows_no_row_is_on_both_sides(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp
) -> None:
    from training.split import time_split

    split = time_split(frame, contract, cutoff, holdout_days=7)
    shared = set(split.train[contract.id_column]) & set(split.holdout[contract.id_column])
    assert not shared


def test_drift_flag_no_drifted_feature_is_no_drift() -> None:
    from monitoring.config import MonitoringConfig

    assert not MonitoringConfig().flags_drift(0, 10)


def test_drift_flag_drift_is_flagged_from_the_needed_count() -> None:
    from monitoring.config import MonitoringConfig

    config = MonitoringConfig()
    needed = config.drifted_features_needed(10)
    assert config.flags_drift(10, 10)
    assert config.flags_drift(needed, 10)
    assert not config.flags_drift(needed - 1, 10)


def test_leaky_feature_the_model_input_is_the_contracts_features(
    frame: pd.DataFrame, contract: DatasetContract
) -> None:
    from training.fit import feature_frame

    assert list(feature_frame(frame, contract).columns) == list(contract.features)


def test_leaky_feature_the_pipeline_reads_no_label(contract: DatasetContract) -> None:
    from training.fit import build_pipeline

    pipeline = build_pipeline(contract, contract.model)
    read = [c for _, _, columns in pipeline.named_steps["features"].transformers for c in columns]
    assert contract.label_column not in read
    assert sorted(read) == sorted(contract.features)
