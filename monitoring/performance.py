"""Classification figures of scored, labelled rows (reference window and matured labels alike).

The same formulas serve both sides, so the deltas between them mean something. PR-AUC is
scikit-learn's ``average_precision_score`` (the step-wise area, not the trapezoidal one). A row
is predicted positive when ``score >= threshold`` (Evidently's convention too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from features.contract import DatasetContract
from monitoring.errors import MonitoringInputError


@dataclass(frozen=True)
class PerformanceFigures:
    """Counts and quality figures of one labelled frame at one decision threshold."""

    n_rows: int
    n_positives: int
    pr_auc: float
    recall_at_threshold: float
    precision_at_threshold: float | None
    expected_cost_per_txn: float

    def as_reference(self) -> dict[str, float]:
        """The figures by the names ``evaluate_window`` takes (the training run's metric names)."""
        figures = {
            "pr_auc": self.pr_auc,
            "recall_at_threshold": self.recall_at_threshold,
            "expected_cost_per_txn": self.expected_cost_per_txn,
        }
        if self.precision_at_threshold is not None:
            figures["precision_at_threshold"] = self.precision_at_threshold
        return figures


def classification_performance(
    frame: pd.DataFrame,
    contract: DatasetContract,
    *,
    threshold: float,
    score_column: str = "score",
) -> PerformanceFigures:
    """PR-AUC, recall/precision at ``threshold`` and expected cost per transaction.

    Expected cost per transaction is ``(FN * costs.false_negative + FP * costs.false_positive)
    / rows`` with the contract's business costs.

    Args:
        frame: Rows with ``score_column`` (probability of the positive class) and the
            contract's label column (0/1, no missing values).
        contract: Supplies the label column name and the business costs.
        threshold: The model's decision threshold.
        score_column: Name of the probability column.

    Raises:
        MonitoringInputError: a column is missing, a label is not 0/1, a score is missing, or
            the frame does not hold both classes (PR-AUC is undefined then).
    """
    label = contract.label_column
    missing = [c for c in (label, score_column) if c not in frame.columns]
    if missing:
        raise MonitoringInputError(
            f"cannot compute performance: column(s) {missing} missing; got {list(frame.columns)}"
        )
    labels = frame[label]
    if labels.isna().any() or not labels.isin([0, 1]).all():
        bad = labels[labels.isna() | ~labels.isin([0, 1])].unique()[:5].tolist()
        raise MonitoringInputError(f"label column '{label}' must hold only 0/1; found {bad}")
    scores = frame[score_column]
    if scores.isna().any():
        raise MonitoringInputError(
            f"score column '{score_column}' has {int(scores.isna().sum())} missing value(s)"
        )
    y = labels.to_numpy(dtype=np.int64)
    p = scores.to_numpy(dtype=np.float64)
    n_positives = int(y.sum())
    if n_positives == 0 or n_positives == len(y):
        raise MonitoringInputError(
            f"cannot compute PR-AUC on {len(y)} rows with {n_positives} positive(s): both "
            "classes are needed"
        )
    predicted = p >= threshold
    true_pos = int((predicted & (y == 1)).sum())
    false_pos = int((predicted & (y == 0)).sum())
    false_neg = n_positives - true_pos
    n_predicted = true_pos + false_pos
    cost = false_neg * contract.costs.false_negative + false_pos * contract.costs.false_positive
    return PerformanceFigures(
        n_rows=len(y),
        n_positives=n_positives,
        pr_auc=float(average_precision_score(y, p)),
        recall_at_threshold=true_pos / n_positives,
        precision_at_threshold=true_pos / n_predicted if n_predicted else None,
        expected_cost_per_txn=cost / len(y),
    )
