"""`feature_sensitivity`: which features move the scores, measured on the holdout."""

from __future__ import annotations

import pandas as pd

from features.contract import DatasetContract
from training.candidate import Candidate
from training.model_card import feature_sensitivity


def test_ranks_the_features_the_label_depends_on_most(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    s = feature_sensitivity(
        churn_candidate.pipeline,
        churn_candidate.reference,
        churn_contract,
        churn_candidate.threshold,
    )
    assert s.n_rows == len(churn_candidate.reference), s
    assert s.features[0].feature == "tenure_months", (
        "the churn generator's strongest effect is tenure (0.03 per month over 0-120 months)"
    )
    assert sorted(f.feature for f in s.features) == sorted(churn_contract.features), s
    changes = [f.mean_score_change for f in s.features]
    assert changes == sorted(changes, reverse=True), "largest change first"
    assert all(0.0 <= f.flipped_share <= 1.0 for f in s.features), s
    assert "gender" not in {f.feature for f in s.features}, "a segment that is not an input"


def test_is_deterministic_and_samples_rows_by_seed(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    args = (
        churn_candidate.pipeline,
        churn_candidate.reference,
        churn_contract,
        churn_candidate.threshold,
    )
    assert feature_sensitivity(*args) == feature_sensitivity(*args), "same seed, same figures"
    sampled = feature_sensitivity(*args, max_rows=50, seed=3)
    assert (sampled.n_rows, sampled.seed) == (50, 3), sampled
    assert sampled == feature_sensitivity(*args, max_rows=50, seed=3)


def test_a_constant_feature_moves_nothing_and_ranks_last(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    frame = churn_candidate.reference.assign(plan="basic")
    s = feature_sensitivity(churn_candidate.pipeline, frame, churn_contract, 0.5)
    last = s.features[-1]
    assert (last.feature, last.mean_score_change, last.flipped_share) == ("plan", 0.0, 0.0), s


def test_needs_no_label_and_handles_an_empty_frame(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    label = churn_contract.label_column
    negatives = churn_candidate.reference[churn_candidate.reference[label] == 0]
    s = feature_sensitivity(churn_candidate.pipeline, negatives, churn_contract, 0.5)
    assert len(s.features) == len(churn_contract.features), "a single-class frame still works"
    empty = feature_sensitivity(
        churn_candidate.pipeline, pd.DataFrame(columns=negatives.columns), churn_contract, 0.5
    )
    assert (empty.n_rows, empty.features) == (0, ()), empty
