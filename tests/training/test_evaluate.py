from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from features.contract import Costs, DatasetContract
from features.metrics import business_cost, confusion_at
from training.evaluate import (
    EvaluationError,
    cost_optimal_threshold,
    evaluate,
    evaluate_segments,
    flatten_segments,
)

# Five rows scored by hand. With a missed fraud at 10 and a false alarm at 1:
#   flag nothing -> 2 FN = 20; >= 0.9 -> 1 FN = 10; >= 0.8 -> 1 FN + 1 FP = 11;
#   >= 0.6 -> 1 FP = 1 (best); >= 0.3 -> 2 FP = 2; >= 0.1 -> 3 FP = 3.
Y = [1, 0, 1, 0, 0]
S = [0.9, 0.8, 0.6, 0.3, 0.1]
COSTS = Costs(false_negative=10.0, false_positive=1.0)
FPR = 0.01


def test_cost_optimal_threshold_by_hand() -> None:
    threshold, cost = cost_optimal_threshold(Y, S, COSTS)
    assert (threshold, cost) == (0.6, 1.0), f"expected threshold 0.6 at cost 1, got {threshold}"


def test_expensive_false_alarms_raise_the_threshold() -> None:
    # Missed fraud 1, false alarm 10: nothing -> 2; >= 0.9 -> 1 (best); >= 0.6 -> 10 ...
    threshold, cost = cost_optimal_threshold(Y, S, Costs(false_negative=1, false_positive=10))
    assert (threshold, cost) == (0.9, 1.0), f"got {threshold}, {cost}"


def test_flag_nothing_can_win() -> None:
    y, s = [0, 0, 1], [0.9, 0.8, 0.1]
    threshold, cost = cost_optimal_threshold(y, s, Costs(false_negative=1, false_positive=10))
    assert cost == 1.0, f"flagging nothing costs one missed fraud, got {cost}"
    assert threshold > 0.9, f"the flag-nothing threshold must exceed every score: {threshold}"
    metrics = evaluate(y, s, Costs(false_negative=1, false_positive=10), target_fpr=FPR)
    assert metrics.n_flagged == 0, f"nothing should be flagged: {metrics}"
    assert metrics.precision_at_threshold is None, "precision is undefined with no flags"
    assert any("precision_at_threshold undefined" in n for n in metrics.notes), metrics.notes


def test_tied_scores_are_one_candidate() -> None:
    # Both rows score 0.5: flag both (cost 1 FP = 1) or none (1 FN = 10).
    threshold, cost = cost_optimal_threshold([1, 0], [0.5, 0.5], COSTS)
    assert (threshold, cost) == (0.5, 1.0), f"got {threshold}, {cost}"


def test_evaluate_by_hand() -> None:
    m = evaluate(Y, S, COSTS, target_fpr=FPR)
    assert (m.n_rows, m.n_positives, m.n_flagged) == (5, 2, 3), m
    assert m.threshold == 0.6, f"cost-optimal threshold should be 0.6, got {m.threshold}"
    assert m.expected_cost == 1.0, f"one false alarm at 1, got {m.expected_cost}"
    assert m.expected_cost_per_row == pytest.approx(0.2), m.expected_cost_per_row
    assert m.precision_at_threshold == pytest.approx(2 / 3), m.precision_at_threshold
    assert m.recall_at_threshold == 1.0, m.recall_at_threshold
    # Positive/negative pairs ranked right: 0.9 beats all 3, 0.6 beats 2 of 3 -> 5/6.
    assert m.roc_auc == pytest.approx(5 / 6), m.roc_auc
    # Precision 1 at the first fraud, 2/3 at the second -> (1 + 2/3) / 2.
    assert m.pr_auc == pytest.approx(5 / 6), m.pr_auc
    # Squared errors 0.01, 0.64, 0.16, 0.09, 0.01 -> 0.91 / 5.
    assert m.brier == pytest.approx(0.182), m.brier
    # FPR <= 1 % allows no false alarm: only the 0.9 fraud is caught.
    assert m.recall_at_fpr == 0.5, m.recall_at_fpr
    assert m.notes == (), f"nothing should be undefined: {m.notes}"


def test_recall_at_fpr_uses_the_lowest_admissible_threshold() -> None:
    m = evaluate(Y, S, COSTS, target_fpr=0.34)
    assert m.recall_at_fpr == 1.0, f"one false alarm in three is allowed: {m.recall_at_fpr}"


def test_given_threshold_is_used() -> None:
    m = evaluate(Y, S, COSTS, target_fpr=FPR, threshold=0.3)
    assert m.threshold == 0.3, f"the given threshold should be kept, got {m.threshold}"
    assert m.n_flagged == 4, f"four scores are >= 0.3, got {m.n_flagged}"
    assert m.expected_cost == 2.0, f"two false alarms at 1 each, got {m.expected_cost}"


def test_evaluate_agrees_with_sklearn_on_random_scores() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(500) < 0.1).astype(int)
    s = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1).round(2)  # rounding makes ties
    m = evaluate(y, s, COSTS, target_fpr=0.05)
    assert m.roc_auc == pytest.approx(roc_auc_score(y, s)), "roc_auc should match sklearn"
    assert m.pr_auc == pytest.approx(average_precision_score(y, s)), "pr_auc should match"
    fpr, tpr, _ = roc_curve(y, s)
    assert m.recall_at_fpr == pytest.approx(tpr[fpr <= 0.05].max()), "recall_at_fpr mismatch"
    flag_sets = [(s >= t).astype(int) for t in np.unique(s)]
    best = min(
        10.0 * int(((flags == 0) & (y == 1)).sum()) + int(((flags == 1) & (y == 0)).sum())
        for flags in flag_sets
    )
    assert m.expected_cost == min(best, 10.0 * y.sum()), "brute-force cost should agree"
    core = business_cost(confusion_at(y, s, m.threshold), COSTS)
    assert m.expected_cost == core, f"the metric core gives {core} at the same threshold"


