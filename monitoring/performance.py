"""Classification figures of scored, labelled rows (reference window and matured labels alike).

The same formulas serve both sides, and training too: every figure comes from the metric core
in ``features.metrics`` (PR-AUC is scikit-learn's ``average_precision_score``, the step-wise
area, not the trapezoidal one). A row is predicted positive when its score is at or above the
threshold (Evidently's convention too). The score column is the contract's ``score_name``;
labels are already 0/1 (1 = the contract's positive label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import DatasetContract
from features.metrics import business_cost, confusion_at, pr_auc
from monitoring.errors import MonitoringInputError
from monitoring.summary import SegmentPerformance

#: Key of a segment's rows whose value is missing (an optional segment the request left out).
MISSING_SEGMENT = "(missing)"


@dataclass(frozen=True)
class PerformanceFigures:
    """Counts and quality figures of one labelled frame at one decision threshold."""

    n_rows: int
    n_positives: int
    pr_auc: float
    recall_at_threshold: float
    precision_at_threshold: float | None
    expected_cost_per_row: float

    def as_reference(self) -> dict[str, float]:
        """The figures by the names ``evaluate_window`` takes (the training run's metric names)."""
        figures = {
            "pr_auc": self.pr_auc,
            "recall_at_threshold": self.recall_at_threshold,
            "expected_cost_per_row": self.expected_cost_per_row,
        }
        if self.precision_at_threshold is not None:
            figures["precision_at_threshold"] = self.precision_at_threshold
        return figures


def labels_and_scores(
    frame: pd.DataFrame, contract: DatasetContract
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The 0/1 labels and the scores of ``frame`` as arrays, checked.

    Raises:
        MonitoringInputError: the label or score column is missing, a label is missing or not
            0/1, or a score is missing.
    """
    label, score = contract.label_column, contract.score_name
    missing = [c for c in (label, score) if c not in frame.columns]
    if missing:
        raise MonitoringInputError(
            f"cannot compute performance: column(s) {missing} missing; got {list(frame.columns)}"
        )
    labels = frame[label]
    if labels.isna().any() or not labels.isin([0, 1]).all():
        bad = labels[labels.isna() | ~labels.isin([0, 1])].unique()[:5].tolist()
        raise MonitoringInputError(
            f"label column '{label}' must hold only 0/1 (1 = {contract.positive!r}); found "
            f"{bad}: convert raw labels with contract.binary_labels"
        )
    scores = frame[score]
    if scores.isna().any():
        raise MonitoringInputError(
            f"score column '{score}' has {int(scores.isna().sum())} missing value(s)"
        )
    return labels.to_numpy(dtype=np.int64), scores.to_numpy(dtype=np.float64)


def classification_performance(
    frame: pd.DataFrame, contract: DatasetContract, *, threshold: float
) -> PerformanceFigures:
    """PR-AUC, recall/precision at ``threshold`` and expected cost per row.

    Expected cost per row is ``(FN * costs.false_negative + FP * costs.false_positive) / rows``
    with the contract's business costs.

    Args:
        frame: Rows with the contract's ``score_name`` (probability of the positive class) and
            label column (0/1, no missing values).
        contract: Supplies the column names and the business costs.
        threshold: The model's decision threshold.

    Raises:
        MonitoringInputError: a column is missing, a label is not 0/1, a score is missing, or
            the frame does not hold both classes (PR-AUC is undefined then).
    """
    y, p = labels_and_scores(frame, contract)
    n_positives = int(y.sum())
    area = pr_auc(y, p)
    if area is None:
        raise MonitoringInputError(
            f"cannot compute PR-AUC on {len(y)} rows with {n_positives} positive(s): both "
            "classes are needed"
        )
    counts = confusion_at(y, p, threshold)
    assert counts.recall is not None  # both classes are present
    return PerformanceFigures(
        n_rows=len(y),
        n_positives=n_positives,
        pr_auc=area,
        recall_at_threshold=counts.recall,
        precision_at_threshold=counts.precision,
        expected_cost_per_row=business_cost(counts, contract.costs) / len(y),
    )


def _segment_keys(values: pd.Series, contract: DatasetContract, column: str) -> pd.Series:
    """Each row's segment value as text (``"3"``, not ``"3.0"``); missing becomes a key too."""
    if contract.columns[column].dtype == "int":
        numbers = pd.to_numeric(values, errors="coerce").astype("Int64")
        keys = numbers.astype("string").astype(object)
        unreadable = numbers.isna() & values.notna()
        keys[unreadable] = values[unreadable].astype(str)
    else:
        keys = values.astype(object).astype(str)
    return keys.where(values.notna(), MISSING_SEGMENT)


def _ordered(keys: list[str], declared: tuple[object, ...]) -> list[str]:
    """Declared categories first (contract order), then any other value, then missing."""
    order = [str(v) for v in declared]
    known = [k for k in order if k in keys]
    others = sorted(k for k in keys if k not in order and k != MISSING_SEGMENT)
    return known + others + ([MISSING_SEGMENT] if MISSING_SEGMENT in keys else [])


def segment_performance(
    frame: pd.DataFrame, contract: DatasetContract, *, threshold: float
) -> dict[str, dict[str, SegmentPerformance]]:
    """Per contract segment column, the figures of each of its values present in ``frame``.

    Segments are read from ``frame``'s own columns, so a segment the model never reads (one
    that is not a feature) is measured like any other. Rows whose segment value is missing are
    grouped under ``"(missing)"``; a segment column absent from ``frame`` gives no value. Each
    figure is None where it is undefined (see :class:`SegmentPerformance`).

    Args:
        frame: Labelled rows: the contract's score and 0/1 label, and its segment columns.
        contract: Names the segments, the label and the score.
        threshold: The model's decision threshold.

    Raises:
        MonitoringInputError: the label or score column is missing or holds a bad value.
    """
    y, p = labels_and_scores(frame, contract)
    found: dict[str, dict[str, SegmentPerformance]] = {}
    for column in contract.segments:
        if column not in frame.columns:
            found[column] = {}
            continue
        keys = _segment_keys(frame[column].reset_index(drop=True), contract, column)
        figures: dict[str, SegmentPerformance] = {}
        declared = contract.columns[column].categories or ()
        for key in _ordered(list(keys.unique()), declared):
            rows = (keys == key).to_numpy()
            counts = confusion_at(y[rows], p[rows], threshold)
            figures[key] = SegmentPerformance(
                n_labelled=int(rows.sum()),
                n_positives=int(y[rows].sum()),
                pr_auc=pr_auc(y[rows], p[rows]),
                recall_at_threshold=counts.recall,
                precision_at_threshold=counts.precision,
            )
        found[column] = figures
    return found
