"""The pure core of scoring: rows in, a typed feature frame and probabilities out.

The same functions build the model input for a request and for the smoke test of a new model
version, so a version that passes the smoke test has been exercised on the exact frame shape
requests produce.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from features.contract import DatasetContract
from serving.fast_scorer import FastScorer


class Classifier(Protocol):
    """Anything with scikit-learn's ``predict_proba`` (the registered sklearn Pipeline)."""

    def predict_proba(self, X: pd.DataFrame) -> Any:  # noqa: N803 - sklearn's name
        """Class probabilities, one row per input row, column 1 = positive class."""
        ...


class ScoringError(RuntimeError):
    """The model did not return one finite probability in [0, 1] per row."""


def _column_dtype(contract: DatasetContract, name: str) -> str:
    spec = contract.columns[name]
    if spec.dtype == "float":
        return "float64"
    if spec.dtype == "int":
        # Missing ints cannot live in int64; pandas reads such a column as float64 too.
        return "float64" if spec.nullable else "int64"
    return "object"


def _missing_to_none(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def feature_frame(rows: Sequence[Mapping[str, object]], contract: DatasetContract) -> pd.DataFrame:
    """The model input: exactly ``contract.features`` in contract order, with the training dtypes.

    Anything else a row carries (id, event time, segments that are not features) is left out:
    the model never sees it. Floats are float64 (``None`` becomes NaN), ints int64 (float64
    when nullable), categories plain ``object`` values, as the raw batches hold them.

    Raises:
        KeyError: A row lacks a feature column.
    """
    data: dict[str, Any] = {}
    for name in contract.features:
        dtype = _column_dtype(contract, name)
        values = [row[name] for row in rows]
        if dtype == "object":
            data[name] = np.array([_missing_to_none(v) for v in values], dtype=object)
        else:
            data[name] = np.array(
                [np.nan if v is None else v for v in values],
                dtype=dtype,
            )
    return pd.DataFrame(data, columns=list(contract.features))


def positive_probabilities(model: Classifier, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Column 1 of ``predict_proba`` (the positive class) as float64, checked per row.

    Each score must be finite and in [0, 1], one per row of ``frame``.

    Raises:
        ScoringError: The model's output has the wrong shape or out-of-range values.
    """
    raw = np.asarray(model.predict_proba(frame), dtype="float64")
    if raw.ndim != 2 or raw.shape[0] != len(frame) or raw.shape[1] < 2:
        raise ScoringError(
            f"predict_proba returned shape {raw.shape} for {len(frame)} rows; expected "
            f"({len(frame)}, 2)"
        )
    return checked_scores(raw[:, 1])


def fast_probabilities(
    fast: FastScorer, rows: Sequence[Mapping[str, object]]
) -> np.ndarray[Any, Any]:
    """What :func:`positive_probabilities` returns for ``rows``, by the version's fast path."""
    return checked_scores(fast.positive_probabilities(fast.matrix_from_rows(rows)))


def checked_scores(scores: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``scores`` when every one is finite and in [0, 1].

    Raises:
        ScoringError: A score is NaN, infinite or outside [0, 1].
    """
    if not np.all(np.isfinite(scores)):
        raise ScoringError("predict_proba returned non-finite probabilities (NaN or inf)")
    if np.any(scores < 0) or np.any(scores > 1):
        raise ScoringError(
            f"predict_proba returned probabilities outside [0, 1] "
            f"(min {scores.min():.4g}, max {scores.max():.4g})"
        )
    return scores


def decisions(scores: np.ndarray[Any, Any], threshold: float) -> np.ndarray[Any, Any]:
    """1 where ``score >= threshold`` (flag as the positive class), else 0, as int64."""
    return (scores >= threshold).astype("int64")


class SingleThreadedModelCalls:
    """Runs model calls with ONE OpenMP thread in the calling thread.

    HistGradientBoosting parallelises ``predict_proba`` with OpenMP over all cores even for one
    row. A server scores many small requests concurrently, so per-call parallelism only adds
    thread hand-offs: on a busy 2-core machine it turned a ~10 ms single-row call into a 300 ms
    p90. OpenMP's thread count is a per-thread setting, so limiting it in the request's worker
    thread leaves other threads (e.g. training in the same process) untouched.

    The controller is created on first use: by then a model is loaded, so scikit-learn's OpenMP
    runtime is in the process and can be found.
    """

    def __init__(self) -> None:
        self._controller: Any = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def limit(self) -> Iterator[None]:
        """Context in which OpenMP uses one thread (in this thread only)."""
        if self._controller is None:
            with self._lock:
                if self._controller is None:
                    self._controller = ThreadpoolController()
        with self._controller.limit(limits=1, user_api="openmp"):
            yield
