from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring.errors import EmptyWindowError, MetricNotFoundError, MonitoringInputError
from monitoring.performance import classification_performance
from monitoring.reports import (
    WindowResult,
    data_definition,
    evaluate_window,
    find_metric,
    unseen_categories,
)
from monitoring.summary import WindowSummary
from tests.monitoring.frames import make_frame

THRESHOLD = 0.2
DRIFT_SHARE = 0.3


def evaluate(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    labelled: pd.DataFrame | None = None,
) -> WindowResult:
    reference_performance = classification_performance(
        reference, contract, threshold=THRESHOLD
    ).as_reference()
    return evaluate_window(
        reference,
        current,
        contract,
        labelled=labelled,
        reference_performance=reference_performance,
        threshold=THRESHOLD,
        drift_share_threshold=DRIFT_SHARE,
    )


@pytest.fixture(scope="module")
def stationary(contract: DatasetContract, reference: pd.DataFrame) -> WindowResult:
    """Same process as the reference, every label matured."""
    current = make_frame(contract, 1500, seed=2, day=date(2026, 3, 8))
    return evaluate(reference, current, contract, labelled=current)


@pytest.fixture(scope="module")
def shifted(contract: DatasetContract, reference: pd.DataFrame) -> WindowResult:
    """Half the features moved, values the contract does not know, a feature emptied."""
    current = make_frame(contract, 1500, seed=3, day=date(2026, 3, 9), shift=1.0)
    current.loc[:6, "merchant_category"] = "crypto"
    current.loc[10:12, "country"] = "XX"
    current["device_trust_score"] = np.nan  # the device-trust feed broke
    return evaluate(reference, current, contract)


def test_stationary_window_is_not_flagged(stationary: WindowResult) -> None:
    summary = stationary.summary
    assert not summary.data_drift_detected, f"drifted: {summary.drifted_features}"
    assert summary.drift_share < DRIFT_SHARE, f"drift share {summary.drift_share}"
    assert not summary.prediction_drift.drifted, f"score drift {summary.prediction_drift}"
    methods = {d.method for d in summary.feature_drift.values()}
    assert methods <= {"Wasserstein distance (normed)", "Jensen-Shannon distance"}, methods
    assert list(summary.feature_drift) == list(stationary_contract_features()), "contract order"


def stationary_contract_features() -> tuple[str, ...]:
    return (
        "amount",
        "merchant_category",
        "channel",
        "country",
        "customer_age",
        "account_age_days",
        "txn_count_1h",
        "txn_count_24h",
        "distance_from_home_km",
        "device_trust_score",
    )


def test_shifted_window_is_flagged(shifted: WindowResult) -> None:
    summary = shifted.summary
    assert summary.data_drift_detected, f"drift share {summary.drift_share}"
    assert {"amount", "channel", "country", "distance_from_home_km"} <= set(
        summary.drifted_features
    ), summary.drifted_features
    assert summary.n_drifted_features == len(summary.drifted_features), (
        "Evidently's count agrees with its per-column verdicts"
    )
    assert summary.drift_share == pytest.approx(len(summary.drifted_features) / 10), "share"


def test_a_feature_emptied_in_the_window_counts_as_drifted(shifted: WindowResult) -> None:
    drift = shifted.summary.feature_drift["device_trust_score"]
    assert drift.drifted, "no value left is a change"
    assert drift.score is None, "Evidently cannot compare an empty column"
    assert "every value is missing" in drift.method, drift.method
    assert shifted.summary.quality.missing_share["device_trust_score"] == 1.0, "all missing"


def test_unseen_categories_are_reported_with_examples(shifted: WindowResult) -> None:
    unseen = shifted.summary.quality.unseen_categories
    assert unseen["merchant_category"].not_in_contract_rows == 7, unseen["merchant_category"]
    assert unseen["merchant_category"].not_in_contract_examples == ("crypto",), "example"
    assert unseen["country"].not_in_contract_rows == 3, unseen["country"]
    assert not unseen["channel"].found, unseen["channel"]


def test_unseen_categories_separates_contract_from_reference(
    contract: DatasetContract,
) -> None:
    reference = pd.DataFrame(
        {"merchant_category": ["grocery", "fuel"], "channel": ["online"] * 2, "country": ["DE"] * 2}
    )
    current = pd.DataFrame(
        {
            "merchant_category": ["grocery", "gaming", "gaming", "crypto", np.nan],
            "channel": ["online"] * 5,
            "country": ["DE"] * 5,
        }
    )
    found = unseen_categories(current, reference, contract)["merchant_category"]
    assert found.not_in_contract_rows == 1, "crypto is not in the contract"
    assert found.not_in_reference_rows == 3, "gaming twice and crypto were never in reference"
    assert found.not_in_reference_examples == ("gaming", "crypto"), "most frequent first"


def test_quality_reads_missing_share_and_out_of_range(stationary: WindowResult) -> None:
    quality = stationary.summary.quality
    assert quality.n_rows == 1500, quality.n_rows
    assert 0.2 < quality.missing_share["device_trust_score"] < 0.6, "card-present rows"
    assert quality.missing_share["amount"] == 0.0, "amount is never missing"
    assert (
        abs(
            quality.missing_share["device_trust_score"]
            - quality.reference_missing_share["device_trust_score"]
        )
        < 0.1
    ), "same process, similar missing share"
    assert set(quality.out_of_range_rows) == {
        "amount",
        "customer_age",
        "account_age_days",
        "txn_count_1h",
        "txn_count_24h",
        "distance_from_home_km",
        "device_trust_score",
    }, "every bounded numeric feature"
    assert sum(quality.out_of_range_rows.values()) == 0, quality.out_of_range_rows


