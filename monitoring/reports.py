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

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.legacy.metrics.data_drift.data_drift_table import DataDriftTableRenderer
from evidently.metrics import (
    MissingValueCount,
    OutListValueCount,
    OutRangeValueCount,
    RowCount,
    ValueDrift,
)
from evidently.metrics.column_statistics import ValueDriftCalculation
from evidently.presets import ClassificationPreset, DataDriftPreset

from features.contract import DatasetContract
from features.metrics import PR_AUC_METHOD, pr_auc
from features.vocabulary import MODEL_VERSION
from monitoring.config import MonitoringConfig
from monitoring.errors import (
    EmptyWindowError,
    MetricNotFoundError,
    MonitoringError,
    MonitoringInputError,
)
from monitoring.performance import (
    PerformanceFigures,
    classification_performance,
    labels_and_scores,
    segment_performance,
)
from monitoring.summary import (
    ColumnDrift,
    DataQuality,
    LabelCounts,
    PerformanceSummary,
    SegmentPerformance,
    UnseenCategories,
    VersionPerformance,
    WindowSummary,
    window_id_for,
)

METRIC_TYPE_PREFIX = "evidently:metric_v2:"
#: The training figure holding the lower bound of the holdout PR-AUC's bootstrap interval.
PR_AUC_INTERVAL_LOW = "pr_auc_interval_low"
MAX_EXAMPLES = 5
EMPTIED_METHOD = "not compared: every value is missing in the window"


#: Held by every Evidently run of this module: :func:`_evidently_run` swaps class attributes,
#: so a run with charts must not overlap one without (Evidently's runs hold the GIL anyway).
_EVIDENTLY_RUN = threading.Lock()


def _no_widgets(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


@contextmanager
def _evidently_run(charts: bool) -> Iterator[None]:
    """One Evidently run; without ``charts``, its per-column plotly charts are not built.

    Evidently builds every chart while it computes, chart or no HTML: for a window of 1,000
    rows and ten features, the per-column drift charts take about half of the run (profiled:
    49 of 94 s of a 60-day detection run). Without them the figures are the same (asserted by
    ``tests/monitoring/test_reports.py``); only the snapshot's HTML loses those charts.
    """
    with _EVIDENTLY_RUN:
        if charts:
            yield
            return
        saved = (ValueDriftCalculation._render, DataDriftTableRenderer.render_html)
        ValueDriftCalculation._render = _no_widgets
        DataDriftTableRenderer.render_html = _no_widgets
        try:
            yield
        finally:
            ValueDriftCalculation._render, DataDriftTableRenderer.render_html = saved


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
    contract: DatasetContract, *, with_score: bool = True, with_label: bool = False
) -> DataDefinition:
    """Evidently column mapping derived from the contract, so the two cannot disagree.

    Numerical and categorical columns are the contract's features (plus the model score, named
    ``contract.score_name``, numerical); the id and event-time columns are declared as id and
    timestamp so Evidently never treats them as features. With ``with_label`` the label (0/1)
    and the score are also declared as a binary classification task (positive class 1) for
    Evidently's classification metrics.

    Raises:
        ValueError: ``with_label`` without ``with_score`` (classification needs the score).
    """
    if with_label and not with_score:
        raise ValueError("with_label=True needs with_score=True: classification reads the score")
    score = contract.score_name
    numerical = contract.numeric_features + ([score] if with_score else [])
    classification = (
        [BinaryClassification(target=contract.label_column, prediction_probas=score)]
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

    Example: ``find_metric(d, "ValueDrift", column="age")["value"]``.

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
    frame: pd.DataFrame, contract: DatasetContract, *, role: str, with_label: bool = False
) -> pd.DataFrame:
    """Only the mapped columns, typed as Evidently expects; raise on what does not convert.

    Numbers become float64 and categories plain strings (missing values stay missing). The id
    and time columns are left out: Evidently has nothing to compare in them, and it rejects a
    declared column present in one frame only.
    """
    score_column = contract.score_name
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
    current: pd.DataFrame, reference: pd.DataFrame, contract: DatasetContract
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
    score_column = contract.score_name
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
    contract: DatasetContract, drift_columns: list[str], drift_share_threshold: float
) -> Report:
    score_column = contract.score_name
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


