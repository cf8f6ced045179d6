from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from features.contract import DatasetContract, ModelParams
from features.model_io import SKOPS_TRUSTED_TYPES
from training.fit import (
    FitError,
    build_pipeline,
    feature_frame,
    fit_pipeline,
    recency_weights,
)
from training.split import TimeSplit, time_split

FAST = ModelParams(max_iter=40, max_leaf_nodes=8)


@pytest.fixture(scope="module")
def split(contract: DatasetContract, transactions: pd.DataFrame) -> TimeSplit:
    return time_split(transactions, contract, pd.Timestamp("2026-01-31"), holdout_days=7)


def test_fitted_pipeline_reads_exactly_the_features(
    fitted: Pipeline, contract: DatasetContract
) -> None:
    assert list(fitted.feature_names_in_) == list(contract.features), (
        f"the model's input columns should be the contract's features: {fitted.feature_names_in_}"
    )


@pytest.fixture(scope="module")
def fitted(split: TimeSplit, contract: DatasetContract) -> Pipeline:
    return fit_pipeline(split.train, contract, FAST)


def test_default_params_match_the_documented_defaults() -> None:
    params = ModelParams()
    expected = {
        "max_iter": 200,
        "learning_rate": 0.08,
        "max_leaf_nodes": 31,
        "l2_regularization": 1.0,
        "random_state": 0,
        "early_stopping": False,
    }
    actual = {k: params.to_dict()[k] for k in expected}
    assert actual == expected, f"defaults changed: {actual}"


def test_params_are_validated_and_frozen() -> None:
    with pytest.raises(ValidationError):
        ModelParams(learning_rate=0)
    with pytest.raises(ValidationError):
        ModelParams(max_iters=10)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ModelParams().max_iter = 5


def test_build_pipeline_wires_the_params(contract: DatasetContract) -> None:
    pipe = build_pipeline(contract, FAST)
    assert [name for name, _ in pipe.steps] == ["features", "model"], pipe.steps
    model = pipe.named_steps["model"]
    assert (model.max_iter, model.max_leaf_nodes, model.early_stopping) == (40, 8, False), model


def test_fitted_pipeline_scores_probabilities_that_beat_chance(
    fitted: Pipeline, split: TimeSplit, contract: DatasetContract
) -> None:
    proba = fitted.predict_proba(feature_frame(split.holdout, contract))
    assert proba.shape == (len(split.holdout), 2), f"unexpected shape {proba.shape}"
    assert ((proba >= 0) & (proba <= 1)).all(), "probabilities must lie in [0, 1]"
    auc = roc_auc_score(split.holdout["is_fraud"], proba[:, 1])
    assert auc > 0.75, f"holdout ROC-AUC {auc:.3f} should clearly beat chance on learnable data"


def test_feature_names_are_readable(fitted: Pipeline, contract: DatasetContract) -> None:
    names = list(fitted.named_steps["model"].feature_names_in_)
    assert "channel_online" in names, names
    assert "amount" in names, names
    n_onehot = sum(len(contract.columns[c].categories or ()) for c in contract.categorical_features)
    assert len(names) == n_onehot + len(contract.numeric_features), names


def test_fit_uses_only_contract_features_in_contract_order(
    fitted: Pipeline, split: TimeSplit, contract: DatasetContract
) -> None:
    x = feature_frame(split.holdout, contract)
    assert list(x.columns) == list(contract.features), "feature_frame should keep contract order"
    shuffled = split.holdout.assign(noise=1.0)[[*reversed(split.holdout.columns), "noise"]]
    refit = fit_pipeline(split.train.assign(noise=np.arange(len(split.train))), contract, FAST)
    expected = fitted.predict_proba(x)[:, 1]
    actual = refit.predict_proba(feature_frame(shuffled, contract))[:, 1]
    assert np.allclose(actual, expected), "extra columns or column order must not change the fit"


