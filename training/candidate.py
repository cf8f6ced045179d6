"""Build a candidate model from validated data: split, leakage checks, fit, evaluate. No I/O.

This is the whole training stage as one pure function, so it can be run and tested without
MLflow or Prefect; the train flow wraps it with reading batches and registering the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.contract import DatasetContract
from training.evaluate import (
    Metrics,
    SegmentMetrics,
    evaluate,
    evaluate_segments,
    flatten_segments,
)
from training.fit import ModelParams, feature_frame, fit_pipeline
from training.gate import Scorecard, SegmentScore
from training.leakage import LeakageCheckResult, run_leakage_checks
from training.split import TimeSplit, time_split

Segments = Mapping[str, Mapping[str, SegmentMetrics]]


@dataclass(frozen=True)
class TrainingConfig:
    """How much history to learn from and how to measure it."""

    train_days: int = 28
    holdout_days: int = 7
    target_fpr: float = 0.01
    max_single_feature_auc: float = 0.98
    params: ModelParams = field(default_factory=ModelParams)
    threads: int | None = 1


@dataclass(frozen=True)
class Candidate:
    """A fitted pipeline with everything measured about it on its holdout."""

    pipeline: Pipeline
    split: TimeSplit
    metrics: Metrics
    segments: Segments
    leakage_checks: list[LeakageCheckResult]
    reference: pd.DataFrame

    @property
    def threshold(self) -> float:
        """The decision threshold that minimises expected business cost on the holdout."""
        return float(self.metrics.threshold)


def train_candidate(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp, config: TrainingConfig
) -> Candidate:
    """Fit and evaluate a model on rows whose labels were known at ``cutoff``.

    Raises the split's or the leakage checks' error, with its message, when the data cannot
    give an honest model.
    """
    split = time_split(
        frame,
        contract,
        cutoff,
        holdout_days=config.holdout_days,
        train_days=config.train_days,
    )
    checks = run_leakage_checks(
        split,
        contract,
        list(contract.features),
        max_single_feature_auc=config.max_single_feature_auc,
    )
    pipeline = fit_pipeline(split.train, contract, config.params, threads=config.threads)
    scores = score(pipeline, split.holdout, contract)
    y_true = split.holdout[contract.label_column].to_numpy()
    metrics = evaluate(y_true, scores, contract.costs, target_fpr=config.target_fpr)
    segments = evaluate_segments(split.holdout, scores, contract, metrics.threshold)
    reference = reference_frame(split.holdout, scores, contract)
    return Candidate(pipeline, split, metrics, segments, checks, reference)


def score(pipeline: Pipeline, frame: pd.DataFrame, contract: DatasetContract) -> np.ndarray:
    """Fraud probability for each row of ``frame``."""
    proba: np.ndarray = pipeline.predict_proba(feature_frame(frame, contract))[:, 1]
    return proba


def reference_frame(
    holdout: pd.DataFrame, scores: np.ndarray, contract: DatasetContract
) -> pd.DataFrame:
    """The holdout rows kept as the monitoring reference: ids, time, features, label, score."""
    columns = [
        contract.id_column,
        contract.event_time_column,
        *contract.features,
        contract.label_column,
    ]
    reference = holdout[columns].reset_index(drop=True).copy()
    reference["score"] = scores
    return reference


def segment_dict(segments: Segments) -> dict[str, dict[str, Any]]:
    """Segment metrics as plain JSON-ready dicts (column -> value -> figures)."""
    return {
        column: {str(value): m.to_dict() for value, m in by_value.items()}
        for column, by_value in segments.items()
    }


def scorecard(version: str, metrics: Metrics, segments: Segments, metric: str) -> Scorecard:
    """The gate's view of a model: overall metrics and ``metric`` per segment."""
    per_segment = {
        name: SegmentScore(value=figures.get(metric), n_positives=int(figures["n_positives"] or 0))
        for name, figures in ((name, m.to_dict()) for name, m in flatten_segments(segments).items())
    }
    return Scorecard(version=version, metrics=metrics.figures(), segments=per_segment)


def rescore(
    pipeline: Pipeline,
    reference: pd.DataFrame,
    contract: DatasetContract,
    *,
    target_fpr: float,
) -> tuple[Metrics, Segments]:
    """Evaluate another model (e.g. the champion) on a candidate's holdout rows."""
    scores = score(pipeline, reference, contract)
    y_true = reference[contract.label_column].to_numpy()
    metrics = evaluate(y_true, scores, contract.costs, target_fpr=target_fpr)
    return metrics, evaluate_segments(reference, scores, contract, metrics.threshold)
