"""The metric core both training and monitoring compute: PR-AUC and the business cost.

Training scores a holdout and monitoring scores matured labels with these same functions, so
the "training figure" and the "live figure" a retraining decision compares are the same
formula. Labels here are already binary (1 = the contract's positive label); a row counts as
flagged when its score is at or above the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from features.contract import Costs

#: How PR-AUC is computed, stated wherever the figure is reported.
PR_AUC_METHOD = "average precision (scikit-learn average_precision_score)"


@dataclass(frozen=True)
class Confusion:
    """Counts of one threshold applied to binary labels."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n_flagged(self) -> int:
        """Rows at or above the threshold."""
        return self.tp + self.fp

    @property
    def precision(self) -> float | None:
        """Share of flagged rows that are positive; None when nothing is flagged."""
        return self.tp / self.n_flagged if self.n_flagged else None

    @property
    def recall(self) -> float | None:
        """Share of positives that are flagged; None when there is no positive."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else None


def pr_auc(y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> float | None:
    """Average precision of ``scores`` for binary ``y``; None unless both classes are present."""
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return None
    return float(average_precision_score(y, scores))


def confusion_at(
    y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], threshold: float
) -> Confusion:
    """TP, FP, FN and TN when rows scoring at or above ``threshold`` are flagged."""
    flagged = scores >= threshold
    positive = y == 1
    return Confusion(
        tp=int((flagged & positive).sum()),
        fp=int((flagged & ~positive).sum()),
        fn=int((~flagged & positive).sum()),
        tn=int((~flagged & ~positive).sum()),
    )


def business_cost(counts: Confusion, costs: Costs) -> float:
    """Total cost of the errors: missed positives and false alarms at the contract's prices."""
    return counts.fn * costs.false_negative + counts.fp * costs.false_positive