def test_unseen_category_scores_without_error(
    fitted: Pipeline, split: TimeSplit, contract: DatasetContract
) -> None:
    x = feature_frame(split.holdout.head(3), contract).assign(country="XX")
    proba = fitted.predict_proba(x)[:, 1]
    assert np.isfinite(proba).all(), f"unseen category should still score: {proba}"


def test_thread_cap_does_not_change_the_model(
    fitted: Pipeline, split: TimeSplit, contract: DatasetContract
) -> None:
    capped = fit_pipeline(split.train, contract, FAST, threads=1)
    x = feature_frame(split.holdout, contract)
    assert np.allclose(capped.predict_proba(x), fitted.predict_proba(x)), (
        "capping threads should change speed only"
    )


def test_feature_frame_names_missing_columns(split: TimeSplit, contract: DatasetContract) -> None:
    with pytest.raises(FitError, match=r"\['amount'\] missing"):
        feature_frame(split.train.drop(columns="amount"), contract)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(is_fraud=0), "single class"),
        (lambda f: f.assign(is_fraud=f["is_fraud"] * 2), r"must be 0 or 1 here, found \[2\]"),
        (
            lambda f: f.assign(is_fraud=f["is_fraud"].map({0: "no", 1: "yes"})),
            r"found \['no', 'yes'\]; encode it with contract.binary_labels",
        ),
        (lambda f: f.drop(columns="is_fraud"), "label column 'is_fraud' missing"),
        (lambda f: f.assign(is_fraud=f["is_fraud"].where(f.index > 0)), "1 missing values"),
    ],
)
def test_fit_rejects_bad_labels(
    split: TimeSplit, contract: DatasetContract, change: object, message: str
) -> None:
    assert callable(change)
    with pytest.raises(FitError, match=message):
        fit_pipeline(change(split.train), contract, FAST)


def test_skops_trusted_types_are_minimal_and_sufficient(
    fitted: Pipeline, split: TimeSplit, contract: DatasetContract
) -> None:
    dumped = sio.dumps(fitted)
    untrusted = sio.get_untrusted_types(data=dumped)
    assert sorted(untrusted) == sorted(SKOPS_TRUSTED_TYPES), (
        f"skops needs exactly {untrusted}; SKOPS_TRUSTED_TYPES is {SKOPS_TRUSTED_TYPES}"
    )
    loaded = sio.loads(dumped, trusted=SKOPS_TRUSTED_TYPES)
    x = feature_frame(split.holdout, contract)
    assert np.array_equal(loaded.predict_proba(x), fitted.predict_proba(x)), (
        "the skops round trip should reproduce the scores exactly"
    )


def test_recency_weights_halve_per_half_life_by_event_day() -> None:
    times = pd.Series(
        ["2026-01-10T23:59:00Z", "2026-01-10T00:01:00Z", "2026-01-07T12:00:00Z", "2026-01-04"]
    )
    weights = recency_weights(times, half_life_days=3.0)
    assert weights.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.25]), "whole days, newest 1"
    with pytest.raises(FitError, match="1 event time"):
        recency_weights(pd.Series(["2026-01-10", None]), half_life_days=3.0)


def test_recency_weighting_changes_the_fit_and_only_when_asked(
    split: TimeSplit, contract: DatasetContract, fitted: Pipeline
) -> None:
    x = feature_frame(split.holdout, contract)
    plain = fit_pipeline(split.train, contract, FAST).predict_proba(x)[:, 1]
    assert np.array_equal(plain, fitted.predict_proba(x)[:, 1]), "unweighted fits repeat"
    weighted = fit_pipeline(split.train, contract, FAST, recency_half_life_days=2.0)
    recent = weighted.predict_proba(x)[:, 1]
    assert not np.array_equal(recent, plain), "old rows weigh less, so the trees differ"
    y = split.holdout[contract.label_column].to_numpy()
    assert roc_auc_score(y, recent) > 0.5, "still a model"
