"""The label-aware policy: a drift signal schedules a retrain for when post-onset labels have
matured, and the performance rule judges the serving champion on its own predictions."""

from __future__ import annotations

import json

import pytest

from monitoring.policy import RetrainPolicy, decide_retraining
from monitoring.summary import WindowSummary
from tests.monitoring.summaries import day, own, performance, window

AWARE = RetrainPolicy(
    drift_windows_to_retrain=2,
    performance_drop_to_retrain=0.10,
    cooldown_windows=2,
    min_post_onset_positives=50,
    max_label_wait_days=10,
)
#: Labels of the day before the onset (day 0) and of the onset day (day 1) onwards.
BEFORE = {0: (1000, 30)}


def drifted_run(
    latest: int, matured: dict[int, tuple[int, int]], *, clean_after: int | None = None
) -> list[WindowSummary]:
    """Window 0 clean, windows 1.. drifted (onset day 1, signal at window 2), up to ``latest``.

    Windows after ``clean_after`` are not flagged; the latest carries the ``matured`` counts.
    """
    windows = []
    for index in range(latest + 1):
        drifted = index >= 1 and (clean_after is None or index <= clean_after)
        windows.append(
            window(index, 0.5 if drifted else 0.0, matured=matured if index == latest else None)
        )
    return windows


def test_a_drift_signal_schedules_a_retrain_and_says_what_it_waits_for() -> None:
    decision = decide_retraining(
        drifted_run(2, {**BEFORE, 1: (400, 12), 2: (100, 3)}), AWARE, last_retrain_window=None
    )
    assert decision.verdict == "hold", decision.reason
    assert decision.waiting_for_labels, "the schedule waits"
    assert decision.trigger is None, "nothing started"
    assert "waiting for 50 matured post-onset positives: have 15" in decision.reason, (
        decision.reason
    )
    numbers = decision.numbers
    assert numbers["onset_day"] == day(1), "the first window of the streak is the onset"
    assert numbers["drift_signal_window"] == day(2), "the window that completed the streak"
    assert (numbers["post_onset_labels"], numbers["post_onset_positives"]) == (500, 15), (
        "labels of the day before the onset do not count"
    )
    assert numbers["min_post_onset_positives"] == 50, numbers
    assert numbers["days_since_onset"] == 2, numbers


@pytest.mark.parametrize(("positives", "verdict"), [(49, "hold"), (50, "retrain"), (51, "retrain")])
def test_the_scheduled_retrain_is_due_at_exactly_n_positives(positives: int, verdict: str) -> None:
    matured = {**BEFORE, 1: (900, positives - 20), 2: (700, 20)}
    decision = decide_retraining(drifted_run(4, matured), AWARE, last_retrain_window=None)
    assert decision.verdict == verdict, decision.reason
    assert decision.trigger == ("drift" if verdict == "retrain" else None), decision.reason
    assert decision.numbers["post_onset_positives"] == positives, decision.numbers
    if verdict == "retrain":
        assert "the scheduled retrain is due" in decision.reason, decision.reason
        assert not decision.waiting_for_labels, "no longer waiting"


def test_labels_from_before_the_onset_do_not_count() -> None:
    decision = decide_retraining(
        drifted_run(4, {0: (5000, 500), 1: (10, 1)}), AWARE, last_retrain_window=None
    )
    assert decision.verdict == "hold", "old-regime labels teach nothing about the new one"
    assert decision.numbers["post_onset_positives"] == 1, decision.numbers


