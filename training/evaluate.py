"""Holdout evaluation: ranking quality, calibration, business cost and the decision threshold.

Labels are binary here (1 = the contract's positive label). A row is flagged when its score is
at or above the threshold. The threshold is the one that minimises the expected business cost
on the holdout, ``FN * cost_fn + FP * cost_fp``, using the contract's costs, so it moves when
the business says a missed positive or a false alarm costs more. PR-AUC, the confusion counts
and the cost come from the metric core in `features.metrics`, the same formulas monitoring
applies to live labels. Figures that are undefined for the data (an AUC with one class, a
precision when nothing is flagged) are ``None`` with the reason in ``notes``, never a crash or
a made-up 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from features import metrics as core
from features.contract import Costs, DatasetContract

ArrayLike = npt.ArrayLike
MISSING_SEGMENT = "<missing>"


class EvaluationError(ValueError):
    """Labels and scores cannot be evaluated together; the message says what is wrong."""


@dataclass(frozen=True)
class Metrics:
    """Overall holdout figures of one model at one threshold.

    ``expected_cost`` is the total over the rows, ``expected_cost_per_row`` its mean per row.
    ``recall_at_fpr`` is the highest recall reachable while the false-positive rate stays at or
    below ``target_fpr``.
    """

    n_rows: int
    n_positives: int
    pr_auc: float | None
    roc_auc: float | None
    brier: float
    recall_at_fpr: float | None
    target_fpr: float
    threshold: float
    n_flagged: int
    precision_at_threshold: float | None
    recall_at_threshold: float | None
    expected_cost: float
    expected_cost_per_row: float
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, float | int | list[str] | None]:
        """Every field, JSON-ready (``notes`` as a list)."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    def figures(self) -> dict[str, float | None]:
        """The numeric figures by name, undefined ones as ``None`` (the promotion gate's view)."""
        return {k: None if v is None else float(v) for k, v in asdict(self).items() if k != "notes"}

    def loggable(self) -> dict[str, float]:
        """The numeric figures that are defined, as floats (for MLflow ``log_metrics``)."""
        return {k: v for k, v in self.figures().items() if v is not None}


@dataclass(frozen=True)
class SegmentMetrics:
    """Holdout figures of the rows sharing one value of a segment column."""

    n_rows: int
    n_positives: int
    pr_auc: float | None
    roc_auc: float | None
    precision_at_threshold: float | None
    recall_at_threshold: float | None
    expected_cost_per_row: float

    def to_dict(self) -> dict[str, float | int | None]:
        """Every field, JSON-ready."""
        return asdict(self)


def cost_optimal_threshold(
    y_true: ArrayLike, scores: ArrayLike, costs: Costs
) -> tuple[float, float]:
    """The threshold with the lowest total cost on these rows, and that cost.

    Candidates are every distinct score (flag rows scoring at or above it) plus "flag nothing",
    represented by the smallest float above the highest score. Ties go to the higher threshold,
    which flags fewer rows for the same cost.

    Raises:
        EvaluationError: empty input, mismatched lengths, labels other than 0/1 or
            non-finite scores.
    """
    y, s = _as_arrays(y_true, scores)
    thresholds, tp, fp = _sweep(y, s)
    n_pos = int(y.sum())
    # `features.metrics.business_cost`, at every candidate threshold at once.
    cost = (n_pos - tp) * costs.false_negative + fp * costs.false_positive
    best = int(np.argmin(cost))
    return float(thresholds[best]), float(cost[best])


def evaluate(
    y_true: ArrayLike,
    scores: ArrayLike,
    costs: Costs,
    *,
    target_fpr: float,
    threshold: float | None = None,
) -> Metrics:
    """Score the predictions against the labels; the threshold is cost-optimal unless given.

    ``target_fpr`` is the training section's `training.config.TrainingConfig.target_fpr`.
    Pass ``threshold`` to evaluate at a threshold chosen elsewhere (e.g. the champion's tag).

    Raises:
        EvaluationError: see `cost_optimal_threshold`, or ``target_fpr`` outside [0, 1].
    """
    if not 0.0 <= target_fpr <= 1.0:
        raise EvaluationError(f"target_fpr must be within [0, 1], got {target_fpr}")
    y, s = _as_arrays(y_true, scores)
    n_rows, n_pos = len(y), int(y.sum())
    n_neg = n_rows - n_pos
    notes: list[str] = []

    pr_auc = roc_auc = recall_at_fpr = None
    if n_pos and n_neg:
        pr_auc = core.pr_auc(y, s)
        roc_auc = float(roc_auc_score(y, s))
        _, tp, fp = _sweep(y, s)
        recall_at_fpr = float(tp[fp / n_neg <= target_fpr].max() / n_pos)
    else:
        notes.append(
            f"pr_auc, roc_auc and recall_at_fpr undefined: the labels have a single class "
            f"({n_pos} positives, {n_neg} negatives)"
        )

    if threshold is None:
        threshold, _ = cost_optimal_threshold(y, s, costs)
    counts = core.confusion_at(y, s, threshold)
    precision, recall = _precision_recall(counts, notes)
    cost = core.business_cost(counts, costs)
    return Metrics(
        n_rows=n_rows,
        n_positives=n_pos,
        pr_auc=pr_auc,
        roc_auc=roc_auc,
        brier=float(np.mean((s - y) ** 2)),
        recall_at_fpr=recall_at_fpr,
        target_fpr=target_fpr,
        threshold=float(threshold),
        n_flagged=counts.n_flagged,
        precision_at_threshold=precision,
        recall_at_threshold=recall,
        expected_cost=cost,
        expected_cost_per_row=cost / n_rows,
        notes=tuple(notes),
    )


