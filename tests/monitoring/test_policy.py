from __future__ import annotations

import json

import pytest

from monitoring.errors import MonitoringInputError
from monitoring.policy import RetrainPolicy, decide_retraining
from tests.monitoring.summaries import history, performance, window

#: The policy before label-awareness: the rules the first tests below pin down.
POLICY = RetrainPolicy.legacy(
    drift_windows_to_retrain=3, performance_drop_to_retrain=0.10, cooldown_windows=2
)


def test_no_window_holds() -> None:
    decision = decide_retraining([], POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", "nothing to decide on"
    assert "no monitoring window" in decision.reason, decision.reason
    assert decision.window_id is None, "no window decided on"


def test_first_window_holds_even_when_drifted() -> None:
    decision = decide_retraining(history(0.9), POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", "one drifted window is not k=3"
    assert decision.trigger is None, "nothing fired"
    assert "only 1 window(s) since monitoring began" in decision.reason, decision.reason
    assert decision.numbers["drift_streak"] == 1, decision.numbers


def test_exactly_k_drifted_windows_retrain() -> None:
    decision = decide_retraining(history(0.0, 0.3, 0.5, 0.4), POLICY, last_retrain_window=None)
    assert decision.verdict == "retrain", decision.reason
    assert decision.trigger == "drift", "drift fired"
    assert "2026-03-02, 2026-03-03, 2026-03-04" in decision.reason, decision.reason
    assert decision.numbers["drift_streak"] == 3, decision.numbers


def test_k_minus_one_drifted_windows_hold() -> None:
    decision = decide_retraining(history(0.0, 0.0, 0.5, 0.4), POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert "2 consecutive drifted window(s) of the 3 needed" in decision.reason, decision.reason


def test_interrupted_drift_does_not_count() -> None:
    decision = decide_retraining(history(0.5, 0.5, 0.29, 0.5), POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", "the 0.29 window breaks the streak"
    assert decision.numbers["drift_streak"] == 1, decision.numbers


def test_the_window_flag_decides_not_a_threshold_of_the_policy() -> None:
    stricter = [window(i, 0.5, threshold=0.6) for i in range(3)]
    decision = decide_retraining(stricter, POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", "monitoring (threshold 0.6) did not flag 0.5"
    assert decision.numbers["drift_streak"] == 0, decision.numbers
    assert decision.numbers["drift_share_threshold"] == 0.6, "the window's own threshold"
    assert "threshold 0.60" in decision.reason, decision.reason
    looser = [window(i, 0.2, threshold=0.15) for i in range(3)]
    decision = decide_retraining(looser, POLICY, last_retrain_window=None)
    assert decision.verdict == "retrain", "monitoring (threshold 0.15) flagged 0.2 each time"


@pytest.mark.parametrize(
    ("drop", "verdict"), [(0.1001, "retrain"), (0.10, "hold"), (0.0999, "hold")]
)
def test_performance_drop_around_the_threshold(drop: float, verdict: str) -> None:
    windows = [window(0), window(1, perf=performance(drop))]
    decision = decide_retraining(windows, POLICY, last_retrain_window=None)
    assert decision.verdict == verdict, f"drop {drop}: {decision.reason}"
    assert decision.trigger == ("performance" if verdict == "retrain" else None), decision.trigger
    assert decision.numbers["pr_auc_drop"] == pytest.approx(drop), decision.numbers


def test_too_few_positives_skip_the_performance_rule_and_say_so() -> None:
    decision = decide_retraining(history(0.0, 0.0), POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert "performance rule skipped: only 12 positive label(s)" in decision.reason, (
        "the window's note explains the skip"
    )
    assert "at least 30 are needed" in decision.reason, decision.reason
    assert decision.numbers["pr_auc_drop"] is None, "no figure when skipped"
    assert decision.numbers["n_labelled_positives"] == 12, decision.numbers
    assert decision.numbers["min_labelled_positives"] == 30, decision.numbers


def test_a_drift_retrain_still_says_why_performance_was_skipped() -> None:
    decision = decide_retraining(history(0.5, 0.5, 0.5), POLICY, last_retrain_window=None)
    assert decision.verdict == "retrain", decision.reason
    assert "Performance rule skipped: only 12 positive label(s)" in decision.reason, decision.reason


def test_a_window_without_a_reference_pr_auc_skips_the_rule() -> None:
    figures = performance(0.5).model_copy(update={"reference_pr_auc": None, "pr_auc_drop": None})
    decision = decide_retraining([window(0, perf=figures)], POLICY, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert "no reference PR-AUC" in decision.reason, decision.reason


def test_cooldown_active_holds_back_a_trigger() -> None:
    windows = history(0.0, 0.5, 0.5, 0.5, 0.5)
    decision = decide_retraining(windows, POLICY, last_retrain_window="2026-03-03")
    assert decision.verdict == "hold", "2 windows since the retrain, cool-down is 2"
    assert decision.in_cooldown, "in cool-down"
    assert decision.numbers["windows_since_retrain"] == 2, decision.numbers
    assert "retraining can start again in 1 window(s)" in decision.reason, decision.reason


def test_cooldown_expired_but_drift_before_the_retrain_does_not_count() -> None:
    windows = history(0.5, 0.5, 0.5, 0.0, 0.5, 0.5)
    decision = decide_retraining(windows, POLICY, last_retrain_window="2026-03-03")
    assert not decision.in_cooldown, "3 windows since the retrain > cool-down of 2"
    assert decision.verdict == "hold", "only 2 drifted windows after the retrain"
    assert decision.numbers["windows_considered"] == 3, decision.numbers


def test_cooldown_expired_and_new_drift_retrains() -> None:
    windows = history(0.5, 0.0, 0.5, 0.5, 0.5)
    decision = decide_retraining(windows, POLICY, last_retrain_window="2026-03-02")
    assert not decision.in_cooldown, "3 windows since the retrain"
    assert decision.verdict == "retrain", decision.reason
    assert decision.trigger == "drift", decision.trigger


def test_cooldown_holds_a_performance_drop_too() -> None:
    windows = [window(0), window(1, perf=performance(0.3))]
    decision = decide_retraining(windows, POLICY, last_retrain_window="2026-03-01")
    assert decision.verdict == "hold", "the drop is held back by the cool-down"
    assert "Held back: PR-AUC" in decision.reason, decision.reason


def test_both_triggers_name_performance_and_mention_drift() -> None:
    windows = [window(i, 0.6) for i in range(3)] + [window(3, 0.6, performance(0.2))]
    decision = decide_retraining(windows, POLICY, last_retrain_window=None)
    assert decision.verdict == "retrain", decision.reason
    assert decision.trigger == "performance", "performance is the stronger evidence"
    assert "PR-AUC" in decision.reason, decision.reason
    assert "data drift" in decision.reason, decision.reason


def test_unordered_history_is_rejected() -> None:
    with pytest.raises(MonitoringInputError, match="oldest first"):
        decide_retraining([window(1), window(0)], POLICY, last_retrain_window=None)


def test_decision_serialises_for_the_audit_log() -> None:
    decision = decide_retraining(history(0.5, 0.5, 0.5), POLICY, last_retrain_window=None)
    data = decision.to_dict()
    assert data["verdict"] == "retrain", data
    assert data["numbers"]["drift_share_threshold"] == 0.3, data["numbers"]
    assert data["numbers"]["latest_drift_detected"] is True, "a flag stays a bool"
    assert json.loads(json.dumps(data)) == data, "plain JSON types"


def test_policy_rejects_nonsense_thresholds() -> None:
    with pytest.raises(ValueError, match="drift_windows_to_retrain"):
        RetrainPolicy(drift_windows_to_retrain=0)


def test_policy_holds_only_the_retraining_thresholds() -> None:
    assert set(RetrainPolicy.model_fields) == {
        "drift_windows_to_retrain",
        "performance_drop_to_retrain",
        "cooldown_windows",
        "drift_response",
        "min_post_onset_positives",
        "min_post_onset_labels",
        "max_label_wait_days",
        "performance_source",
        "performance_reference",
        "followup_after_windows",
    }, "drift and label thresholds belong to the monitoring section"
    with pytest.raises(ValueError, match="min_labelled_rows"):
        RetrainPolicy(min_labelled_rows=200)  # type: ignore[call-arg]
    defaults = RetrainPolicy()
    assert (
        defaults.drift_windows_to_retrain,
        defaults.performance_drop_to_retrain,
        defaults.cooldown_windows,
    ) == (2, 0.05, 5), "the defaults of the retraining section"
