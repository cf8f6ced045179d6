"""Evaluate one monitoring window against the champion's reference window with Evidently.

:func:`evaluate_window` is the pure core of the monitoring stage: DataFrames in, a
:class:`WindowResult` out (the Evidently snapshots for people, a :class:`WindowSummary` for the
retraining policy). It reads every Evidently figure by metric name and configuration, never by
position, with :func:`find_metric`. Files are written by :mod:`monitoring.window`.

Drift uses Evidently's default method per column: with more than 1000 reference rows,
normalised Wasserstein distance for numerical columns and Jensen-Shannon distance for
categorical ones (and for numerical columns with at most five distinct values), threshold 0.1;
with fewer reference rows, K-S / chi-square / Z-test p-values at 0.05.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.metrics import (
    MissingValueCount,
    OutListValueCount,
    OutRangeValueCount,
    RowCount,
    ValueDrift,
)
from evidently.presets import ClassificationPreset, DataDriftPreset

from features.contract import DatasetContract
from monitoring.errors import (
    EmptyWindowError,
    MetricNotFoundError,
    MonitoringError,
    MonitoringInputError,
)
from monitoring.performance import PerformanceFigures, classification_performance
from monitoring.summary import (
    ColumnDrift,
    DataQuality,
    PerformanceSummary,
    UnseenCategories,
    WindowSummary,
    window_id_for,
)

METRIC_TYPE_PREFIX = "evidently:metric_v2:"
MAX_EXAMPLES = 5
EMPTIED_METHOD = "not compared: every value is missing in the window"


@dataclass(frozen=True)
class WindowResult:
    """The Evidently snapshots of one window and the summary read from them.

    Attributes:
        summary: The numbers the retraining policy and people read.
        snapshot: Evidently snapshot with data drift, prediction (score) drift and data
            quality of the window against the reference.
        performance_snapshot: Evidently classification snapshot of the matured labels against
            the reference, or None when performance was not evaluated.
    """

    summary: WindowSummary
    snapshot: Any
    performance_snapshot: Any | None


def data_definition(
    contract: DatasetContract,
    *,
    with_score: bool = True,
    with_label: bool = False,
    score_column: str = "score",
) -> DataDefinition:
    """Evidently column mapping derived from the contract, so the two cannot disagree.

    Numerical and categorical columns are the contract's features (plus the model score,
    numerical); the id and event-time columns are declared as id and timestamp so Evidently
    never treats them as features. With ``with_label`` the label and the score are also declared
    as a binary classification task (positive class 1) for Evidently's classification metrics.

    Raises:
        ValueError: ``with_label`` without ``with_score`` (classification needs the score).
    """
    if with_label and not with_score:
        raise ValueError("with_label=True needs with_score=True: classification reads the score")
    numerical = contract.numeric_features + ([score_column] if with_score else [])
    classification = (
        [BinaryClassification(target=contract.label_column, prediction_probas=score_column)]
        if with_label
        else None
    )
    return DataDefinition(
        id_column=contract.id_column,
        timestamp=contract.event_time_column,
        numerical_columns=numerical,
        categorical_columns=contract.categorical_features,
        classification=classification,
    )


def find_metric(snapshot: Mapping[str, Any], name: str, **config: Any) -> dict[str, Any]:
    """The one metric of ``snapshot.dict()`` with this class name and these config values.

    Example: ``find_metric(d, "ValueDrift", column="amount")["value"]``.

    Raises:
        MetricNotFoundError: no metric, or more than one, matches.
    """
    wanted = METRIC_TYPE_PREFIX + name
    matches = [
        metric
        for metric in snapshot["metrics"]
        if metric.get("config", {}).get("type") == wanted
        and all(metric["config"].get(key) == value for key, value in config.items())
    ]
    if len(matches) != 1:
        same_type = [
            str(m.get("metric_name"))
            for m in snapshot["metrics"]
            if m.get("config", {}).get("type") == wanted
        ]
        kinds = sorted({str(m.get("config", {}).get("type", "?")) for m in snapshot["metrics"]})
        raise MetricNotFoundError(
            f"expected exactly one metric {name} with {config}, found {len(matches)}; "
            + (f"{name} metrics present: {same_type}" if same_type else f"types present: {kinds}")
        )
    return dict(matches[0])


def _drift_verdict(snapshot: Mapping[str, Any], metric: Mapping[str, Any]) -> bool:
    """Evidently's own drift verdict for a ValueDrift metric (its test fails on drift)."""
    tests = [
        test
        for test in snapshot["tests"]
        if test.get("id") == "drift"
        and test.get("metric_config", {}).get("metric_id") == metric["id"]
    ]
    if len(tests) != 1:
        raise MetricNotFoundError(
            f"expected one drift test for {metric['metric_name']}, found {len(tests)}"
        )
    status = tests[0]["status"]
    if status not in ("SUCCESS", "FAIL"):
        raise MonitoringError(
            f"Evidently could not judge drift for {metric['metric_name']}: test status {status}"
        )
    return bool(status == "FAIL")