def evaluate_segments(
    frame: pd.DataFrame,
    scores: ArrayLike,
    contract: DatasetContract,
    threshold: float,
) -> dict[str, dict[str, SegmentMetrics]]:
    """Figures per value of each contract segment column: ``{column: {value: metrics}}``.

    Segments need not be features: a column the model never reads (e.g. a protected attribute)
    is evaluated the same way, as long as ``frame`` carries it (the reference frame keeps
    ``contract.extra_segments``). ``scores`` align with ``frame`` by position; the label is 0/1.
    Values are listed in contract category order, then any value the contract does not know,
    then missing values as ``"<missing>"``.

    Raises:
        EvaluationError: a segment or the label column is missing, the lengths differ, or the
            labels are not 0/1.
    """
    s = np.asarray(scores, dtype=float)
    if len(s) != len(frame):
        raise EvaluationError(f"{len(s)} scores for {len(frame)} rows; they must align")
    missing = [c for c in (*contract.segments, contract.label_column) if c not in frame.columns]
    if missing:
        extra = [c for c in missing if c in contract.extra_segments]
        hint = (
            f"; {extra} are segments but not features, so the frame must carry them beside "
            "the features (the reference frame keeps them)"
            if extra
            else ""
        )
        raise EvaluationError(f"column(s) {missing} missing from the evaluation frame{hint}")
    if frame.empty:
        return {column: {} for column in contract.segments}
    y, s = _as_arrays(frame[contract.label_column].to_numpy(), s)
    result: dict[str, dict[str, SegmentMetrics]] = {}
    for column in contract.segments:
        values = frame[column].astype(object).where(frame[column].notna(), MISSING_SEGMENT)
        keys = values.astype(str).to_numpy()
        known = [str(c) for c in contract.columns[column].categories or ()]
        present = set(keys.tolist())
        order = [k for k in known if k in present]
        order += sorted(present - set(order) - {MISSING_SEGMENT})
        order += [MISSING_SEGMENT] if MISSING_SEGMENT in present else []
        result[column] = {
            key: _segment_metrics(y[keys == key], s[keys == key], contract.costs, threshold)
            for key in order
        }
    return result


def flatten_segments(
    segments: Mapping[str, Mapping[str, SegmentMetrics]],
) -> dict[str, SegmentMetrics]:
    """The same figures keyed ``"<column>=<value>"`` (e.g. ``"channel=online"``)."""
    return {
        f"{column}={value}": metrics
        for column, by_value in segments.items()
        for value, metrics in by_value.items()
    }


def _as_arrays(
    y_true: ArrayLike, scores: ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    y_raw = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if y_raw.ndim != 1 or s.ndim != 1:
        raise EvaluationError(
            f"labels and scores must be 1-D, got shapes {y_raw.shape} and {s.shape}"
        )
    if len(y_raw) != len(s):
        raise EvaluationError(f"{len(y_raw)} labels but {len(s)} scores; they must align")
    if len(s) == 0:
        raise EvaluationError("nothing to evaluate: no rows")
    bad = sorted(set(pd.unique(y_raw).tolist()) - {0, 1}, key=str)
    if bad:
        raise EvaluationError(
            f"labels must be 0 or 1, found {bad[:5]}; encode them with contract.binary_labels "
            "(1 = the positive label)"
        )
    if not np.isfinite(s).all():
        raise EvaluationError(f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite")
    return y_raw.astype(np.int64), s


def _sweep(
    y: npt.NDArray[np.int64], s: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Thresholds from "flag nothing" down to the lowest score, with TP and FP at each."""
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(s_desc)), len(s_desc) - 1]
    tp = np.r_[0, np.cumsum(y_desc)[last_of_value]]
    fp = np.r_[0, np.cumsum(1 - y_desc)[last_of_value]]
    nothing = np.nextafter(s_desc[0], np.inf)
    thresholds = np.r_[nothing, s_desc[last_of_value]]
    return thresholds, tp, fp


def _precision_recall(
    counts: core.Confusion, notes: list[str]
) -> tuple[float | None, float | None]:
    precision, recall = counts.precision, counts.recall
    if precision is None:
        notes.append("precision_at_threshold undefined: no row scores at or above the threshold")
    if recall is None:
        notes.append("recall_at_threshold undefined: there are no positives")
    return precision, recall


def _segment_metrics(
    y: npt.NDArray[np.int64], s: npt.NDArray[np.float64], costs: Costs, threshold: float
) -> SegmentMetrics:
    n_pos = int(y.sum())
    two_classes = 0 < n_pos < len(y)
    counts = core.confusion_at(y, s, threshold)
    return SegmentMetrics(
        n_rows=len(y),
        n_positives=n_pos,
        pr_auc=core.pr_auc(y, s),
        roc_auc=float(roc_auc_score(y, s)) if two_classes else None,
        precision_at_threshold=counts.precision,
        recall_at_threshold=counts.recall,
        expected_cost_per_row=core.business_cost(counts, costs) / len(y),
    )
