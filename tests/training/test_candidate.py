"""The training stage end to end on two contract shapes: int label + label-available column, and
text label + constant delay + a segment that is not a feature."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features import vocabulary as vocab
from features.contract import DatasetContract, parse_contract
from training.candidate import (
    Candidate,
    candidate_tags,
    encode_labels,
    rescore,
    scorecard,
    train_candidate,
)
from training.config import TrainingConfig
from training.fit import FitError
from training.gate import GatePolicy, decide_promotion
from training.registry import RegistryError, parse_warnings, version_warnings

from .conftest import CHURN_CONFIG, CHURN_CUTOFF


def test_text_label_contract_trains_end_to_end(
    churn_candidate: Candidate, churn_contract: DatasetContract, churn: pd.DataFrame
) -> None:
    split = churn_candidate.split
    assert split.holdout_window == (date(2026, 1, 29), date(2026, 2, 2)), (
        "labels are known 7 days after the event: the last labelled day is 02-02"
    )
    assert (split.requested_holdout_days, split.holdout_days) == (3, 5), (
        "the 3-day holdout grows back until it holds 40 positives"
    )
    metrics = churn_candidate.metrics
    assert metrics.n_positives == 40, f"the holdout reaches its target: {metrics.n_positives}"
    assert churn_candidate.warnings == (), f"target reached, nothing to warn: {churn_candidate}"
    assert (metrics.roc_auc or 0) > 0.75, f"learnable: {metrics}"
    base_rate = metrics.n_positives / metrics.n_rows
    assert (metrics.pr_auc or 0) > 1.5 * base_rate, f"PR-AUC well above the base rate: {metrics}"

    reference = churn_candidate.reference
    raw = churn.set_index("row_id").loc[reference["row_id"], "churned"]
    expected = (raw == "yes").astype("int64").to_numpy()
    assert np.array_equal(reference["churned"].to_numpy(), expected), (
        "the reference holds 1 exactly where the raw label is the positive 'yes'"
    )


def test_reference_frame_follows_the_convention(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    reference = churn_candidate.reference
    expected = [
        "row_id",
        "snapshot_at",
        "tenure_months",
        "monthly_charges",
        "support_calls",
        "plan",
        "gender",
        "churned",
        "churn_score",
    ]
    assert list(reference.columns) == expected, f"reference columns: {list(reference.columns)}"
    assert reference["churned"].dtype == np.dtype("int64"), reference["churned"].dtype
    assert set(reference["churned"].unique()) == {0, 1}, "the stored label is 0/1"
    assert len(reference) == churn_candidate.metrics.n_rows, "one row per holdout row"


def test_non_feature_segment_is_evaluated_but_never_a_model_input(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    pipeline = churn_candidate.pipeline
    assert list(pipeline.feature_names_in_) == list(churn_contract.features), (
        f"the model reads exactly the features, not 'gender': {pipeline.feature_names_in_}"
    )
    gender = churn_candidate.segments["gender"]
    assert list(gender) == ["f", "m", "x"], f"evaluated per value: {list(gender)}"
    assert sum(m.n_rows for m in gender.values()) == churn_candidate.metrics.n_rows, gender
    reference = churn_candidate.reference
    shuffled = reference.assign(gender=reference["gender"].sample(frac=1, random_state=1).values)
    before = pipeline.predict_proba(reference[list(churn_contract.features)])[:, 1]
    assert np.array_equal(before, reference["churn_score"].to_numpy()), "stored scores reproduce"
    metrics, _ = rescore(pipeline, shuffled, churn_contract, target_fpr=CHURN_CONFIG.target_fpr)
    assert metrics == churn_candidate.metrics, "the model's figures cannot depend on 'gender'"


def test_rescore_on_the_reference_reproduces_the_candidate(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    metrics, segments = rescore(
        churn_candidate.pipeline,
        churn_candidate.reference,
        churn_contract,
        target_fpr=CHURN_CONFIG.target_fpr,
    )
    assert metrics == churn_candidate.metrics, "same model, same rows, same figures"
    assert segments == churn_candidate.segments, "segment figures (gender included) agree"


def test_label_values_outside_the_contract_are_refused(
    churn: pd.DataFrame, churn_contract: DatasetContract
) -> None:
    bad = churn.assign(churned=churn["churned"].replace({"yes": "Yes"}))
    with pytest.raises(FitError, match=r"holds \['Yes'\].*declares the label values"):
        train_candidate(bad, churn_contract, CHURN_CUTOFF, CHURN_CONFIG)
    with pytest.raises(FitError, match="label column 'churned' missing"):
        encode_labels(churn.drop(columns="churned"), churn_contract)


def test_missing_labels_stay_missing_and_are_not_trained_on(
    churn: pd.DataFrame, churn_contract: DatasetContract
) -> None:
    encoded = encode_labels(
        churn.assign(churned=churn["churned"].where(churn.index > 2)), churn_contract
    )
    assert encoded["churned"].isna().sum() == 3, "an unknown label stays unknown"
    assert set(encoded["churned"].dropna().unique()) == {0, 1}, "the rest is 0/1"


def test_holdout_shortfall_becomes_a_candidate_warning(
    churn: pd.DataFrame, churn_contract: DatasetContract
) -> None:
    config = CHURN_CONFIG.model_copy(update={"min_holdout_positives": 5_000, "train_days": 60})
    candidate = train_candidate(churn, churn_contract, CHURN_CUTOFF, config)
    labelled_days = 33  # 01-01 .. 02-02
    assert candidate.split.holdout_days == labelled_days // 2, (
        f"the holdout stops at half the labelled days: {candidate.split.holdout_window}"
    )
    assert len(candidate.warnings) == 1, candidate.warnings
    warning = candidate.warnings[0]
    n_pos = candidate.metrics.n_positives
    assert warning.startswith(
        f"the holdout holds {n_pos} positives, fewer than the 5000 needed for a stable PR-AUC"
    ), warning
    assert "grown from the 3 requested" in warning, warning


def test_warnings_reach_the_scorecard_and_the_decision(churn_candidate: Candidate) -> None:
    warned = dataclasses.replace(churn_candidate, warnings=("few positives",))
    card = scorecard("7", warned.metrics, warned.segments, "pr_auc", warnings=warned.warnings)
    assert card.warnings == ("few positives",), card
    assert card.n_positives == warned.metrics.n_positives, card
    assert card.segments["gender=x"].n_positives == warned.segments["gender"]["x"].n_positives
    decision = decide_promotion(card, None, GatePolicy())
    assert decision.warnings[0] == "few positives", decision.warnings


def test_candidate_tags_use_the_vocabulary(
    churn_candidate: Candidate, churn_contract: DatasetContract
) -> None:
    warned = dataclasses.replace(churn_candidate, warnings=("a", "b"))
    tags = candidate_tags(warned, churn_contract, "rev1")
    assert tags[vocab.WARNINGS_TAG] == '["a", "b"]', tags
    assert parse_warnings(tags[vocab.WARNINGS_TAG]) == ("a", "b"), "the tag reads back"
    assert float(tags[vocab.THRESHOLD_TAG]) == churn_candidate.threshold, tags
    assert tags[vocab.HOLDOUT_START_TAG] == "2026-01-29", tags
    assert tags[vocab.CONTRACT_HASH_TAG] == churn_contract.content_hash(), tags
    assert all(isinstance(v, str) for v in tags.values()), "MLflow tags are text"


def test_version_warnings_read_the_tag() -> None:
    def client(tags: dict[str, str]) -> Any:
        version = SimpleNamespace(tags=tags)
        return SimpleNamespace(get_model_version=lambda name, v: version)

    tagged = client({vocab.WARNINGS_TAG: '["thin holdout"]'})
    assert version_warnings(tagged, "m", "1") == ("thin holdout",), "tag parsed"
    assert version_warnings(client({}), "m", "1") == (), "an older version has none"
    with pytest.raises(RegistryError, match="not a JSON list of text"):
        parse_warnings('{"a": 1}')
    with pytest.raises(RegistryError, match="not a JSON list of text"):
        parse_warnings("thin holdout")


def test_int_label_contract_keeps_working(
    contract: DatasetContract, transactions: pd.DataFrame
) -> None:
    fast = parse_contract(
        {**contract.model_dump(mode="json"), "model": {"max_iter": 40}}, source="fast (test)"
    )
    config = TrainingConfig(train_days=20, holdout_days=5, min_holdout_positives=1)
    candidate = train_candidate(transactions, fast, pd.Timestamp("2026-01-31"), config)
    assert list(candidate.reference.columns)[-2:] == ["is_fraud", "fraud_probability"], (
        f"the score is named by the contract: {list(candidate.reference.columns)}"
    )
    assert "score" not in candidate.reference.columns, "no column literally named 'score'"
    assert candidate.split.holdout_days == 5, "enough positives: the holdout keeps its length"
    tags = candidate_tags(candidate, fast, "rev")
    assert json.loads(tags[vocab.WARNINGS_TAG]) == list(candidate.warnings), tags
