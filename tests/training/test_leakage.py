from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from training.config import TrainingConfig
from training.leakage import (
    LeakageError,
    check_rows_after_cutoff,
    feature_aucs,
    run_leakage_checks,
)
from training.split import TimeSplit, time_split

MAX_AUC = TrainingConfig().max_single_feature_auc

CHECK_NAMES = [
    "features_present",
    "role_columns_in_features",
    "label_derived_features",
    "rows_after_cutoff",
    "id_in_train_and_holdout",
    "single_feature_auc",
]


@pytest.fixture
def split(contract: DatasetContract, transactions: pd.DataFrame) -> TimeSplit:
    return time_split(transactions, contract, pd.Timestamp("2026-01-31"), holdout_days=7)


def with_feature(split: TimeSplit, name: str, make: object) -> TimeSplit:
    """The split with a column ``name`` = make(part) added on both sides."""
    assert callable(make)
    return dataclasses.replace(
        split,
        train=split.train.assign(**{name: make(split.train)}),
        holdout=split.holdout.assign(**{name: make(split.holdout)}),
    )


def failures(excinfo: pytest.ExceptionInfo[LeakageError]) -> dict[str, str]:
    return {r.name: r.detail for r in excinfo.value.failed}


def test_clean_split_passes_every_check(split: TimeSplit, contract: DatasetContract) -> None:
    results = run_leakage_checks(split, contract, contract.features, max_single_feature_auc=MAX_AUC)
    assert [r.name for r in results] == CHECK_NAMES, f"unexpected checks: {results}"
    assert all(r.passed for r in results), f"clean data should pass: {results}"
    assert all(r.detail for r in results), "every result should explain itself"


def test_label_copy_as_feature_fails(split: TimeSplit, contract: DatasetContract) -> None:
    leaky = with_feature(split, "chargeback_flag", lambda p: p["is_fraud"])
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            leaky, contract, [*contract.features, "chargeback_flag"], max_single_feature_auc=MAX_AUC
        )
    found = failures(excinfo)
    assert "'chargeback_flag' equals the label" in found["label_derived_features"], found
    assert "label_derived_features" in str(excinfo.value), "the message should name the check"
    assert "'chargeback_flag' 1.0000" in found["single_feature_auc"], found


def test_one_minus_label_feature_fails(split: TimeSplit, contract: DatasetContract) -> None:
    leaky = with_feature(split, "is_legit", lambda p: 1 - p["is_fraud"])
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            leaky, contract, [*contract.features, "is_legit"], max_single_feature_auc=MAX_AUC
        )
    found = failures(excinfo)
    assert "'is_legit' equals 1 - label" in found["label_derived_features"], found


def test_two_value_text_encoding_of_the_label_fails(
    split: TimeSplit, contract: DatasetContract
) -> None:
    leaky = with_feature(
        split, "review", lambda p: np.where(p["is_fraud"] == 1, "disputed", "ok").astype(object)
    )
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            leaky, contract, [*contract.features, "review"], max_single_feature_auc=MAX_AUC
        )
    detail = failures(excinfo)["label_derived_features"]
    assert "'review' maps each value to one label" in detail, detail
    assert "'disputed' -> 1" in detail, detail
    assert "'ok' -> 0" in detail, detail


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("label_available_at", "the time the label became known"),
        ("is_fraud", "the label"),
        ("transaction_id", "the row id"),
    ],
)
def test_role_column_as_feature_fails(
    split: TimeSplit, contract: DatasetContract, column: str, role: str
) -> None:
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            split, contract, [*contract.features, column], max_single_feature_auc=MAX_AUC
        )
    detail = failures(excinfo)["role_columns_in_features"]
    assert f"'{column}' ({role})" in detail, detail


def test_missing_feature_fails(split: TimeSplit, contract: DatasetContract) -> None:
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            split, contract, [*contract.features, "not_there"], max_single_feature_auc=MAX_AUC
        )
    detail = failures(excinfo)["features_present"]
    assert "train lacks ['not_there']" in detail, detail
    assert "holdout lacks ['not_there']" in detail, detail


def test_rows_after_cutoff_fail(split: TimeSplit, contract: DatasetContract) -> None:
    holdout = split.holdout.copy()
    holdout.loc[:2, "label_available_at"] = split.cutoff + pd.Timedelta(hours=1)
    train = split.train.copy()
    train.loc[0, "event_time"] = split.cutoff + pd.Timedelta(days=1)
    late = dataclasses.replace(split, train=train, holdout=holdout)
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(late, contract, contract.features, max_single_feature_auc=MAX_AUC)
    detail = failures(excinfo)["rows_after_cutoff"]
    assert f"train: 1 of {len(train)} rows have 'event_time' > cutoff" in detail, detail
    assert (
        f"holdout: 3 of {len(holdout)} rows have a label known after the cutoff or never "
        "(known at 'label_available_at')"
    ) in detail, detail


def test_missing_label_time_counts_as_after_cutoff(
    split: TimeSplit, contract: DatasetContract
) -> None:
    train = split.train.copy()
    train.loc[:4, "label_available_at"] = pd.NaT
    result = check_rows_after_cutoff(dataclasses.replace(split, train=train), contract)
    assert not result.passed, "a row with no label time was not labelled by the cutoff"
    assert "train: 5 of" in result.detail, result.detail