def test_the_minimum_of_labels_is_required_as_well() -> None:
    both = AWARE.model_copy(update={"min_post_onset_labels": 2000})
    matured = {1: (1500, 60)}
    decision = decide_retraining(drifted_run(4, matured), both, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert "2000 matured post-onset labels: have 1500" in decision.reason, decision.reason
    enough = decide_retraining(drifted_run(4, {1: (2000, 60)}), both, last_retrain_window=None)
    assert enough.verdict == "retrain", enough.reason


def test_no_label_minimum_retrains_on_the_signal_itself() -> None:
    eager = AWARE.model_copy(update={"min_post_onset_positives": 0})
    decision = decide_retraining(drifted_run(2, {}), eager, last_retrain_window=None)
    assert decision.verdict == "retrain", decision.reason
    assert decision.trigger == "drift", decision.trigger


def test_the_schedule_stands_when_a_later_window_is_not_flagged() -> None:
    waiting = decide_retraining(
        drifted_run(5, {1: (900, 20)}, clean_after=2), AWARE, last_retrain_window=None
    )
    assert waiting.verdict == "hold", waiting.reason
    assert waiting.waiting_for_labels, "a flicker does not cancel the schedule"
    assert waiting.numbers["drift_streak"] == 0, "the streak itself ended"
    due = decide_retraining(
        drifted_run(5, {1: (900, 30), 4: (900, 20)}, clean_after=2),
        AWARE,
        last_retrain_window=None,
    )
    assert due.verdict == "retrain", due.reason


def test_one_drifted_window_does_not_schedule() -> None:
    decision = decide_retraining(
        drifted_run(3, {1: (900, 90)}, clean_after=1), AWARE, last_retrain_window=None
    )
    assert decision.verdict == "hold", "1 drifted window of the 2 needed"
    assert not decision.waiting_for_labels, "nothing scheduled"
    assert decision.numbers["drift_signal_window"] is None, decision.numbers


@pytest.mark.parametrize(("latest", "verdict"), [(10, "hold"), (11, "retrain")])
def test_a_stalled_label_feed_ends_the_wait_after_max_days(latest: int, verdict: str) -> None:
    decision = decide_retraining(drifted_run(latest, {}), AWARE, last_retrain_window=None)
    assert decision.verdict == verdict, decision.reason
    assert decision.numbers["days_since_onset"] == latest, "onset day 1 counts as day 1"
    if verdict == "retrain":
        assert f"after waiting {latest} days (at most 10)" in decision.reason, decision.reason


def test_the_cooldown_does_not_hold_the_retrain_the_schedule_asked_for() -> None:
    windows = [window(0, 0.5), window(1, 0.5), window(2, 0.5, matured={1: (900, 60)})]
    decision = decide_retraining(windows, AWARE, last_retrain_window=day(0))
    assert decision.numbers["windows_since_retrain"] == 2, "inside the 2-window cool-down"
    assert decision.in_cooldown, "the cool-down is on"
    assert decision.verdict == "retrain", decision.reason
    assert "does not hold a scheduled retrain" in decision.reason, decision.reason
    assert decision.numbers["onset_day"] == day(1), "windows up to the retrain do not count"


def test_drift_before_the_last_retrain_does_not_schedule_another() -> None:
    windows = [window(i, 0.5) for i in range(3)] + [
        window(i, 0.0, matured={1: (900, 90)}) for i in range(3, 6)
    ]
    decision = decide_retraining(windows, AWARE, last_retrain_window=day(2))
    assert decision.verdict == "hold", decision.reason
    assert not decision.waiting_for_labels, "the drift was answered by the retrain"


def test_a_performance_drop_while_waiting_does_not_start_an_early_retrain() -> None:
    windows = drifted_run(3, {1: (900, 20)})
    windows[-1] = window(3, 0.5, champion="1", versions={"1": own(0.3)}, matured={1: (900, 20)})
    decision = decide_retraining(windows, AWARE, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert decision.waiting_for_labels, decision.reason
    assert "still waits for the new regime's labels" in decision.reason, decision.reason
    assert decision.numbers["champion_pr_auc_drop"] == pytest.approx(0.3), decision.numbers


def test_the_cooldown_still_holds_a_performance_drop() -> None:
    windows = [window(0), window(1, champion="2", versions={"2": own(0.3)})]
    decision = decide_retraining(windows, AWARE, last_retrain_window=day(0))
    assert decision.verdict == "hold", decision.reason
    assert decision.in_cooldown, decision.reason
    assert "Held back: champion v2's PR-AUC" in decision.reason, decision.reason


# --- performance judged on the champion's own predictions ------------------------------------


def test_the_champion_is_not_charged_with_an_earlier_version_s_rows() -> None:
    mixed_drop = performance(0.25)  # the trailing window: mostly v2's rows
    versions = {"2": own(0.25, n_positives=300), "4": own(-0.03, n_positives=35)}
    latest = window(0, perf=mixed_drop, champion="4", versions=versions)
    decision = decide_retraining([latest], AWARE, last_retrain_window=None)
    assert decision.verdict == "hold", "v4's own rows beat its training figure"
    assert decision.numbers["pr_auc_drop"] == pytest.approx(-0.03), "the figure judged"
    assert decision.numbers["window_pr_auc"] == pytest.approx(0.35), "the mix, for the record"
    legacy = decide_retraining([latest], RetrainPolicy.legacy(), last_retrain_window=None)
    assert legacy.verdict == "retrain", "the old rule charged v2's rows to v4"


def test_the_champion_s_own_drop_retrains() -> None:
    latest = window(0, perf=performance(0.0), champion="4", versions={"4": own(0.2)})
    decision = decide_retraining([latest], AWARE, last_retrain_window=None)
    assert decision.verdict == "retrain", decision.reason
    assert decision.trigger == "performance", decision.trigger
    assert "champion v4's PR-AUC on its own 900 matured labels (40 positives)" in decision.reason
    assert "from its training 0.600 to 0.400" in decision.reason, decision.reason


def test_the_champion_is_judged_against_the_low_end_of_its_holdout_interval() -> None:
    """A 0.12 drop from a 0.60 holdout estimate is only 0.07 below its interval's 0.53."""
    versions = {"4": own(0.12, low=0.53)}
    latest = window(0, perf=performance(0.0), champion="4", versions=versions)
    decision = decide_retraining([latest], AWARE, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert decision.numbers["reference_pr_auc"] == pytest.approx(0.53)
    assert decision.numbers["pr_auc_drop"] == pytest.approx(0.05)
    assert decision.numbers["champion_reference_pr_auc"] == pytest.approx(0.60), "both recorded"
    estimate = AWARE.model_copy(update={"performance_reference": "estimate"})
    old = decide_retraining([latest], estimate, last_retrain_window=None)
    assert old.verdict == "retrain", "against the estimate the same window retrains"
    assert "from its training 0.600 to 0.480" in old.reason, old.reason
    far = window(0, champion="4", versions={"4": own(0.2, low=0.53)})
    fired = decide_retraining([far], AWARE, last_retrain_window=None)
    assert fired.verdict == "retrain", fired.reason
    assert "fell by 0.130 (from the low end of its training interval 0.530 to 0.400)" in (
        fired.reason
    ), fired.reason


@pytest.mark.parametrize(("positives", "fires"), [(29, False), (30, True)])
def test_the_champion_needs_enough_positives_of_its_own(positives: int, fires: bool) -> None:
    versions = {"4": own(0.2, n_positives=positives)}
    latest = window(0, perf=performance(0.3), champion="4", versions=versions)
    decision = decide_retraining([latest], AWARE, last_retrain_window=None)
    assert (decision.verdict == "retrain") is fires, decision.reason
    if not fires:
        assert "champion v4's own predictions have 900 matured label(s) with 29" in (
            decision.reason
        )
        assert "at least 30 positives" in decision.reason, decision.reason


def test_a_champion_without_rows_or_reference_skips_the_rule() -> None:
    unseen = window(0, perf=performance(0.3), champion="5", versions={"4": own(0.3)})
    decision = decide_retraining([unseen], AWARE, last_retrain_window=None)
    assert decision.verdict == "hold", decision.reason
    assert "champion v5's own predictions have 0 matured label(s)" in decision.reason
    no_reference = window(0, champion="4", versions={"4": own(0.3, reference=None)})
    decision = decide_retraining([no_reference], AWARE, last_retrain_window=None)
    assert "no training PR-AUC of v4" in decision.reason, decision.reason
    unnamed = window(0, perf=performance(0.3))
    decision = decide_retraining([unnamed], AWARE, last_retrain_window=None)
    assert "does not name the champion version" in decision.reason, decision.reason


def test_the_decision_serialises_with_its_schedule() -> None:
    decision = decide_retraining(drifted_run(3, {1: (400, 12)}), AWARE, last_retrain_window=None)
    data = decision.to_dict()
    assert data["waiting_for_labels"] is True, data
    assert json.loads(json.dumps(data)) == data, "plain JSON types"
    for key in ("onset_day", "post_onset_positives", "drift_response", "performance_source"):
        assert key in data["numbers"], f"{key} is in the audit numbers"


def test_defaults_and_the_legacy_policy() -> None:
    defaults = RetrainPolicy()
    assert (defaults.drift_response, defaults.performance_source) == (
        "wait_for_labels",
        "champion",
    ), "label-aware by default"
    legacy = RetrainPolicy.legacy(cooldown_windows=1)
    assert (legacy.drift_response, legacy.performance_source) == ("immediate", "window")
    assert legacy.cooldown_windows == 1, "other fields can be set"
    with pytest.raises(ValueError, match="drift_response"):
        RetrainPolicy(drift_response="later")  # type: ignore[arg-type]


def test_labels_the_retrain_s_holdout_will_take_are_not_counted() -> None:
    matured = {i: (900, 20) for i in range(1, 10)}  # event days 1..9, 20 positives each
    windows = drifted_run(10, matured)
    patient = AWARE.model_copy(update={"min_post_onset_positives": 100})
    decision = decide_retraining(windows, patient, last_retrain_window=None, holdout_days=5)
    assert decision.verdict == "hold", "days 5..9 (the newest 5 labelled) are the holdout"
    numbers = decision.numbers
    assert numbers["holdout_start"] == day(5), numbers
    assert (numbers["post_onset_positives"], numbers["post_onset_positives_matured"]) == (80, 180)
    assert (
        f"100 matured post-onset positives before the retrain's holdout (event days from "
        f"{day(5)}): have 80 (180 matured in all)" in decision.reason
    ), decision.reason
    every = decide_retraining(windows, patient, last_retrain_window=None)
    assert every.verdict == "retrain", "without holdout_days every matured label counts"
    sooner = decide_retraining(windows, AWARE, last_retrain_window=None, holdout_days=5)
    assert sooner.verdict == "retrain", "80 >= 50"


def test_no_matured_label_at_all_counts_nothing_with_a_holdout() -> None:
    decision = decide_retraining(
        drifted_run(3, {}), AWARE, last_retrain_window=None, holdout_days=5
    )
    assert decision.verdict == "hold", decision.reason
    assert decision.numbers["post_onset_positives"] == 0, decision.numbers
    assert decision.numbers["holdout_start"] is None, "no labelled day to hold out from"


# --- the follow-up retrain after a drift-started one -----------------------------------------


@pytest.mark.parametrize(
    ("trigger", "windows_after", "verdict"),
    [("drift", 4, "hold"), ("drift", 5, "retrain"), ("follow-up", 5, "hold"), (None, 9, "hold")],
)
def test_a_follow_up_retrain_comes_after_a_drift_started_one(
    trigger: str | None, windows_after: int, verdict: str
) -> None:
    """Five windows after a drift retrain, one more; never a follow-up of a follow-up."""
    clean = [window(i) for i in range(windows_after + 1)]
    decision = decide_retraining(
        clean,
        AWARE.model_copy(update={"followup_after_windows": 5}),
        last_retrain_window=day(0),
        last_retrain_trigger=trigger,
    )
    assert decision.verdict == verdict, decision.reason
    assert decision.numbers["last_retrain_trigger"] == trigger
    if verdict == "retrain":
        assert decision.trigger == "follow-up", decision.trigger
        assert decision.reason.startswith("Retrain (follow-up): the retrain at window "), (
            decision.reason
        )
        assert "5 windows later" in decision.reason, decision.reason


def test_the_follow_up_is_not_held_by_the_cooldown_and_can_be_switched_off() -> None:
    clean = [window(i) for i in range(4)]
    longer = AWARE.model_copy(update={"followup_after_windows": 3, "cooldown_windows": 6})
    decision = decide_retraining(
        clean, longer, last_retrain_window=day(0), last_retrain_trigger="drift"
    )
    assert decision.verdict == "retrain", decision.reason
    assert decision.in_cooldown, "due inside the cool-down, and not held by it"
    off = longer.model_copy(update={"followup_after_windows": None})
    held = decide_retraining(clean, off, last_retrain_window=day(0), last_retrain_trigger="drift")
    assert held.verdict == "hold", held.reason
    assert RetrainPolicy.legacy().followup_after_windows is None, "the old policy had none"
