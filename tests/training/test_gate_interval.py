"""The bootstrap intervals behind the promotion gate: exact figures per resample, class-stratified
seeded draws, and the paired interval of a gain, checked by hand and against scikit-learn."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError
from sklearn.metrics import average_precision_score, roc_auc_score

from features.contract import Costs
from training.evaluate import (
    BOOTSTRAP_METRICS,
    BootstrapInterval,
    BootstrapMetric,
    EvaluationError,
    bootstrap_draws,
    bootstrap_interval,
    evaluate,
    paired_bootstrap_interval,
    resampled_metric,
)
from training.gate import (
    GatePolicy,
    Scorecard,
    decide_promotion,
    gain_interval,
    holdout_interval,
    interval_figures,
)

COSTS = Costs(false_negative=10.0, false_positive=1.0)
FPR = 0.05


def single(
    y: npt.ArrayLike, s: npt.ArrayLike, seed: int = 0, confidence: float = 0.95
) -> BootstrapInterval:
    return bootstrap_interval(
        y, s, "pr_auc", resamples=500, confidence=confidence, seed=seed, target_fpr=FPR
    )


def paired(
    y: npt.ArrayLike,
    new: npt.ArrayLike,
    old: npt.ArrayLike,
    seed: int = 0,
    metric: BootstrapMetric = "pr_auc",
) -> BootstrapInterval:
    return paired_bootstrap_interval(
        y, new, old, metric, resamples=500, confidence=0.95, seed=seed, target_fpr=FPR
    )


def holdout(
    seed: int, n: int = 600, rate: float = 0.1, decimals: int = 6
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Labels and a score that ranks them moderately well; few decimals make ties."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int64)
    return y, np.round(rng.normal(1.5 * y, 1.0), decimals)


def sklearn_figure(metric: str, y: npt.NDArray[np.int64], s: npt.NDArray[np.float64]) -> float:
    if metric == "pr_auc":
        return float(average_precision_score(y, s))
    if metric == "roc_auc":
        return float(roc_auc_score(y, s))
    figure = evaluate(y, s, COSTS, target_fpr=FPR).recall_at_fpr
    assert figure is not None
    return figure


def test_average_precision_by_hand_on_chosen_draws() -> None:
    # Scores 0.9 > 0.8 > 0.7 > 0.1 with labels 1, 0, 1, 0: the positives are found at ranks 1
    # and 3, so AP = 1/2 * 1 + 1/2 * 2/3 = 5/6. Drawing the top positive twice, the 0.8 negative
    # and the 0.1 negative puts both drawn positives first: AP = 1.
    y, s = np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])
    draws = np.array([[0, 1, 2, 3], [0, 0, 1, 3], [2, 2, 1, 1]])
    figures = resampled_metric(y, s, draws, "pr_auc", FPR)
    assert figures == pytest.approx([5 / 6, 1.0, 0.5]), figures
    roc = resampled_metric(y, s, draws, "roc_auc", FPR)
    assert roc == pytest.approx([0.75, 1.0, 0.0]), f"AUC = share of correctly ordered pairs: {roc}"


@pytest.mark.parametrize("metric", BOOTSTRAP_METRICS)
@pytest.mark.parametrize("decimals", [6, 1])
def test_each_resample_matches_the_figure_of_its_rows(
    metric: BootstrapMetric, decimals: int
) -> None:
    y, s = holdout(seed=3, decimals=decimals)
    draws = next(bootstrap_draws(y, resamples=30, seed=7))
    figures = resampled_metric(y, s, draws, metric, FPR)
    expected = [sklearn_figure(metric, y[rows], s[rows]) for rows in draws]
    assert figures == pytest.approx(expected, abs=1e-12), f"{metric}, {decimals} decimals"


def test_draws_keep_each_class_count_and_repeat_with_the_seed() -> None:
    y, _ = holdout(seed=1)
    blocks = list(bootstrap_draws(y, resamples=600, seed=11))
    draws = np.concatenate(blocks)
    assert draws.shape == (600, len(y)), "one row of draws per resample, as many as the holdout"
    assert len(blocks) > 1, "drawn in blocks, to bound memory"
    assert (y[draws].sum(axis=1) == y.sum()).all(), "every resample holds the holdout's positives"
    again = np.concatenate(list(bootstrap_draws(y, resamples=600, seed=11)))
    assert np.array_equal(draws, again), "the same seed draws the same rows"
    other = np.concatenate(list(bootstrap_draws(y, resamples=600, seed=12)))
    assert not np.array_equal(draws, other), "another seed draws other rows"


def test_interval_brackets_the_figure_and_repeats_with_the_seed() -> None:
    y, s = holdout(seed=2)
    interval = single(y, s, seed=5)
    assert interval.estimate == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert interval.low < interval.estimate < interval.high, interval
    assert (interval.resamples, interval.seed, interval.confidence) == (500, 5, 0.95), interval
    assert single(y, s, seed=5) == interval, "the same seed, the same interval"
    wider = single(y, s, seed=5, confidence=0.99)
    assert wider.low < interval.low, "more confidence, a lower low"
    assert wider.high > interval.high, "more confidence, a higher high"


def test_identical_models_give_an_interval_of_exactly_zero_and_are_not_promoted() -> None:
    y, s = holdout(seed=4)
    interval = paired(y, s, s)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0), interval
    assert interval.contains(0.0), interval
    policy = GatePolicy(margin=0.0)
    card = Scorecard("1", evaluate(y, s, COSTS, target_fpr=FPR).figures())
    gain = gain_interval(y, s, s, policy, target_fpr=FPR)
    decision = decide_promotion(dataclasses.replace(card, version="2"), card, policy, gain)
    assert decision.verdict == "reject", f"even with no margin: {decision.reason}"


def test_paired_interval_is_narrower_than_the_models_own() -> None:
    # Two models that share most of their signal: their figures move together from resample to
    # resample, so the difference varies far less than either figure.
    rng = np.random.default_rng(9)
    y = (rng.random(2000) < 0.05).astype(np.int64)
    shared = rng.normal(2.0 * y, 1.0)
    new, old = shared + rng.normal(0, 0.2, len(y)), shared + rng.normal(0, 0.2, len(y))
    gain = paired(y, new, old, seed=1)
    alone = single(y, new, seed=1)
    assert gain.high - gain.low < 0.5 * (alone.high - alone.low), (gain, alone)
    expected = average_precision_score(y, new) - average_precision_score(y, old)
    assert gain.estimate == pytest.approx(expected, abs=1e-12), "the point gain is exact"


def test_a_clearly_better_model_has_an_interval_above_zero() -> None:
    y, s = holdout(seed=6, n=2000)
    better = np.where(y == 1, s + 2.0, s)
    interval = paired(y, better, s, metric="roc_auc")
    assert interval.low > 0.1, interval
    assert not interval.contains(0.0), interval


def test_gate_helpers_read_the_policy_and_skip_a_single_class() -> None:
    y, s = holdout(seed=8)
    policy = GatePolicy(
        metric="roc_auc", bootstrap_resamples=300, bootstrap_confidence=0.9, bootstrap_seed=4
    )
    gain = gain_interval(y, s, s[::-1].copy(), policy, target_fpr=FPR)
    assert gain is not None, "both classes: an interval"
    assert (gain.metric, gain.resamples, gain.confidence, gain.seed) == ("roc_auc", 300, 0.9, 4)
    own = holdout_interval(y, s, policy, target_fpr=FPR)
    assert own is not None, "both classes: an interval"
    assert own.estimate == pytest.approx(roc_auc_score(y, s)), own
    ones = np.ones(10, dtype=np.int64)
    assert gain_interval(ones, np.arange(10.0), np.arange(10.0), policy, target_fpr=FPR) is None
    assert holdout_interval(ones * 0, np.arange(10.0), policy, target_fpr=FPR) is None
    logged = interval_figures(own)
    assert logged == {"roc_auc_interval_low": own.low, "roc_auc_interval_high": own.high}
    assert own.low < own.estimate < own.high, own
    assert interval_figures(None) == {}, "a single-class holdout logs no interval"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_true": [1, 1, 1]}, "single class"),
        ({"resamples": 99}, ">= 100 resamples"),
        ({"confidence": 1.0}, "confidence must be within"),
        ({"metric": "brier"}, "no bootstrap for metric 'brier'"),
        ({"old_scores": [0.1, 0.2]}, "they must align"),
    ],
)
def test_bad_input_is_a_clear_error(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "y_true": [1, 0, 1],
        "new_scores": [0.9, 0.2, 0.4],
        "old_scores": [0.8, 0.3, 0.5],
        "metric": "pr_auc",
        "resamples": 100,
        "confidence": 0.95,
        "seed": 0,
        "target_fpr": FPR,
        **change,
    }
    with pytest.raises(EvaluationError, match=message):
        paired_bootstrap_interval(**arguments)  # type: ignore[arg-type]


def test_policy_bounds_its_bootstrap_settings() -> None:
    with pytest.raises(ValidationError, match="bootstrap_resamples"):
        GatePolicy(bootstrap_resamples=10)
    with pytest.raises(ValidationError, match="bootstrap_confidence"):
        GatePolicy(bootstrap_confidence=0.3)


def test_interval_describes_itself() -> None:
    interval = BootstrapInterval("pr_auc", 0.012, -0.004, 0.029, 0.95, 2000, 0)
    assert interval.describe(signed=True) == "+0.0120 (95% CI -0.0040 to +0.0290)"
    assert BootstrapInterval("pr_auc", 0.5, 0.47, 0.53, 0.9, 2000, 0).describe() == (
        "0.5000 (90% CI 0.4700 to 0.5300)"
    )