def _column_drift(snapshot: Mapping[str, Any], column: str) -> ColumnDrift:
    metric = find_metric(snapshot, "ValueDrift", column=column)
    return ColumnDrift(
        column=column,
        method=str(metric["config"]["method"]),
        score=float(metric["value"]),
        threshold=float(metric["config"]["threshold"]),
        drifted=_drift_verdict(snapshot, metric),
    )


def _as_numeric(series: pd.Series, column: str, role: str) -> pd.Series:
    converted = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = converted.isna() & series.notna()
    if bad.any():
        examples = series[bad].unique()[:MAX_EXAMPLES].tolist()
        raise MonitoringInputError(
            f"{role} column '{column}' must be numeric; {int(bad.sum())} value(s) are not, "
            f"e.g. {examples}"
        )
    return converted


def _as_category(series: pd.Series) -> pd.Series:
    values = series.astype("object")
    return values.astype(str).where(values.notna(), np.nan)


def _evidently_frame(
    frame: pd.DataFrame,
    contract: DatasetContract,
    *,
    role: str,
    score_column: str,
    with_label: bool = False,
) -> pd.DataFrame:
    """Only the mapped columns, typed as Evidently expects; raise on what does not convert.

    Numbers become float64 and categories plain strings (missing values stay missing). The id
    and time columns are left out: Evidently has nothing to compare in them, and it rejects a
    declared column present in one frame only.
    """
    needed = [*contract.features, score_column] + ([contract.label_column] if with_label else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MonitoringInputError(
            f"{role} frame lacks column(s) {missing}: it needs every contract feature and "
            f"'{score_column}'" + (f" and '{contract.label_column}'" if with_label else "")
        )
    source = frame.reset_index(drop=True)
    out = pd.DataFrame(index=source.index)
    for column in [*contract.numeric_features, score_column]:
        out[column] = _as_numeric(source[column], column, role)
    for column in contract.categorical_features:
        out[column] = _as_category(source[column])
    if with_label:
        out[contract.label_column] = source[contract.label_column].astype("int64")
    return out


def _window_bounds(
    current: pd.DataFrame,
    contract: DatasetContract,
    start: date | None,
    end: date | None,
) -> tuple[date, date]:
    if start is not None and end is not None:
        return start, end
    column = contract.event_time_column
    if column not in current.columns:
        raise MonitoringInputError(
            f"pass window_start and window_end, or give the window frame an '{column}' column"
        )
    days = pd.to_datetime(current[column], format="ISO8601").dt.date
    return (start or days.min()), (end or days.max())


def unseen_categories(
    current: pd.DataFrame, reference: pd.DataFrame, contract: DatasetContract
) -> dict[str, UnseenCategories]:
    """Per categorical feature, the rows holding values outside the contract or the reference.

    Each count comes with up to five of the most frequent such values as examples. Both frames
    must already hold the categories as strings (missing values are ignored).
    """
    found: dict[str, UnseenCategories] = {}
    for column in contract.categorical_features:
        values = current[column].dropna()
        allowed = {str(v) for v in contract.columns[column].categories or ()}
        seen = set(reference[column].dropna().unique())
        outside_contract = values[~values.isin(allowed)]
        outside_reference = values[~values.isin(seen)]
        found[column] = UnseenCategories(
            not_in_contract_rows=len(outside_contract),
            not_in_contract_examples=_examples(outside_contract),
            not_in_reference_rows=len(outside_reference),
            not_in_reference_examples=_examples(outside_reference),
        )
    return found


def _examples(values: pd.Series) -> tuple[str, ...]:
    return tuple(str(v) for v in values.value_counts().index[:MAX_EXAMPLES])


def _measurable_features(
    current: pd.DataFrame, reference: pd.DataFrame, contract: DatasetContract, score_column: str
) -> list[str]:
    """Features with at least one value in both frames (Evidently cannot compare the others).

    Raises:
        MonitoringInputError: the reference has a feature without any value, or a score is
            missing in either frame (the reference and the log always carry one).
    """
    empty_in_reference = [c for c in contract.features if reference[c].isna().all()]
    if empty_in_reference:
        raise MonitoringInputError(
            f"the reference holds no value at all for {empty_in_reference}: rebuild it"
        )
    for role, frame in (("reference", reference), ("window", current)):
        if frame[score_column].isna().any():
            raise MonitoringInputError(
                f"{role} has {int(frame[score_column].isna().sum())} row(s) without "
                f"'{score_column}'; every scored row carries one"
            )
    measurable = [c for c in contract.features if current[c].notna().any()]
    if not measurable:
        raise MonitoringInputError(
            "the window holds no value for any feature: check the prediction log's schema"
        )
    return measurable


def _emptied_column(column: str) -> ColumnDrift:
    """A feature with no value left in the window: drifted by definition, no score to give."""
    return ColumnDrift(
        column=column, method=EMPTIED_METHOD, score=None, threshold=None, drifted=True
    )


def _drift_and_quality_report(
    contract: DatasetContract,
    drift_columns: list[str],
    drift_share_threshold: float,
    score_column: str,
) -> Report:
    bounded = [
        c
        for c in contract.numeric_features
        if contract.columns[c].min is not None and contract.columns[c].max is not None
    ]
    return Report(
        [
            DataDriftPreset(columns=drift_columns, drift_share=drift_share_threshold),
            ValueDrift(column=score_column),
            RowCount(),
            *[MissingValueCount(column=c) for c in [*contract.features, score_column]],
            *[
                OutRangeValueCount(
                    column=c, left=contract.columns[c].min, right=contract.columns[c].max
                )
                for c in bounded
            ],
            *[
                OutListValueCount(column=c, values=list(contract.columns[c].categories or ()))
                for c in contract.categorical_features
            ],
        ],
        include_tests=True,
    )


def _quality(
    snapshot: Mapping[str, Any],
    current: pd.DataFrame,
    reference: pd.DataFrame,
    contract: DatasetContract,
    score_column: str,
) -> DataQuality:
    columns = [*contract.features, score_column]
    out_of_range = {
        str(metric["config"]["column"]): int(metric["value"]["count"])
        for metric in snapshot["metrics"]
        if metric["config"]["type"] == METRIC_TYPE_PREFIX + "OutRangeValueCount"
    }
    return DataQuality(
        n_rows=int(find_metric(snapshot, "RowCount")["value"]),
        missing_share={
            c: float(find_metric(snapshot, "MissingValueCount", column=c)["value"]["share"])
            for c in columns
        },
        reference_missing_share={c: float(reference[c].isna().mean()) for c in columns},
        out_of_range_rows=out_of_range,
        unseen_categories=unseen_categories(current, reference, contract),
    )


def _performance(
    labelled: pd.DataFrame | None,
    contract: DatasetContract,
    *,
    threshold: float,
    reference_performance: Mapping[str, float],
    min_labelled_rows: int,
    score_column: str,
    performance_report: bool = True,
) -> tuple[PerformanceSummary | None, str, Any | None]:
    if labelled is None:
        return None, "no labelled predictions were given: performance not evaluated", None
    label = contract.label_column
    for column in (label, score_column):
        if column not in labelled.columns:
            raise MonitoringInputError(
                f"labelled frame lacks column '{column}'; build it with "
                "matured_performance_frame(predictions, labels, contract)"
            )
    n_predictions = len(labelled)
    matured = labelled[labelled[label].notna()]
    n_labelled = len(matured)
    n_positives = int((matured[label] == 1).sum())
    if n_labelled < min_labelled_rows:
        return (
            None,
            f"only {n_labelled} of {n_predictions} predictions in the performance window have "
            f"a matured label (at least {min_labelled_rows} needed): performance not evaluated",
            None,
        )
    if n_positives in (0, n_labelled):
        return (
            None,
            f"{n_labelled} matured labels hold {n_positives} positive(s): PR-AUC needs both "
            "classes, performance not evaluated",
            None,
        )
    frame = _evidently_frame(
        matured, contract, role="labelled", score_column=score_column, with_label=True
    )
    figures = classification_performance(
        frame, contract, threshold=threshold, score_column=score_column
    )
    summary = _performance_summary(
        figures, threshold, n_predictions, reference_performance=reference_performance
    )
    snapshot = (
        _classification_snapshot(frame, contract, threshold, score_column)
        if performance_report
        else None
    )
    note = (
        f"performance on {n_labelled} matured labels ({summary.label_coverage:.0%} of "
        f"{n_predictions} predictions in the performance window); PR-AUC is average precision "
        "(scikit-learn), recall and cost at the model's threshold"
    )
    return summary, note, snapshot


def _performance_summary(
    figures: PerformanceFigures,
    threshold: float,
    n_predictions: int,
    *,
    reference_performance: Mapping[str, float],
) -> PerformanceSummary:
    ref_pr_auc = reference_performance.get("pr_auc")
    ref_recall = reference_performance.get("recall_at_threshold")
    ref_cost = reference_performance.get("expected_cost_per_txn")
    return PerformanceSummary(
        n_predictions=n_predictions,
        n_labelled=figures.n_rows,
        n_positives=figures.n_positives,
        label_coverage=figures.n_rows / n_predictions,
        threshold=threshold,
        pr_auc=figures.pr_auc,
        recall_at_threshold=figures.recall_at_threshold,
        precision_at_threshold=figures.precision_at_threshold,
        expected_cost_per_txn=figures.expected_cost_per_txn,
        reference_pr_auc=ref_pr_auc,
        reference_recall_at_threshold=ref_recall,
        reference_expected_cost_per_txn=ref_cost,
        pr_auc_drop=None if ref_pr_auc is None else ref_pr_auc - figures.pr_auc,
        recall_drop=None if ref_recall is None else ref_recall - figures.recall_at_threshold,
        cost_increase_per_txn=(
            None if ref_cost is None else figures.expected_cost_per_txn - ref_cost
        ),
    )


def _classification_snapshot(
    matured: pd.DataFrame,
    contract: DatasetContract,
    threshold: float,
    score_column: str,
) -> Any:
    """Evidently's classification view of the matured labels.

    The reference's figures are not recomputed here: they are the champion's training-time
    metrics, already in the summary beside the window's (running Evidently on the reference
    too would cost a third more per window for numbers the summary holds).
    """
    definition = data_definition(contract, with_label=True, score_column=score_column)
    report = Report([ClassificationPreset(probas_threshold=threshold)], include_tests=False)
    return report.run(current_data=Dataset.from_pandas(matured, data_definition=definition))


def evaluate_window(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    *,
    labelled: pd.DataFrame | None,
    reference_performance: Mapping[str, float],
    threshold: float,
    drift_share_threshold: float,
    window_start: date | None = None,
    window_end: date | None = None,
    min_labelled_rows: int = 100,
    score_column: str = "score",
    performance_report: bool = True,
) -> WindowResult:
    """Compare one window with the reference, and measure performance on matured labels.

    The summary's performance figures are computed whether or not the Evidently
    classification report is built.

    Args:
        reference: The champion's reference window (``reference/reference.parquet``): contract
            features, ``score_column`` and the label.
        current: The window's scored rows (prediction log): contract features and
            ``score_column``; other columns are ignored.
        contract: Feature roles, categories, ranges, label column and costs.
        labelled: Predictions of the performance window with the label column, missing where
            the label has not matured (see :func:`monitoring.labels.matured_performance_frame`);
            None skips performance.
        reference_performance: Training-time figures by name (``pr_auc``,
            ``recall_at_threshold``, ``expected_cost_per_txn``; other keys are ignored). A
            missing name leaves its delta None.
        threshold: The model's decision threshold (``score >= threshold`` is a positive).
        drift_share_threshold: Share of drifted features from which the window is flagged.
        window_start: First day of the window; default: earliest event date in ``current``.
        window_end: Last day (inclusive); default: latest event date in ``current``.
        min_labelled_rows: Fewer matured labels than this and performance is not evaluated.
        score_column: Name of the model's probability column.
        performance_report: Build Evidently's classification report of the matured labels.

    Raises:
        EmptyWindowError: ``current`` has no rows.
        MonitoringInputError: a frame lacks a column, a value has the wrong type, or an argument
            is out of range.
    """
    if not 0 < drift_share_threshold <= 1:
        raise MonitoringInputError(
            f"drift_share_threshold must be in (0, 1], got {drift_share_threshold}"
        )
    if not 0 <= threshold <= 1:
        raise MonitoringInputError(f"threshold must be a probability in [0, 1], got {threshold}")
    if min_labelled_rows < 1:
        raise MonitoringInputError(f"min_labelled_rows must be >= 1, got {min_labelled_rows}")
    if current.empty:
        raise EmptyWindowError("the window frame has no rows: there is nothing to monitor")
    if reference.empty:
        raise MonitoringInputError("the reference frame has no rows: nothing to compare with")

    start, end = _window_bounds(current, contract, window_start, window_end)
    window_id = window_id_for(start, end)
    reference_frame = _evidently_frame(
        reference, contract, role="reference", score_column=score_column
    )
    current_frame = _evidently_frame(current, contract, role="window", score_column=score_column)
    drift_columns = _measurable_features(current_frame, reference_frame, contract, score_column)
    definition = data_definition(contract, score_column=score_column)
    report = _drift_and_quality_report(contract, drift_columns, drift_share_threshold, score_column)
    # An emptied feature makes Evidently's column statistics divide 0 by 0; it is reported as such.
    with np.errstate(invalid="ignore", divide="ignore"):
        snapshot = report.run(
            current_data=Dataset.from_pandas(current_frame, data_definition=definition),
            reference_data=Dataset.from_pandas(reference_frame, data_definition=definition),
            timestamp=datetime.combine(start, time()),
            name=f"monitoring window {window_id}",
        )
    metrics = snapshot.dict()

    feature_drift = {
        c: _column_drift(metrics, c) if c in drift_columns else _emptied_column(c)
        for c in contract.features
    }
    drifted_count = find_metric(metrics, "DriftedColumnsCount", columns=drift_columns)
    n_drifted = int(drifted_count["value"]["count"]) + len(contract.features) - len(drift_columns)
    drift_share = n_drifted / len(contract.features)
    performance, note, performance_snapshot = _performance(
        labelled,
        contract,
        threshold=threshold,
        reference_performance=reference_performance,
        min_labelled_rows=min_labelled_rows,
        score_column=score_column,
        performance_report=performance_report,
    )
    summary = WindowSummary(
        window_id=window_id,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        n_rows=len(current_frame),
        n_reference_rows=len(reference_frame),
        drift_share_threshold=drift_share_threshold,
        feature_drift=feature_drift,
        n_drifted_features=n_drifted,
        drift_share=drift_share,
        data_drift_detected=drift_share >= drift_share_threshold,
        prediction_drift=_column_drift(metrics, score_column),
        quality=_quality(metrics, current_frame, reference_frame, contract, score_column),
        performance=performance,
        performance_note=note,
    )
    return WindowResult(
        summary=summary, snapshot=snapshot, performance_snapshot=performance_snapshot
    )