def test_same_id_in_train_and_holdout_fails(split: TimeSplit, contract: DatasetContract) -> None:
    holdout = pd.concat([split.holdout, split.train.head(2)], ignore_index=True)
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            dataclasses.replace(split, holdout=holdout),
            contract,
            contract.features,
            max_single_feature_auc=MAX_AUC,
        )
    detail = failures(excinfo)["id_in_train_and_holdout"]
    ids = sorted(split.train["transaction_id"].head(2))
    assert detail.startswith("2 'transaction_id' value(s)"), detail
    assert all(i in detail for i in ids), f"the message should show the ids {ids}: {detail}"


def test_near_perfect_numeric_feature_fails(split: TimeSplit, contract: DatasetContract) -> None:
    rng = np.random.default_rng(1)

    def noisy_label(p: pd.DataFrame) -> np.ndarray:
        return p["is_fraud"].to_numpy() * 2.0 + rng.uniform(0.0, 1.5, len(p))

    leaky = with_feature(split, "dispute_score", noisy_label)
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            leaky, contract, [*contract.features, "dispute_score"], max_single_feature_auc=MAX_AUC
        )
    found = failures(excinfo)
    assert list(found) == ["single_feature_auc"], f"only the AUC check should fire: {found}"
    assert "'dispute_score' 1.0000" in found["single_feature_auc"], found


def test_missingness_that_reveals_the_label_fails(
    split: TimeSplit, contract: DatasetContract
) -> None:
    rng = np.random.default_rng(2)

    def blank_for_fraud(p: pd.DataFrame) -> np.ndarray:
        values = rng.uniform(0.0, 1.0, len(p))
        values[p["is_fraud"].to_numpy() == 1] = np.nan
        return values

    leaky = with_feature(split, "refund_ratio", blank_for_fraud)
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            leaky, contract, [*contract.features, "refund_ratio"], max_single_feature_auc=MAX_AUC
        )
    assert "'refund_ratio' 1.0000" in failures(excinfo)["single_feature_auc"], failures(excinfo)


def test_threshold_is_a_parameter(split: TimeSplit, contract: DatasetContract) -> None:
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(split, contract, contract.features, max_single_feature_auc=0.6)
    assert "ROC-AUC >= 0.6" in failures(excinfo)["single_feature_auc"], failures(excinfo)


def test_feature_aucs_by_hand(contract: DatasetContract) -> None:
    train = pd.DataFrame(
        {
            "is_fraud": [0, 0, 1, 1],
            "up": [1.0, 2.0, 3.0, 4.0],
            "mixed": [2.0, 1.0, 3.0, 0.5],
            "tied": [1.0, 1.0, 1.0, 1.0],
            "channel": ["online", "card_present", "online", "contactless"],
        }
    )
    aucs = feature_aucs(train, contract, ["up", "mixed", "tied", "channel"])
    # mixed: positives rank 4 and 1 -> (5 - 3) / 4 = 0.5; tied: all ranks equal -> 0.5.
    # channel: target rates online 0.5, card_present 0, contactless 1 -> encoded
    # [0.5, 0, 0.5, 1]: positives rank 2.5 and 4 -> (6.5 - 3) / 4 = 0.875.
    expected = {"up": 1.0, "mixed": 0.5, "tied": 0.5, "channel": 0.875}
    assert aucs == pytest.approx(expected), f"got {aucs}"


def test_label_delay_contract_checks_event_plus_delay(
    churn_contract: DatasetContract, churn: pd.DataFrame
) -> None:
    frame = churn.assign(churned=churn_contract.binary_labels(churn["churned"]))
    split = time_split(frame, churn_contract, pd.Timestamp("2026-02-05"), holdout_days=5)
    assert check_rows_after_cutoff(split, churn_contract).passed, "a clean split passes"
    # An event 2 days before the cutoff is known only 5 days after it.
    holdout = split.holdout.copy()
    holdout.loc[:1, "snapshot_at"] = split.cutoff - pd.Timedelta(days=2)
    result = check_rows_after_cutoff(dataclasses.replace(split, holdout=holdout), churn_contract)
    assert not result.passed, "a label known 7d after an event 2 days old is not known yet"
    assert (
        f"holdout: 2 of {len(holdout)} rows have a label known after the cutoff or never "
        "(known 7d after 'snapshot_at')"
    ) in result.detail, result.detail


def test_role_check_without_a_label_available_column(
    churn_contract: DatasetContract, churn: pd.DataFrame
) -> None:
    frame = churn.assign(churned=churn_contract.binary_labels(churn["churned"]))
    split = time_split(frame, churn_contract, pd.Timestamp("2026-02-05"), holdout_days=5)
    results = run_leakage_checks(
        split, churn_contract, churn_contract.features, max_single_feature_auc=MAX_AUC
    )
    roles = next(r for r in results if r.name == "role_columns_in_features")
    assert roles.detail == "none of ['churned', 'row_id'] among the 4 features", roles.detail
    with pytest.raises(LeakageError) as excinfo:
        run_leakage_checks(
            split, churn_contract, [*churn_contract.features, "row_id"], max_single_feature_auc=1
        )
    assert "'row_id' (the row id)" in failures(excinfo)["role_columns_in_features"], excinfo