def test_summary_round_trips_through_json(stationary: WindowResult) -> None:
    text = json.dumps(stationary.summary.to_dict())
    again = WindowSummary.from_dict(json.loads(text))
    assert again == stationary.summary, "JSON round trip is lossless"


def test_summary_from_bad_dict_names_the_field(stationary: WindowResult) -> None:
    data = stationary.summary.to_dict()
    del data["drift_share"]
    with pytest.raises(ValueError, match="drift_share"):
        WindowSummary.from_dict(data)


def test_metrics_are_read_by_name_not_position(stationary: WindowResult) -> None:
    snapshot: dict[str, Any] = stationary.snapshot.dict()
    shuffled = {"metrics": list(snapshot["metrics"]), "tests": snapshot["tests"]}
    random.Random(0).shuffle(shuffled["metrics"])
    amount = find_metric(shuffled, "ValueDrift", column="amount")
    assert float(amount["value"]) == stationary.summary.feature_drift["amount"].score, "same"
    counted = find_metric(shuffled, "DriftedColumnsCount")
    assert counted["value"]["share"] == stationary.summary.drift_share, "drift share by name"
    with pytest.raises(MetricNotFoundError, match=r"found 0; ValueDrift metrics present"):
        find_metric(snapshot, "ValueDrift", column="no_such_column")
    with pytest.raises(MetricNotFoundError, match="found 11"):
        find_metric(snapshot, "MissingValueCount")  # ambiguous without its column


def test_performance_on_matured_labels_matches_evidently(stationary: WindowResult) -> None:
    performance = stationary.summary.performance
    assert performance is not None, stationary.summary.performance_note
    assert performance.label_coverage == 1.0, "every label matured"
    assert performance.n_labelled == 1500, performance.n_labelled
    assert performance.pr_auc_drop is not None, "reference PR-AUC was given"
    assert performance.pr_auc_drop == pytest.approx(
        performance.reference_pr_auc - performance.pr_auc  # type: ignore[operator]
    ), "drop = reference - current"
    assert stationary.performance_snapshot is not None, "performance was evaluated"
    evidently = stationary.performance_snapshot.dict()
    recall = [m for m in evidently["metrics"] if m["config"]["type"].endswith(":Recall")]
    assert len(recall) == 1, [m["metric_name"] for m in evidently["metrics"]]
    assert float(recall[0]["value"]) == pytest.approx(performance.recall_at_threshold), (
        "sklearn and Evidently agree on recall at the threshold"
    )


def test_concept_drift_shows_as_a_pr_auc_drop(
    contract: DatasetContract, reference: pd.DataFrame
) -> None:
    current = make_frame(contract, 1500, seed=4, day=date(2026, 3, 10), concept_drift=True)
    labelled = current.assign(is_fraud=current["is_fraud"].astype("Int64"))
    labelled.loc[labelled.index[::2], "is_fraud"] = pd.NA  # half the labels not matured yet
    result = evaluate(reference, current.drop(columns="is_fraud"), contract, labelled=labelled)
    performance = result.summary.performance
    assert performance is not None, result.summary.performance_note
    assert performance.label_coverage == pytest.approx(0.5), performance.label_coverage
    assert performance.pr_auc_drop is not None, "reference given"
    assert performance.pr_auc_drop > 0.3, f"the score ignores the label: {performance}"
    assert not result.summary.data_drift_detected, "features did not move"


def test_data_definition_follows_the_contract(contract: DatasetContract) -> None:
    definition = data_definition(contract)
    assert definition.numerical_columns == [*contract.numeric_features, "score"], "numerical"
    assert definition.categorical_columns == contract.categorical_features, "categorical"
    assert definition.id_column == "transaction_id", "id declared, never a feature"
    assert definition.timestamp == "event_time", "time declared, never a feature"
    assert definition.classification is None, "no label without with_label"
    labelled = data_definition(contract, with_label=True)
    assert labelled.classification[0].target == "is_fraud", "label is the target"
    assert labelled.classification[0].prediction_probas == "score", "score is the proba"
    with pytest.raises(ValueError, match="with_score"):
        data_definition(contract, with_score=False, with_label=True)


def test_missing_feature_and_bad_values_are_named(
    contract: DatasetContract, reference: pd.DataFrame
) -> None:
    current = make_frame(contract, 50, seed=5)
    with pytest.raises(MonitoringInputError, match="device_trust_score"):
        evaluate(reference, current.drop(columns="device_trust_score"), contract)
    bad = current.astype({"amount": "object"})
    bad.loc[3, "amount"] = "12,50"
    with pytest.raises(MonitoringInputError, match=r"'amount' must be numeric.*12,50"):
        evaluate(reference, bad, contract)
    with pytest.raises(EmptyWindowError, match="no rows"):
        evaluate(reference, current.iloc[:0], contract)