def test_single_class_gives_none_with_a_reason() -> None:
    m = evaluate([0, 0, 0], [0.1, 0.5, 0.2], COSTS, target_fpr=FPR)
    assert (m.pr_auc, m.roc_auc, m.recall_at_fpr) == (None, None, None), m
    assert m.recall_at_threshold is None, "recall is undefined without positives"
    assert any("single class" in n for n in m.notes), m.notes
    assert m.expected_cost == 0.0, f"flagging nothing costs nothing here: {m.expected_cost}"
    loggable = m.loggable()
    assert "pr_auc" not in loggable, f"undefined figures are not loggable: {loggable}"
    assert loggable["brier"] == pytest.approx(0.1), loggable
    figures = m.figures()
    assert figures["pr_auc"] is None, f"figures() keeps undefined ones as None: {figures}"


def test_to_dict_is_json_ready() -> None:
    d = evaluate(Y, S, COSTS, target_fpr=FPR).to_dict()
    assert d["threshold"] == 0.6, d
    assert d["notes"] == [], d
    assert json.loads(json.dumps(d)) == d, "to_dict should survive a JSON round trip"


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([1, 0], [0.5], "2 labels but 1 scores"),
        ([], [], "no rows"),
        ([1, 2], [0.5, 0.4], r"labels must be 0 or 1, found \[2\].*binary_labels"),
        ([1, 0], [0.5, float("nan")], "1 scores are NaN or infinite"),
    ],
)
def test_bad_inputs_raise(y: list[int], s: list[float], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        evaluate(y, s, COSTS, target_fpr=FPR)


def test_segments_by_hand(contract: DatasetContract) -> None:
    frame = pd.DataFrame(
        {
            "channel": ["online", "online", "online", "card_present", "card_present"],
            "merchant_category": ["travel", "travel", "fuel", "fuel", None],
            "is_fraud": [1, 0, 1, 0, 0],
        }
    )
    scores = np.array([0.9, 0.8, 0.2, 0.7, 0.1])
    segments = evaluate_segments(frame, scores, contract, threshold=0.5)
    assert list(segments) == ["channel", "merchant_category"], list(segments)
    assert list(segments["channel"]) == ["card_present", "online"], "contract order expected"
    assert list(segments["merchant_category"]) == ["fuel", "travel", "<missing>"], segments

    online = segments["channel"]["online"]
    assert (online.n_rows, online.n_positives) == (3, 2), online
    assert online.roc_auc == pytest.approx(0.5), "0.9 beats 0.8, 0.2 does not"
    assert online.precision_at_threshold == 0.5, online
    assert online.recall_at_threshold == 0.5, online
    # online: one miss (120) and one false alarm (4) over three rows.
    assert online.expected_cost_per_row == pytest.approx(124 / 3), online

    card = segments["channel"]["card_present"]
    assert (card.pr_auc, card.roc_auc, card.recall_at_threshold) == (None, None, None), card
    assert card.expected_cost_per_row == pytest.approx(2.0), "one false alarm over two rows"

    flat = flatten_segments(segments)
    assert flat["channel=online"] is online, "flattened keys are '<column>=<value>'"
    assert len(flat) == 5, list(flat)


def test_segments_reject_misaligned_scores(contract: DatasetContract) -> None:
    frame = pd.DataFrame({"channel": ["online"], "merchant_category": ["fuel"], "is_fraud": [1]})
    with pytest.raises(EvaluationError, match="2 scores for 1 rows"):
        evaluate_segments(frame, [0.1, 0.2], contract, threshold=0.5)


def test_segments_that_are_not_features_are_evaluated(churn_contract: DatasetContract) -> None:
    assert churn_contract.extra_segments == ["gender"], "the test contract's premise"
    frame = pd.DataFrame(
        {
            "plan": ["basic", "basic", "premium", "premium"],
            "gender": ["f", "m", "f", None],
            "churned": [1, 0, 1, 0],
        }
    )
    segments = evaluate_segments(frame, [0.9, 0.2, 0.3, 0.1], churn_contract, threshold=0.5)
    assert list(segments) == ["plan", "gender"], f"contract segment order: {list(segments)}"
    assert list(segments["gender"]) == ["f", "m", "<missing>"], list(segments["gender"])
    female = segments["gender"]["f"]
    assert (female.n_rows, female.n_positives) == (2, 2), female
    # One positive caught (0.9), one missed (0.3 < 0.5) at 50 each, over two rows.
    assert female.expected_cost_per_row == pytest.approx(25.0), female


def test_missing_non_feature_segment_is_named(churn_contract: DatasetContract) -> None:
    frame = pd.DataFrame({"plan": ["basic"], "churned": [1]})
    with pytest.raises(EvaluationError, match=r"\['gender'\].*segments but not features"):
        evaluate_segments(frame, [0.5], churn_contract, threshold=0.5)


def test_segments_reject_text_labels(churn_contract: DatasetContract) -> None:
    frame = pd.DataFrame({"plan": ["basic"], "gender": ["f"], "churned": ["yes"]})
    with pytest.raises(EvaluationError, match=r"labels must be 0 or 1.*binary_labels"):
        evaluate_segments(frame, [0.5], churn_contract, threshold=0.5)
