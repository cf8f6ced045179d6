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

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

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


# --------------------------------------------------------------------------- bootstrap intervals
#
# The three metrics only change where a positive is ranked, so each model's rows are binned
# once by where they fall relative to the scores that hold a positive (`_Ranking`). The figures
# of a whole block of resamples then come from counting the drawn rows per bin: one bincount
# into a small array instead of a metric call per resample. Tied scores form one threshold, as
# in scikit-learn.

BootstrapMetric = Literal["pr_auc", "roc_auc", "recall_at_fpr"]
BOOTSTRAP_METRICS: tuple[BootstrapMetric, ...] = ("pr_auc", "roc_auc", "recall_at_fpr")
#: Resamples as the row indices each draws, one resample per row (see `bootstrap_draws`).
Draws = npt.NDArray[np.int32]
#: Resamples drawn per block: bounds the memory of the draws (block x rows).
_BLOCK = 250
#: How the intervals are made, recorded with every interval.
BOOTSTRAP_METHOD = "percentile bootstrap, rows resampled within each class"


@dataclass(frozen=True)
class BootstrapInterval:
    """A figure on the full holdout and the percentile interval of its bootstrap distribution.

    ``estimate`` is the figure itself (for a paired comparison, the challenger's minus the
    champion's); ``low`` and ``high`` bound the central ``confidence`` share of the
    ``resamples`` bootstrap figures drawn with ``seed``.
    """

    metric: str
    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int
    seed: int

    def contains(self, value: float) -> bool:
        """True when ``value`` lies within [low, high]."""
        return self.low <= value <= self.high

    def describe(self, signed: bool = False) -> str:
        """E.g. ``0.5120 (95% CI 0.4960 to 0.5290)``; ``signed`` puts a sign on each figure."""
        spec = "+.4f" if signed else ".4f"
        return (
            f"{self.estimate:{spec}} ({self.confidence:.0%} CI {self.low:{spec}} to "
            f"{self.high:{spec}})"
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready, figures rounded to 6 decimals, with the method named."""
        return {
            "metric": self.metric,
            "estimate": round(self.estimate, 6),
            "low": round(self.low, 6),
            "high": round(self.high, 6),
            "confidence": self.confidence,
            "resamples": self.resamples,
            "seed": self.seed,
            "method": BOOTSTRAP_METHOD,
        }


def bootstrap_interval(
    y_true: ArrayLike,
    scores: ArrayLike,
    metric: BootstrapMetric,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    target_fpr: float,
) -> BootstrapInterval:
    """One model's holdout ``metric`` with its bootstrap interval.

    Rows are resampled with replacement within each class (see `bootstrap_draws`).
    ``target_fpr`` is only read for ``recall_at_fpr``.

    Raises:
        EvaluationError: see `paired_bootstrap_interval`.
    """
    y, s = _as_arrays(y_true, scores)
    _check_bootstrap(y, metric, resamples, confidence)
    ranking = _Ranking.of(y, s)
    everything = np.arange(len(y), dtype=np.int32)[None, :]
    estimate = float(ranking.figures(everything, metric, target_fpr)[0])
    figures = np.concatenate(
        [ranking.figures(d, metric, target_fpr) for d in bootstrap_draws(y, resamples, seed)]
    )
    return _interval(metric, estimate, figures, confidence, seed)


def paired_bootstrap_interval(
    y_true: ArrayLike,
    new_scores: ArrayLike,
    old_scores: ArrayLike,
    metric: BootstrapMetric,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    target_fpr: float,
) -> BootstrapInterval:
    """The interval of ``metric(new) - metric(old)`` when both models score the same rows.

    Paired: each resample draws one set of rows and scores both models on it, so what the two
    models share (the same hard and easy rows) cancels in the difference, and the interval is
    much narrower than two separate intervals would suggest. Rows are resampled with
    replacement within each class (see `bootstrap_draws`). ``target_fpr`` is only read for
    ``recall_at_fpr``.

    Raises:
        EvaluationError: inputs that `evaluate` rejects, score arrays of different lengths, a
            single class in the labels (the metric is undefined), fewer than 100 resamples or a
            confidence outside (0, 1).
    """
    y, new = _as_arrays(y_true, new_scores)
    _, old = _as_arrays(y_true, old_scores)
    _check_bootstrap(y, metric, resamples, confidence)
    rank_new, rank_old = _Ranking.of(y, new), _Ranking.of(y, old)

    def gains(draws: Draws) -> npt.NDArray[np.float64]:
        return rank_new.figures(draws, metric, target_fpr) - rank_old.figures(
            draws, metric, target_fpr
        )

    estimate = float(gains(np.arange(len(y), dtype=np.int32)[None, :])[0])
    figures = np.concatenate([gains(d) for d in bootstrap_draws(y, resamples, seed)])
    return _interval(metric, estimate, figures, confidence, seed)


def bootstrap_draws(y: npt.NDArray[np.int64], resamples: int, seed: int) -> Iterator[Draws]:
    """Blocks of resamples as the row indices each draws: shape ``(block, len(y))``.

    ``resamples`` rows in all. Each resample draws as many positives as ``y`` holds from its
    positives, and as many negatives from its negatives, with replacement. Fixing the class
    counts keeps every resample's figure defined (a plain resample of a holdout with few
    positives can draw none) and keeps the base rate, which PR-AUC depends on, at the
    holdout's own: the interval then measures how well the models rank rows like these, not
    how many positives a draw happened to get. The same ``seed`` always gives the same draws.
    """
    rng = np.random.default_rng(seed)
    classes = [
        members.astype(np.int32)
        for members in (np.flatnonzero(y == 1), np.flatnonzero(y == 0))
        if len(members)
    ]
    for start in range(0, resamples, _BLOCK):
        block = min(_BLOCK, resamples - start)
        picks = [
            members[rng.integers(0, len(members), size=(block, len(members)), dtype=np.int32)]
            for members in classes
        ]
        yield np.concatenate(picks, axis=1)


def resampled_metric(
    y_true: ArrayLike,
    scores: ArrayLike,
    draws: npt.ArrayLike,
    metric: BootstrapMetric,
    target_fpr: float,
) -> npt.NDArray[np.float64]:
    """``metric`` of each resample, one per row of ``draws`` (the row indices it draws).

    Equals scikit-learn's ``average_precision_score`` (``pr_auc``) and ``roc_auc_score``, and
    `evaluate`'s ``recall_at_fpr``, on the rows each resample draws; every resample must draw
    both classes.
    """
    y, s = _as_arrays(y_true, scores)
    return _Ranking.of(y, s).figures(np.asarray(draws, dtype=np.int32), metric, target_fpr)


@dataclass(frozen=True)
class _Ranking:
    """One model's rows binned by rank, relative to the K tied-score groups holding a positive.

    With the groups in descending score order, a negative's bin is ``2k`` when it scores
    between positive groups k-1 and k, ``2k + 1`` when it ties with group k, and ``2K`` when it
    scores below them all; a positive of group k is in bin ``2K + 1 + k``. ``bins`` holds each
    row's bin.
    """

    bins: npt.NDArray[np.intp]
    n_groups: int

    @classmethod
    def of(cls, y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> _Ranking:
        """Bin the rows of a holdout with both classes by ``scores``."""
        distinct = np.unique(scores)
        group = len(distinct) - 1 - np.searchsorted(distinct, scores)  # 0 = highest score
        positive = y == 1
        pos_groups = np.unique(group[positive])
        k = np.searchsorted(pos_groups, group)  # first positive group at or below each row
        tied = pos_groups[np.minimum(k, len(pos_groups) - 1)] == group
        neg_bin = 2 * k + (tied & (k < len(pos_groups)))
        bins = np.where(positive, 2 * len(pos_groups) + 1 + k, neg_bin)
        return cls(bins.astype(np.intp), len(pos_groups))

    def figures(
        self, draws: Draws, metric: BootstrapMetric, target_fpr: float
    ) -> npt.NDArray[np.float64]:
        """``metric`` of each row of ``draws`` (see `resampled_metric`)."""
        n_bins = 3 * self.n_groups + 1
        flat = self.bins[draws]
        flat += np.arange(len(draws))[:, None] * n_bins  # in place: a copy costs as much again
        counts = np.bincount(flat.ravel(), minlength=len(draws) * n_bins).reshape(-1, n_bins)
        neg, pos = counts[:, : 2 * self.n_groups + 1], counts[:, 2 * self.n_groups + 1 :]
        tp = np.cumsum(pos, axis=1)
        fp = np.cumsum(neg, axis=1)[:, 1::2]  # negatives at or above each positive group
        n_pos, n_neg = tp[:, -1], neg.sum(axis=1)
        if metric == "pr_auc":
            flagged = tp + fp
            precision = np.divide(tp, flagged, out=np.zeros(tp.shape), where=flagged > 0)
            return np.asarray((pos * precision).sum(axis=1) / n_pos, dtype=float)
        if metric == "roc_auc":
            below = n_neg[:, None] - fp + 0.5 * neg[:, 1::2]  # ties count half
            return np.asarray((pos * below).sum(axis=1) / (n_pos * n_neg), dtype=float)
        within = fp / n_neg[:, None] <= target_fpr
        return np.asarray(np.where(within, tp, 0).max(axis=1) / n_pos, dtype=float)


def _check_bootstrap(
    y: npt.NDArray[np.int64], metric: str, resamples: int, confidence: float
) -> None:
    if metric not in BOOTSTRAP_METRICS:
        raise EvaluationError(f"no bootstrap for metric {metric!r}; one of {BOOTSTRAP_METRICS}")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise EvaluationError(
            f"{metric} has no interval: the labels have a single class ({n_pos} positives, "
            f"{len(y) - n_pos} negatives)"
        )
    if resamples < 100:
        raise EvaluationError(f"a percentile interval needs >= 100 resamples, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise EvaluationError(f"confidence must be within (0, 1), got {confidence}")


def _interval(
    metric: str,
    estimate: float,
    figures: npt.NDArray[np.float64],
    confidence: float,
    seed: int,
) -> BootstrapInterval:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(figures, [tail, 1.0 - tail])
    return BootstrapInterval(
        metric=metric,
        estimate=estimate,
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=len(figures),
        seed=seed,
    )
