"""The model: one scikit-learn Pipeline from the contract's features to a probability.

The Pipeline scores the probability of the contract's positive label (e.g. a churned customer).

Feature encoding lives inside the Pipeline, so serving and batch scoring load the same artifact
and cannot encode differently. Category columns are one-hot encoded against the contract's
category list (an unseen value encodes as all zeros instead of failing); numeric columns pass
through unchanged, missing values included, because histogram gradient boosting learns where
to send them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from features.contract import DatasetContract, ModelParams


class FitError(ValueError):
    """The training frame cannot be fitted; the message says which column or value is wrong."""


def feature_frame(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """The contract's feature columns of ``frame``, in contract order (the model's input).

    Every other column is left out, segments that are not features included: the model never
    sees them, whatever the frame carries.

    Raises:
        FitError: a feature column is missing from ``frame``.
    """
    missing = [c for c in contract.features if c not in frame.columns]
    if missing:
        raise FitError(
            f"feature column(s) {missing} missing from the frame; it has {list(frame.columns)}"
        )
    return frame.loc[:, list(contract.features)]


def build_pipeline(contract: DatasetContract, params: ModelParams) -> Pipeline:
    """An unfitted Pipeline: ``features`` (a ColumnTransformer) then ``model`` (the classifier).

    The transformer outputs a DataFrame whose columns are named ``<column>_<category>`` for
    one-hot columns and keep their own name for numeric ones, so the classifier's
    ``feature_names_in_`` are readable.
    """
    categorical = contract.categorical_features
    numeric = contract.numeric_features
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        encoder = OneHotEncoder(
            categories=[list(contract.columns[c].categories or ()) for c in categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categorical", encoder, categorical))
    if numeric:
        transformers.append(("numeric", "passthrough", numeric))
    columns = ColumnTransformer(transformers, verbose_feature_names_out=False)
    columns.set_output(transform="pandas")
    model = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=params.early_stopping,
        random_state=params.random_state,
    )
    return Pipeline([("features", columns), ("model", model)])


def recency_weights(event_times: pd.Series, half_life_days: float) -> npt.NDArray[np.float64]:
    """Row weights that halve every ``half_life_days`` before the newest event day.

    Ages count whole days (event dates), so every row of one day weighs the same and the newest
    day's rows weigh 1.

    Raises:
        FitError: an event time is missing or unreadable.
    """
    days = pd.to_datetime(event_times, format="ISO8601", utc=True, errors="coerce").dt.floor("D")
    if days.isna().any():
        raise FitError(
            f"{int(days.isna().sum())} event time(s) missing or unreadable: rows cannot be "
            "weighted by age"
        )
    age = (days.max() - days).dt.days.to_numpy(dtype=np.float64)
    weights: npt.NDArray[np.float64] = np.power(0.5, age / half_life_days)
    return weights


def fit_pipeline(
    train: pd.DataFrame,
    contract: DatasetContract,
    params: ModelParams,
    *,
    threads: int | None = None,
    recency_half_life_days: float | None = None,
) -> Pipeline:
    """Fit `build_pipeline` on the contract's features of ``train`` against its 0/1 label.

    The label must already be binary (1 = the contract's positive label): callers encode it
    with ``contract.binary_labels``, as `training.candidate.train_candidate` does.

    ``threads`` caps the OpenMP threads the trees use during the fit (``None``: the library's
    default, one per core). On cores shared with other work, 1 is often far faster: threads
    that wait for each other's cores spin instead of computing. ``recency_half_life_days``
    weights the rows by the age of their event day (`recency_weights`); None weighs them alike.

    Raises:
        FitError: a feature or the label is missing, the label has missing values or values
            other than 0/1, or only one class is present.
    """
    x = feature_frame(train, contract)
    label = contract.label_column
    if label not in train.columns:
        raise FitError(f"label column '{label}' missing from the training frame")
    y = train[label]
    if y.isna().any():
        raise FitError(
            f"label '{label}' has {int(y.isna().sum())} missing values; train only on labelled "
            "rows (see training.split.labelled_at)"
        )
    bad = sorted(set(y.unique().tolist()) - {0, 1}, key=str)
    if bad:
        raise FitError(
            f"label '{label}' must be 0 or 1 here, found {bad[:5]}; encode it with "
            "contract.binary_labels (1 = the positive label) before fitting"
        )
    counts = y.astype("int64").value_counts()
    if len(counts) < 2:
        raise FitError(
            f"label '{label}' has a single class ({counts.to_dict()} over {len(y)} rows); "
            "the train window needs rows of both the positive and the negative label"
        )
    pipeline = build_pipeline(contract, params)
    weighted: dict[str, Any] = {}
    if recency_half_life_days is not None:
        times = train[contract.event_time_column]
        weighted["model__sample_weight"] = recency_weights(times, recency_half_life_days)
    with threadpool_limits(limits=threads, user_api="openmp"):
        pipeline.fit(x, y.astype("int64"), **weighted)
    return pipeline
