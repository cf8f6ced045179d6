from __future__ import annotations

import json
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.contract import DatasetContract
from features.metrics import confusion_at, pr_auc
from monitoring.config import MonitoringConfig
from monitoring.errors import EmptyWindowError, MetricNotFoundError, MonitoringInputError
from monitoring.labels import matured_performance_frame, read_labels
from monitoring.performance import classification_performance, segment_performance
from monitoring.reports import (
    WindowResult,
    data_definition,
    evaluate_window,
    find_metric,
    unseen_categories,
)
from monitoring.summary import WindowSummary
from tests.monitoring.frames import make_churn_frame, make_frame, with_region_segment

THRESHOLD = 0.2
SCORE = "fraud_probability"


def evaluate(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    config: MonitoringConfig,
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
        config=config,
    )


@pytest.fixture(scope="module")
def stationary(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> WindowResult:
    """Same process as the reference, every label matured."""
    current = make_frame(contract, 1500, seed=2, day=date(2026, 3, 8))
    return evaluate(reference, current, contract, config, labelled=current)


@pytest.fixture(scope="module")
def shifted(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> WindowResult:
    """Half the features moved, values the contract does not know, a feature emptied."""
    current = make_frame(contract, 1500, seed=3, day=date(2026, 3, 9), shift=1.0)
    current.loc[:6, "merchant_category"] = "crypto"
    current.loc[10:12, "country"] = "XX"
    current["device_trust_score"] = np.nan  # the device-trust feed broke
    return evaluate(reference, current, contract, config)


def test_stationary_window_is_not_flagged(stationary: WindowResult) -> None:
    summary = stationary.summary
    assert not summary.data_drift_detected, f"drifted: {summary.drifted_features}"
    assert summary.drift_share < summary.drift_share_threshold, f"share {summary.drift_share}"
    assert summary.drift_share_threshold == 0.3, "the config's threshold is recorded"
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
    assert not stationary.summary.warnings, stationary.summary.warnings
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
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> None:
    current = make_frame(contract, 1500, seed=4, day=date(2026, 3, 10), concept_drift=True)
    labelled = current.assign(is_fraud=current["is_fraud"].astype("Int64"))
    labelled.loc[labelled.index[::2], "is_fraud"] = pd.NA  # half the labels not matured yet
    result = evaluate(
        reference, current.drop(columns="is_fraud"), contract, config, labelled=labelled
    )
    performance = result.summary.performance
    assert performance is not None, result.summary.performance_note
    assert performance.label_coverage == pytest.approx(0.5), performance.label_coverage
    assert performance.pr_auc_drop is not None, "reference given"
    assert performance.pr_auc_drop > 0.3, f"the score ignores the label: {performance}"
    assert not result.summary.data_drift_detected, "features did not move"


def test_data_definition_follows_the_contract(contract: DatasetContract) -> None:
    definition = data_definition(contract)
    assert definition.numerical_columns == [*contract.numeric_features, SCORE], "numerical"
    assert definition.categorical_columns == contract.categorical_features, "categorical"
    assert definition.id_column == "transaction_id", "id declared, never a feature"
    assert definition.timestamp == "event_time", "time declared, never a feature"
    assert definition.classification is None, "no label without with_label"
    labelled = data_definition(contract, with_label=True)
    assert labelled.classification[0].target == "is_fraud", "label is the target"
    assert labelled.classification[0].prediction_probas == SCORE, "the contract's score"
    with pytest.raises(ValueError, match="with_score"):
        data_definition(contract, with_score=False, with_label=True)


def test_missing_feature_and_bad_values_are_named(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> None:
    current = make_frame(contract, 50, seed=5)
    with pytest.raises(MonitoringInputError, match="device_trust_score"):
        evaluate(reference, current.drop(columns="device_trust_score"), contract, config)
    with pytest.raises(MonitoringInputError, match=SCORE):
        evaluate(reference, current.drop(columns=SCORE), contract, config)
    bad = current.astype({"amount": "object"})
    bad.loc[3, "amount"] = "12,50"
    with pytest.raises(MonitoringInputError, match=r"'amount' must be numeric.*12,50"):
        evaluate(reference, bad, contract, config)
    with pytest.raises(EmptyWindowError, match="no rows"):
        evaluate(reference, current.iloc[:0], contract, config)


# --- per-segment performance -----------------------------------------------------------------


def test_performance_is_reported_per_segment(stationary: WindowResult) -> None:
    performance = stationary.summary.performance
    assert performance is not None, stationary.summary.performance_note
    assert list(performance.segments) == ["channel", "merchant_category"], "contract segments"
    channel = performance.segments["channel"]
    assert list(channel) == ["card_present", "contactless", "online"], "contract order"
    assert sum(s.n_labelled for s in channel.values()) == performance.n_labelled, "a partition"
    assert sum(s.n_positives for s in channel.values()) == performance.n_positives, "positives"
    for name, figures in channel.items():
        assert figures.pr_auc is not None, f"{name}: both classes, so a PR-AUC"
        assert 0 < figures.pr_auc <= 1, f"{name}: {figures}"


def test_segment_figures_come_from_the_metric_core(contract: DatasetContract) -> None:
    segmented = with_region_segment(contract)
    frame = pd.DataFrame(
        {
            "region": ["north", "north", "north", "north", "south", "south", None],
            "channel": ["online"] * 7,
            "merchant_category": ["fuel"] * 7,
            "is_fraud": [1, 0, 1, 0, 0, 0, 1],
            SCORE: [0.9, 0.3, 0.1, 0.05, 0.1, 0.15, 0.8],
        }
    )
    found = segment_performance(frame, segmented, threshold=THRESHOLD)
    assert list(found) == ["channel", "merchant_category", "region"], "extra segment last"
    north, south, missing = (found["region"][k] for k in ("north", "south", "(missing)"))
    y = np.array([1, 0, 1, 0], dtype=np.int64)
    p = np.array([0.9, 0.3, 0.1, 0.05])
    counts = confusion_at(y, p, THRESHOLD)
    assert (north.n_labelled, north.n_positives) == (4, 2), north
    assert north.pr_auc == pytest.approx(pr_auc(y, p)), "the metric core's PR-AUC"
    assert north.recall_at_threshold == counts.recall == 0.5, north
    assert north.precision_at_threshold == counts.precision == 0.5, north
    assert south.pr_auc is None, "no positive in the south: PR-AUC undefined"
    assert south.recall_at_threshold is None, "no positive: recall undefined"
    assert south.precision_at_threshold is None, "nothing flagged: precision undefined"
    assert (missing.n_labelled, missing.recall_at_threshold) == (1, 1.0), "missing is a key"
    assert "(missing)" not in found["channel"], "only where values are missing"


def test_an_int_segment_is_keyed_by_its_codes(churn: DatasetContract) -> None:
    raw = churn.model_dump(mode="json")
    raw["label_delay"] = "7d"
    raw["columns"]["tier"] = {"dtype": "int", "categories": [1, 2], "nullable": True}
    raw["segments"] = ["tier"]
    tiered = type(churn).model_validate(raw)
    frame = pd.DataFrame(
        {
            "tier": [2.0, 1.0, np.nan, 2.0],  # as read from JSON lines with a null
            "churned": [1, 0, 1, 0],
            "churn_probability": [0.9, 0.1, 0.6, 0.3],
        }
    )
    found = segment_performance(frame, tiered, threshold=0.5)["tier"]
    assert list(found) == ["1", "2", "(missing)"], "codes as text, declared order, missing last"
    assert found["2"].n_labelled == 2, found


# --- the minimum number of positives ---------------------------------------------------------


def test_too_few_positives_skip_performance_with_a_warning(
    contract: DatasetContract, reference: pd.DataFrame
) -> None:
    current = make_frame(contract, 150, seed=6, day=date(2026, 3, 11))
    current.loc[:9, "is_fraud"] = 1  # make sure both classes are there
    positives = int(current["is_fraud"].sum())
    enough = MonitoringConfig(min_labelled_positives=positives)
    evaluated = evaluate(reference, current, contract, enough, labelled=current)
    assert evaluated.summary.performance is not None, evaluated.summary.performance_note
    assert evaluated.summary.performance.n_positives == positives, "exactly the minimum"
    assert evaluated.performance_snapshot is not None, "Evidently's report built"

    one_short = MonitoringConfig(min_labelled_positives=positives + 1)
    skipped = evaluate(reference, current, contract, one_short, labelled=current).summary
    assert skipped.performance is None, "one positive short: not evaluated"
    note = skipped.performance_note
    assert f"only {positives} positive label(s)" in note, note
    assert f"at least {positives + 1} are needed" in note, note
    assert note in skipped.warnings, "the skip is a warning too"
    assert (skipped.n_labelled, skipped.n_labelled_positives) == (150, positives), "counts kept"
    assert skipped.min_labelled_positives == positives + 1, "the requirement is recorded"
    assert any("fewer than the 200 (min_window_rows)" in w for w in skipped.warnings), (
        f"150 rows is a small window: {skipped.warnings}"
    )


def test_raw_text_labels_are_refused_not_counted_as_negatives(
    churn: DatasetContract, churn_reference: pd.DataFrame
) -> None:
    current = make_churn_frame(churn, 300, seed=8, day=date(2026, 3, 8))
    with pytest.raises(MonitoringInputError, match=r"must hold 0/1 \(1 = 'yes'\)"):
        evaluate_window(
            churn_reference,
            current,
            churn,
            labelled=current,  # "yes"/"no" as logged: never read as 0 positives
            reference_performance={},
            threshold=0.5,
            config=MonitoringConfig(),
        )


def test_one_class_only_is_not_evaluated(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> None:
    current = make_frame(contract, 300, seed=7, day=date(2026, 3, 12))
    labelled = current.assign(is_fraud=1)
    summary = evaluate(reference, current, contract, config, labelled=labelled).summary
    assert summary.performance is None, "PR-AUC needs both classes"
    assert "needs both classes" in summary.performance_note, summary.performance_note
    assert summary.performance_note in summary.warnings, summary.warnings


# --- a second contract: text labels, a label delay, a non-feature segment ---------------------


def test_text_label_contract_goes_through_labels_join_and_window(
    churn: DatasetContract, churn_reference: pd.DataFrame, tmp_path: Path
) -> None:
    current = make_churn_frame(
        churn, 2000, seed=2, day=date(2026, 3, 8), concept_drift_region="south"
    )
    predictions = current.drop(columns="churned")
    labels = current[["customer_id", "churned"]].assign(received_at="2026-03-20T00:00:00Z")
    labels.to_json(tmp_path / "labels.jsonl", orient="records", lines=True)
    read = read_labels(tmp_path, churn)
    assert set(read.frame["churned"]) == {0, 1}, "'yes'/'no' became 1/0"
    labelled = matured_performance_frame(
        predictions, read.frame, churn, as_of=datetime(2026, 3, 15, 12)
    )
    matured = labelled["churned"].notna()
    assert 0.2 < matured.mean() < 0.8, "7 days after events spread over 03-08: part matured"

    reference_performance = classification_performance(
        churn_reference, churn, threshold=0.5
    ).as_reference()
    assert set(reference_performance) >= {"pr_auc", "expected_cost_per_row"}, "renamed"
    result = evaluate_window(
        churn_reference,
        predictions,
        churn,
        labelled=labelled,
        reference_performance=reference_performance,
        threshold=0.5,
        config=MonitoringConfig(),
    )
    summary = result.summary
    assert list(summary.feature_drift) == list(churn.features), "drift over features only"
    assert summary.prediction_drift.column == "churn_probability", "the contract's score name"
    performance = summary.performance
    assert performance is not None, summary.performance_note
    assert performance.n_labelled == int(matured.sum()), "only matured labels"
    assert 0.1 < performance.n_positives / performance.n_labelled < 0.3, "about 20 % churn"
    region = performance.segments["region"]
    assert list(region) == ["north", "south"], "the non-feature segment is measured"
    north, south = region["north"], region["south"]
    assert north.pr_auc is not None, region
    assert south.pr_auc is not None, region
    assert north.pr_auc - south.pr_auc > 0.3, f"the score ignores churn in the south: {region}"
    rows = labelled[matured & (labelled["region"] == "north")]
    counts = confusion_at(
        rows["churned"].to_numpy(dtype=np.int64),
        rows["churn_probability"].to_numpy(dtype=np.float64),
        0.5,
    )
    assert north.recall_at_threshold == pytest.approx(counts.recall), "metric core recall"
    assert north.precision_at_threshold == pytest.approx(counts.precision), "and precision"
    assert list(performance.segments["plan"]) == ["basic", "plus", "premium"], "feature segment"


def test_a_window_without_charts_has_the_same_figures(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig
) -> None:
    """Skipping Evidently's charts (the benchmark's and write_html=False's path) changes no figure.

    The shifted window has drifted, emptied and unseen values, so every figure kind is compared;
    the second run with charts shows the swapped renderers were put back.
    """
    current = make_frame(contract, 1500, seed=3, day=date(2026, 3, 9), shift=1.0)
    current["device_trust_score"] = np.nan
    reference_performance = classification_performance(
        reference, contract, threshold=THRESHOLD
    ).as_reference()

    def run(charts: bool) -> WindowResult:
        return evaluate_window(
            reference,
            current,
            contract,
            labelled=current.assign(is_fraud=np.nan),
            reference_performance=reference_performance,
            threshold=THRESHOLD,
            config=config,
            charts=charts,
        )

    with_charts, without, again = run(True), run(False), run(True)
    assert without.summary.to_dict() == with_charts.summary.to_dict()
    assert without.summary.data_drift_detected, "the window compared is a drifted one"

    def chart_count(result: WindowResult) -> int:
        html: str = result.snapshot.get_html_str(as_iframe=False)
        return html.count("plotly_graph") + html.count('"type": "big_graph"')

    assert chart_count(without) < chart_count(with_charts), "charts were skipped"
    assert chart_count(again) == chart_count(with_charts), "the renderers are restored"