def drift_sample(frame: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of ``rows`` rows (in their order), or ``frame`` if not larger.

    The same frame, size and seed give the same sample. Drift statistics are computed on it;
    quality counts and performance always use every row.
    """
    if rows is None or len(frame) <= rows:
        return frame
    chosen = np.sort(np.random.default_rng(seed).choice(len(frame), size=rows, replace=False))
    return frame.iloc[chosen].reset_index(drop=True)


def exact_quality(
    current: pd.DataFrame, reference: pd.DataFrame, contract: DatasetContract
) -> DataQuality:
    """The window's data quality counted with pandas on every row (Evidently's definitions).

    Missing share per feature and score; out-of-range rows: present values outside a bounded
    numeric feature's ``[min, max]``; unseen categories as :func:`unseen_categories`.
    """
    columns = [*contract.features, contract.score_name]
    out_of_range = {}
    for c in contract.numeric_features:
        spec = contract.columns[c]
        if spec.min is None or spec.max is None:
            continue
        values = current[c]
        out_of_range[c] = int(values.count() - values.between(spec.min, spec.max).sum())
    return DataQuality(
        n_rows=len(current),
        missing_share={c: float(current[c].isna().mean()) for c in columns},
        reference_missing_share={c: float(reference[c].isna().mean()) for c in columns},
        out_of_range_rows=out_of_range,
        unseen_categories=unseen_categories(current, reference, contract),
    )


def _quality(
    snapshot: Mapping[str, Any],
    current: pd.DataFrame,
    reference: pd.DataFrame,
    contract: DatasetContract,
) -> DataQuality:
    columns = [*contract.features, contract.score_name]
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


@dataclass(frozen=True)
class _PerformanceResult:
    """What the performance part of a window found, and the sentences it leaves for readers."""

    summary: PerformanceSummary | None
    note: str
    snapshot: Any | None
    n_labelled: int = 0
    n_positives: int = 0
    warnings: tuple[str, ...] = ()


def _performance(
    labelled: pd.DataFrame | None,
    contract: DatasetContract,
    *,
    threshold: float,
    reference_performance: Mapping[str, float],
    min_positives: int,
    performance_report: bool,
) -> _PerformanceResult:
    """Performance on the matured labels, or None with the reason when they are too few.

    PR-AUC on a handful of positives is mostly noise (a retrain fired on it is a false alarm),
    so with fewer than ``min_positives`` matured positive labels, or without both classes,
    nothing is evaluated and the note (also returned as a warning) gives the counts.
    """
    if labelled is None:
        return _PerformanceResult(
            None, "no labelled predictions were given: performance not evaluated", None
        )
    label, score = contract.label_column, contract.score_name
    for column in (label, score):
        if column not in labelled.columns:
            raise MonitoringInputError(
                f"labelled frame lacks column '{column}'; build it with "
                "matured_performance_frame(predictions, labels, contract)"
            )
    n_predictions = len(labelled)
    # The columns read below only: the log's other columns would be copied for nothing.
    used = dict.fromkeys([*contract.features, score, label, *contract.segments])
    kept = [c for c in used if c in labelled.columns]
    matured = labelled.loc[labelled[label].notna(), kept].reset_index(drop=True)
    raw = ~matured[label].isin([0, 1])
    if raw.any():
        raise MonitoringInputError(
            f"labelled frame's '{label}' must hold 0/1 (1 = {contract.positive!r}), found "
            f"{matured.loc[raw, label].unique()[:5].tolist()}: build it with "
            "matured_performance_frame(predictions, read_labels(labels_dir, contract).frame, "
            "contract)"
        )
    n_labelled = len(matured)
    n_positives = int((matured[label] == 1).sum())
    skipped = None
    if n_positives < min_positives:
        skipped = (
            f"only {n_positives} positive label(s) among the {n_labelled} matured labels of "
            f"{n_predictions} predictions in the performance window; at least {min_positives} "
            "are needed for a stable PR-AUC: performance not evaluated"
        )
    elif n_positives == n_labelled:
        skipped = (
            f"all {n_labelled} matured labels are positive: PR-AUC needs both classes, "
            "performance not evaluated"
        )
    if skipped is not None:
        return _PerformanceResult(None, skipped, None, n_labelled, n_positives, (skipped,))
    frame = _evidently_frame(matured, contract, role="labelled", with_label=True)
    figures = classification_performance(frame, contract, threshold=threshold)
    summary = _performance_summary(
        figures,
        threshold,
        n_predictions,
        reference_performance=reference_performance,
        segments=segment_performance(
            matured.assign(**{label: frame[label], score: frame[score]}),
            contract,
            threshold=threshold,
        ),
    )
    snapshot = _classification_snapshot(frame, contract, threshold) if performance_report else None
    note = (
        f"performance on {n_labelled} matured labels with {n_positives} positives "
        f"({summary.label_coverage:.0%} of {n_predictions} predictions in the performance "
        f"window); PR-AUC is {PR_AUC_METHOD}, recall and cost at the model's threshold"
    )
    return _PerformanceResult(summary, note, snapshot, n_labelled, n_positives)


def _performance_summary(
    figures: PerformanceFigures,
    threshold: float,
    n_predictions: int,
    *,
    reference_performance: Mapping[str, float],
    segments: dict[str, dict[str, SegmentPerformance]],
) -> PerformanceSummary:
    ref_pr_auc = reference_performance.get("pr_auc")
    ref_recall = reference_performance.get("recall_at_threshold")
    ref_cost = reference_performance.get("expected_cost_per_row")
    return PerformanceSummary(
        n_predictions=n_predictions,
        n_labelled=figures.n_rows,
        n_positives=figures.n_positives,
        label_coverage=figures.n_rows / n_predictions,
        threshold=threshold,
        pr_auc=figures.pr_auc,
        recall_at_threshold=figures.recall_at_threshold,
        precision_at_threshold=figures.precision_at_threshold,
        expected_cost_per_row=figures.expected_cost_per_row,
        reference_pr_auc=ref_pr_auc,
        reference_recall_at_threshold=ref_recall,
        reference_expected_cost_per_row=ref_cost,
        pr_auc_drop=None if ref_pr_auc is None else ref_pr_auc - figures.pr_auc,
        recall_drop=None if ref_recall is None else ref_recall - figures.recall_at_threshold,
        cost_increase_per_row=(
            None if ref_cost is None else figures.expected_cost_per_row - ref_cost
        ),
        segments=segments,
    )


#: Key of the rows whose log record names no model version.
UNKNOWN_VERSION = "(unknown)"


def _version_key(version: str) -> tuple[int, int | str]:
    """Numbered versions in number order, then any other name in text order."""
    return (0, int(version)) if version.isdigit() else (1, version)


def version_performance(
    labelled: pd.DataFrame,
    contract: DatasetContract,
    *,
    references: Mapping[str, Mapping[str, float]],
    min_positives: int,
) -> dict[str, VersionPerformance]:
    """Per model version (the log's ``model_version``), its figures on its own matured rows.

    Each version is compared with its own training figure (``references[version]["pr_auc"]``,
    None when not given; ``"pr_auc_interval_low"`` is carried along for the retraining
    policy). A frame without the version column (rows not from the prediction
    log) gives an empty dict; rows whose record names no version are kept under
    ``"(unknown)"``.

    Args:
        labelled: Predictions with the label column (0/1, missing where not matured), as
            :func:`monitoring.labels.matured_performance_frame` returns them.
        contract: Names the label, score and event-time columns.
        references: Training-time figures by version.
        min_positives: Positives a version's rows need before its figure counts as evaluated.

    Raises:
        MonitoringInputError: a matured label is not 0/1, or a matured row has no score.
    """
    if MODEL_VERSION not in labelled.columns or labelled.empty:
        return {}
    label, event = contract.label_column, contract.event_time_column
    logged = labelled[MODEL_VERSION].astype(object)
    versions = logged.where(logged.notna(), UNKNOWN_VERSION).astype(str)
    days = (
        pd.to_datetime(labelled[event], format="ISO8601").dt.date
        if event in labelled.columns
        else None
    )
    # Only the label and the score: a version's rows of every column would copy the window.
    scored = labelled[[c for c in (label, contract.score_name) if c in labelled.columns]]
    found: dict[str, VersionPerformance] = {}
    for version in sorted(versions.unique(), key=_version_key):
        rows = scored[(versions == version).to_numpy()]
        matured = rows[rows[label].notna()]
        y, p = labels_and_scores(matured.astype({label: "int64"}), contract)
        area = pr_auc(y, p)
        n_positives = int(y.sum())
        reference = references.get(version, {}).get("pr_auc")
        reference_low = references.get(version, {}).get(PR_AUC_INTERVAL_LOW)
        version_days = None if days is None else days[rows.index]
        found[version] = VersionPerformance(
            n_predictions=len(rows),
            n_labelled=len(matured),
            n_positives=n_positives,
            first_day=None if version_days is None else version_days.min().isoformat(),
            last_day=None if version_days is None else version_days.max().isoformat(),
            pr_auc=area,
            reference_pr_auc=reference,
            reference_pr_auc_low=reference_low,
            pr_auc_drop=None if area is None or reference is None else reference - area,
            evaluated=area is not None and n_positives >= min_positives,
        )
    return found


def matured_label_counts(
    labelled: pd.DataFrame, contract: DatasetContract
) -> dict[str, LabelCounts]:
    """Matured labels and positives per event day (ISO date) of the predictions' event time."""
    label, event = contract.label_column, contract.event_time_column
    if labelled.empty or event not in labelled.columns:
        return {}
    matured = labelled[labelled[label].notna()]
    days = pd.to_datetime(matured[event], format="ISO8601").dt.strftime("%Y-%m-%d")
    positive = (matured[label].astype("int64") == 1).to_numpy()
    grouped = pd.DataFrame({"day": days.to_numpy(), "positive": positive}).groupby("day")
    sizes, positives = grouped.size(), grouped["positive"].sum()
    return {
        str(day): LabelCounts(n_labelled=int(sizes[day]), n_positives=int(positives[day]))
        for day in sizes.index
    }


def _classification_snapshot(
    matured: pd.DataFrame, contract: DatasetContract, threshold: float
) -> Any:
    """Evidently's classification view of the matured labels.

    The reference's figures are not recomputed here: they are the champion's training-time
    metrics, already in the summary beside the window's (running Evidently on the reference
    too would cost a third more per window for numbers the summary holds).
    """
    definition = data_definition(contract, with_label=True)
    report = Report([ClassificationPreset(probas_threshold=threshold)], include_tests=False)
    with _evidently_run(charts=True):
        return report.run(current_data=Dataset.from_pandas(matured, data_definition=definition))


def evaluate_window(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    contract: DatasetContract,
    *,
    labelled: pd.DataFrame | None,
    reference_performance: Mapping[str, float],
    threshold: float,
    config: MonitoringConfig,
    window_start: date | None = None,
    window_end: date | None = None,
    performance_report: bool = True,
    champion_version: str | None = None,
    version_references: Mapping[str, Mapping[str, float]] | None = None,
    charts: bool = True,
) -> WindowResult:
    """Compare one window with the reference, and measure performance on matured labels.

    Drift is measured over the contract's features; performance (overall and per value of
    every contract segment, features and non-feature segments alike) over the matured labels,
    provided at least ``config.min_labelled_positives`` of them are positive and both classes
    are present. Otherwise ``performance`` is None, and the note and the warnings give the
    counts. The summary's performance figures are computed whether or not the Evidently
    classification report is built.

    Args:
        reference: The champion's reference window (stored with the model): contract
            features, the score (``contract.score_name``) and the label (0/1).
        current: The window's scored rows (prediction log): contract features and the score;
            other columns are ignored.
        contract: Feature roles, categories, ranges, segments, label, score name and costs.
        labelled: Predictions of the performance window with the label column (0/1), missing
            where the label has not matured (see
            :func:`monitoring.labels.matured_performance_frame`); None skips performance.
        reference_performance: Training-time figures by name (``pr_auc``,
            ``recall_at_threshold``, ``expected_cost_per_row``; other keys are ignored). A
            missing name leaves its delta None.
        threshold: The model's decision threshold (``score >= threshold`` is a positive).
        config: The monitoring section of the settings: drift-share threshold, the minimum
            number of matured positive labels, the minimum rows of a window.
        window_start: First day of the window; default: earliest event date in ``current``.
        window_end: Last day (inclusive); default: latest event date in ``current``.
        performance_report: Build Evidently's classification report of the matured labels.
        champion_version: The version ``reference`` belongs to (the summary names it, and the
            retraining policy judges that version on its own rows).
        version_references: Training-time figures per version, to compare every version in
            the performance window with its own; the champion's default to
            ``reference_performance``.
        charts: False skips Evidently's per-column drift charts, half of the run's time: the
            figures are the same, but the snapshot is then not worth saving as HTML.

    Raises:
        EmptyWindowError: ``current`` has no rows.
        MonitoringInputError: a frame lacks a column, a value has the wrong type, or the
            threshold is not a probability.
    """
    if not 0 <= threshold <= 1:
        raise MonitoringInputError(f"threshold must be a probability in [0, 1], got {threshold}")
    if current.empty:
        raise EmptyWindowError("the window frame has no rows: there is nothing to monitor")
    if reference.empty:
        raise MonitoringInputError("the reference frame has no rows: nothing to compare with")

    start, end = _window_bounds(current, contract, window_start, window_end)
    window_id = window_id_for(start, end)
    reference_frame = _evidently_frame(reference, contract, role="reference")
    current_frame = _evidently_frame(current, contract, role="window")
    drift_columns = _measurable_features(current_frame, reference_frame, contract)
    definition = data_definition(contract)
    report = _drift_and_quality_report(contract, drift_columns, config.drift_share_threshold)
    sample_rows, seed = config.drift_sample_rows, config.drift_sample_seed
    current_drift = drift_sample(current_frame, sample_rows, seed)
    reference_drift = drift_sample(reference_frame, sample_rows, seed + 1)
    sampled = current_drift is not current_frame or reference_drift is not reference_frame
    # An emptied feature makes Evidently's column statistics divide 0 by 0; it is reported as such.
    with np.errstate(invalid="ignore", divide="ignore"), _evidently_run(charts):
        snapshot = report.run(
            current_data=Dataset.from_pandas(current_drift, data_definition=definition),
            reference_data=Dataset.from_pandas(reference_drift, data_definition=definition),
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
    references = dict(version_references or {})
    if champion_version is not None:
        references.setdefault(champion_version, reference_performance)
    performance = _performance(
        labelled,
        contract,
        threshold=threshold,
        reference_performance=reference_performance,
        min_positives=config.min_labelled_positives,
        performance_report=performance_report,
    )
    warnings = list(performance.warnings)
    if len(current_frame) < config.min_window_rows:
        warnings.append(
            f"window {window_id} holds {len(current_frame)} predictions, fewer than the "
            f"{config.min_window_rows} (min_window_rows) drift tests need for some power: "
            "its drift verdict is weak evidence"
        )
    if sampled:
        warnings.append(
            f"drift statistics computed on a seeded sample (drift_sample_rows={sample_rows}, "
            f"seed {seed}): {len(current_drift)} of {len(current_frame)} window rows and "
            f"{len(reference_drift)} of {len(reference_frame)} reference rows; data quality "
            "and performance count every row"
        )
    quality = (
        exact_quality(current_frame, reference_frame, contract)
        if sampled
        else _quality(metrics, current_frame, reference_frame, contract)
    )
    summary = WindowSummary(
        window_id=window_id,
        window_start=start.isoformat(),
        window_end=end.isoformat(),
        n_rows=len(current_frame),
        n_reference_rows=len(reference_frame),
        drift_share_threshold=config.drift_share_threshold,
        min_drifted_features=config.min_drifted_features,
        feature_drift=feature_drift,
        n_drifted_features=n_drifted,
        drift_share=drift_share,
        data_drift_detected=config.flags_drift(n_drifted, len(contract.features)),
        prediction_drift=_column_drift(metrics, contract.score_name),
        quality=quality,
        n_labelled=performance.n_labelled,
        n_labelled_positives=performance.n_positives,
        min_labelled_positives=config.min_labelled_positives,
        performance=performance.summary,
        performance_note=performance.note,
        champion_version=champion_version,
        performance_by_version=(
            {}
            if labelled is None
            else version_performance(
                labelled,
                contract,
                references=references,
                min_positives=config.min_labelled_positives,
            )
        ),
        matured_by_day={} if labelled is None else matured_label_counts(labelled, contract),
        warnings=tuple(warnings),
    )
    return WindowResult(
        summary=summary, snapshot=snapshot, performance_snapshot=performance.snapshot
    )
