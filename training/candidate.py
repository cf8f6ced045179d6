"""Build a candidate model from validated data: encode, split, check, fit, evaluate. No I/O.

This is the whole training stage as one pure function, so it can be run and tested without
MLflow or Prefect; the train flow wraps it with reading batches and registering the result.
The label arrives as the contract declares it (e.g. ``0``/``1`` or ``"no"``/``"yes"``) and is
encoded to 0/1 here, once; everything after, the stored reference frame included, sees 0/1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from features.contract import DatasetContract
from features.vocabulary import (
    CODE_REVISION_TAG,
    CONTRACT_HASH_TAG,
    CUTOFF_TAG,
    HOLDOUT_END_TAG,
    HOLDOUT_START_TAG,
    THRESHOLD_TAG,
    TRAIN_END_TAG,
    TRAIN_START_TAG,
    WARNINGS_TAG,
    warnings_tag,
)
from training.config import TrainingConfig
from training.evaluate import (
    Metrics,
    SegmentMetrics,
    evaluate,
    evaluate_segments,
    flatten_segments,
)
from training.fit import FitError, feature_frame, fit_pipeline
from training.gate import Scorecard, SegmentScore
from training.leakage import LeakageCheckResult, run_leakage_checks
from training.split import TimeSplit, time_split

Segments = Mapping[str, Mapping[str, SegmentMetrics]]


@dataclass(frozen=True)
class Candidate:
    """A fitted pipeline with everything measured about it on its holdout.

    ``reference`` holds the holdout rows kept with the model (see `reference_frame`).
    ``warnings`` are the caveats a reader of its figures must know (e.g. a holdout with fewer
    positives than a stable PR-AUC needs); they travel with the version to the gate and the
    model card.
    """

    pipeline: Pipeline
    split: TimeSplit
    metrics: Metrics
    segments: Segments
    leakage_checks: list[LeakageCheckResult]
    reference: pd.DataFrame
    warnings: tuple[str, ...] = ()

    @property
    def threshold(self) -> float:
        """The decision threshold that minimises expected business cost on the holdout."""
        return float(self.metrics.threshold)


def encode_labels(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """``frame`` with its label as 0/1 (1 = the contract's positive label); missing stays missing.

    Raises:
        FitError: the label column is missing, or holds a value that is not one of the
            contract's two label values.
    """
    label = contract.label_column
    if label not in frame.columns:
        raise FitError(f"label column '{label}' missing from the training frame")
    try:
        encoded = contract.binary_labels(frame[label])
    except ValueError as exc:
        raise FitError(
            f"cannot train: {exc}; contract '{contract.name}' declares the label values "
            f"{list(contract.label_values)} (positive: {contract.positive!r}): fix the data or "
            "the contract's label categories"
        ) from None
    return frame.assign(**{label: encoded})


def train_candidate(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp, config: TrainingConfig
) -> Candidate:
    """Fit and evaluate a model on rows whose labels were known at ``cutoff``.

    The label is encoded with ``contract.binary_labels``, the model takes the contract's
    ``model`` parameters, and ``config`` (the settings tree's training section) sets the
    windows, the holdout's positive target, the leakage threshold and the threads.

    Raises:
        FitError: a label value outside the contract, or a frame that cannot be fitted.
        SplitError, LeakageError: the data cannot give an honest model (the message says why).
    """
    split = time_split(
        encode_labels(frame, contract),
        contract,
        cutoff,
        holdout_days=config.holdout_days,
        train_days=config.train_days,
        min_holdout_positives=config.min_holdout_positives,
    )
    checks = run_leakage_checks(
        split,
        contract,
        list(contract.features),
        max_single_feature_auc=config.max_single_feature_auc,
    )
    pipeline = fit_pipeline(
        split.train,
        contract,
        contract.model,
        threads=config.threads,
        recency_half_life_days=config.recency_half_life_days,
    )
    scores = score(pipeline, split.holdout, contract)
    y_true = split.holdout[contract.label_column].to_numpy()
    metrics = evaluate(y_true, scores, contract.costs, target_fpr=config.target_fpr)
    segments = evaluate_segments(split.holdout, scores, contract, metrics.threshold)
    reference = reference_frame(split.holdout, scores, contract)
    warnings = (*split.warnings, *_metric_warnings(metrics))
    return Candidate(pipeline, split, metrics, segments, checks, reference, warnings)


def score(
    pipeline: Pipeline, frame: pd.DataFrame, contract: DatasetContract
) -> npt.NDArray[np.float64]:
    """Probability of the positive label for each row of ``frame`` (reads only the features)."""
    proba: npt.NDArray[np.float64] = pipeline.predict_proba(feature_frame(frame, contract))[:, 1]
    return proba


def reference_frame(
    holdout: pd.DataFrame, scores: npt.ArrayLike, contract: DatasetContract
) -> pd.DataFrame:
    """The holdout rows kept with the model, read by the gate and by monitoring.

    Columns: id, event time, the features, the segments that are not features, the label as
    0/1 ``int64``, and the model's score under ``contract.score_name``.
    """
    columns = [
        contract.id_column,
        contract.event_time_column,
        *contract.input_columns,
        contract.label_column,
    ]
    reference = holdout[columns].reset_index(drop=True).copy()
    reference[contract.label_column] = reference[contract.label_column].astype("int64")
    reference[contract.score_name] = np.asarray(scores, dtype=float)
    return reference


def segment_dict(segments: Segments) -> dict[str, dict[str, Any]]:
    """Segment metrics as plain JSON-ready dicts (column -> value -> figures)."""
    return {
        column: {str(value): m.to_dict() for value, m in by_value.items()}
        for column, by_value in segments.items()
    }


def candidate_tags(
    candidate: Candidate, contract: DatasetContract, code_revision: str
) -> dict[str, str]:
    """The model-version tags of a training run, named by `features.vocabulary`.

    Threshold, contract hash, code revision, train and holdout windows, cutoff, and the
    candidate's warnings as a JSON list (read back by ``training.registry.version_warnings``).
    """
    split = candidate.split
    return {
        THRESHOLD_TAG: repr(candidate.threshold),
        CONTRACT_HASH_TAG: contract.content_hash(),
        CODE_REVISION_TAG: code_revision,
        TRAIN_START_TAG: split.train_window[0].isoformat(),
        TRAIN_END_TAG: split.train_window[1].isoformat(),
        HOLDOUT_START_TAG: split.holdout_window[0].isoformat(),
        HOLDOUT_END_TAG: split.holdout_window[1].isoformat(),
        CUTOFF_TAG: split.cutoff.isoformat(),
        WARNINGS_TAG: warnings_tag(candidate.warnings),
    }


def scorecard(
    version: str,
    metrics: Metrics,
    segments: Segments,
    metric: str,
    warnings: Sequence[str] = (),
) -> Scorecard:
    """The gate's view of a model: overall metrics, ``metric`` per segment, and its warnings.

    Pass the challenger's training warnings (`Candidate.warnings`, or the version's warnings
    tag) as ``warnings``; the gate repeats them in its decision.
    """
    per_segment = {
        name: SegmentScore(value=figures.get(metric), n_positives=int(figures["n_positives"] or 0))
        for name, figures in ((name, m.to_dict()) for name, m in flatten_segments(segments).items())
    }
    return Scorecard(
        version=version,
        metrics=metrics.figures(),
        segments=per_segment,
        n_positives=metrics.n_positives,
        warnings=tuple(warnings),
    )


def rescore(
    pipeline: Pipeline,
    reference: pd.DataFrame,
    contract: DatasetContract,
    *,
    target_fpr: float,
) -> tuple[Metrics, Segments]:
    """Evaluate another model (e.g. the champion) on a candidate's reference frame.

    The reference's label is already 0/1; its segment columns (features or not) give the
    per-segment figures, and the model reads only the features.
    """
    scores = score(pipeline, reference, contract)
    y_true = reference[contract.label_column].to_numpy()
    metrics = evaluate(y_true, scores, contract.costs, target_fpr=target_fpr)
    return metrics, evaluate_segments(reference, scores, contract, metrics.threshold)


def _metric_warnings(metrics: Metrics) -> tuple[str, ...]:
    """Caveats the holdout figures carry beyond the split's own."""
    if metrics.n_flagged:
        return ()
    return (
        f"at the cost-optimal threshold the model flags none of the {metrics.n_rows} holdout "
        f"rows: with these costs flagging nothing is cheapest, so in service it would flag "
        "(almost) nothing; check the contract's costs",
    )
