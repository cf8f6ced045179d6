"""The detection benchmark's pure parts: onsets, detection, recovery, aggregation, variants.

The benchmark itself (dozens of replayed runs through monitoring, policy and gate) is run by
``make bench-detection``, never here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.detection import (
    DayRecord,
    RunResult,
    RunSpec,
    Sections,
    Variant,
    WindowRecord,
    aggregate,
    apply_overrides,
    bootstrap_days,
    first_day_from,
    first_rise,
    markdown_table,
    narrowed,
    onset_for,
    onset_range,
    outcome_of,
    parse_variant,
    pre_onset_level,
    recovery,
    report,
    results_from,
    run_specs,
    spread,
)
from data.usecases import use_case
from features.contract import load_contract
from monitoring.config import MonitoringConfig
from monitoring.policy import RetrainPolicy
from training.config import TrainingConfig
from training.gate import GatePolicy

SPEC = RunSpec("card_fraud", "concept_drift", 1, 60, 1000, "current", 30, None)


def window(day: int, *, drift: bool = False, alarm: bool = False, **kwargs: object) -> WindowRecord:
    fields: dict[str, object] = {
        "day": day,
        "window_id": f"2026-02-{day:02d}",
        "champion": "1",
        "drift_share": 0.5 if drift else 0.0,
        "drifted_features": 5 if drift else 0,
        "drift_flag": drift,
        "performance_alarm": alarm,
        "window_pr_auc": None,
        "verdict": "hold",
        "trigger": None,
        "in_cooldown": False,
        "reason": "Hold.",
    }
    fields.update(kwargs)
    return WindowRecord(**fields)  # type: ignore[arg-type]


def day(index: int, value: float | None, blocked: bool = False) -> DayRecord:
    return DayRecord(index, blocked, None if blocked else "1", value, value, value)


# --- onsets --------------------------------------------------------------------------------------


def test_onsets_follow_the_seed_and_leave_clean_days_and_a_recovery_horizon() -> None:
    bootstrap = bootstrap_days(60, 10, 5)
    assert bootstrap == 21, "the demo's bootstrap of a 60-day card-fraud run"
    first, last = onset_range(bootstrap, 60)
    assert (first, last) == (28, 35), f"range {first}-{last}"
    onsets = [onset_for(seed, bootstrap, 60) for seed in range(1, 6)]
    assert onsets == [29, 30, 31, 32, 33], f"consecutive seeds, consecutive onsets: {onsets}"
    assert all(first <= onset_for(s, bootstrap, 60) <= last for s in range(100)), "in range"


def test_a_run_too_short_for_clean_days_and_recovery_is_refused() -> None:
    with pytest.raises(ValueError, match="use at least 37 days"):
        onset_range(bootstrap_days(30, 10, 5), 30)


def test_run_specs_give_every_run_its_onset_and_an_incident_before_it() -> None:
    specs = run_specs(
        "card_fraud", ["none", "default"], [1, 2], 60, 1000, [Variant("a"), Variant("b")], 5
    )
    assert len(specs) == 8, "2 variants x 2 scenarios x 2 seeds"
    default = [s for s in specs if s.scenario == "default" and s.variant == "a"]
    assert [(s.onset_day, s.incident_day) for s in default] == [(29, 23), (30, 24)], default
    none = [(s.onset_day, s.incident_day) for s in specs if s.scenario == "none"]
    assert none == [(None, None)] * 4, f"no onset, no incident: {none}"


# --- detection -----------------------------------------------------------------------------------


def test_a_signal_detects_where_it_switches_on_not_where_it_stays_on() -> None:
    assert first_rise([False, False, True, True], 2) == 0, "switches on at the start"
    assert first_rise([False, False, False, True], 2) == 1, "one window later"
    assert first_rise([False, True, True, False, True], 2) == 2, "on before: waits for a rise"
    assert first_rise([True, True], 0) == 0, "on in the very first window"
    assert first_rise([False, False], 0) is None, "never"


def test_outcome_counts_clean_windows_detection_and_times() -> None:
    windows = [
        window(28),
        window(29, alarm=True),  # a false alarm, still on at the onset
        window(30, alarm=True),
        window(31, drift=True),
        window(32, drift=True, verdict="retrain", gate="reject"),
        window(35, verdict="retrain", gate="promote"),
    ]
    days = [day(i, 0.5) for i in range(21, 30)] + [day(i, 0.2) for i in range(30, 36)]
    days += [day(i, 0.5) for i in range(36, 45)]
    outcome = outcome_of(windows, days, 30)
    assert (outcome.clean_windows, outcome.clean_flags) == (2, 1), outcome
    assert outcome.first_performance_alarm is None, "the alarm was on before the onset"
    assert outcome.first_drift_flag == 1, "drift switches on in the second window"
    assert outcome.first_flag == 1, "the earliest signal"
    assert outcome.detected_within(2), "within 2 windows"
    assert not outcome.detected_within(1), "not in the onset window"
    assert (outcome.retrain_days, outcome.promotion_days) == (2, 5), outcome
    assert outcome.recovery_days == 6, "good again from day 36 on"
    assert outcome.pre_onset_pr_auc == pytest.approx(0.5), "the 7 days before the onset"
    assert outcome.trough_ratio == pytest.approx(0.4), "0.2 / 0.5"
    assert (outcome.retrains, outcome.promotions) == (2, 1), outcome
    assert outcome.gain_over_first_model == pytest.approx(0.0), "the first model served"


def test_a_scenario_without_onset_has_only_clean_windows() -> None:
    windows = [window(22, drift=True, verdict="retrain", gate="promote"), window(23)]
    outcome = outcome_of(windows, [day(22, 0.4), day(23, 0.4)], None)
    assert (outcome.clean_windows, outcome.clean_flags, outcome.clean_retrains) == (2, 1, 1)
    assert outcome.first_flag is None, "nothing to detect"
    assert outcome.recovery_days is None, "nothing to recover from"
    assert outcome.gain_over_first_model == pytest.approx(0.0), "over every replayed day"


# --- recovery ------------------------------------------------------------------------------------


def test_recovery_is_the_first_day_after_the_last_one_below_ninety_percent() -> None:
    series = [(d, 0.5) for d in range(20, 30)]
    series += [(30, 0.2), (31, 0.2), (32, 0.5), (33, 0.44), (34, 0.46), (35, 0.5)]
    assert pre_onset_level(series, 30) == pytest.approx(0.5), "the last 7 days before"
    days, trough = recovery(series, 30, 0.5)
    assert days == 4, "day 33 is below 0.45 again: good from day 34 on"
    assert trough == pytest.approx(0.4), "0.2 of 0.5"


def test_a_model_that_falls_late_recovers_after_its_fall() -> None:
    series = [(30, 0.5), (31, 0.5), (32, 0.5), (33, 0.2), (34, 0.2), (35, 0.5), (36, 0.5)]
    days, _ = recovery(series, 30, 0.5)
    assert days == 5, "fine at first (a gradual drift), fell, good from day 35 on"


def test_a_run_that_ends_below_has_not_recovered() -> None:
    days, trough = recovery([(30, 0.2), (31, 0.6), (32, 0.2)], 30, 0.5)
    assert days is None, "one good day in between is not a recovery"
    assert trough == pytest.approx(0.4), "its lowest day"


def test_a_model_that_never_fell_recovers_at_once_and_gaps_are_skipped() -> None:
    series = [(29, 0.1), (30, 0.5), (32, 0.48), (33, 0.5)]  # day 31 was blocked
    days, trough = recovery(series, 30, 0.5)
    assert days == 0, "never below 0.45 from the onset on"
    assert trough == pytest.approx(0.96), "its lowest day, day 32"
    assert recovery([(29, 0.5)], 30, 0.5) == (None, None), "nothing after the onset"


def test_first_day_from_ignores_events_before_the_onset() -> None:
    assert first_day_from([25, 33, 31], 30) == 1, "day 31 is the first after"
    assert first_day_from([25], 30) is None, "nothing after"


# --- aggregation ---------------------------------------------------------------------------------


def test_spread_reads_as_median_range_and_count() -> None:
    assert spread([3, 5, 4]).text() == "4 (3-5)", "median (range)"
    assert spread([2, None, 2]).text() == "2, 2/3", "one run never did it"
    assert spread([None, None]).text() == "never", "no run did it"
    assert spread([]).text() == "-", "no run at all"


def test_aggregate_pools_clean_windows_and_rates_detection_per_run() -> None:
    detected = outcome_of([window(29), window(30, drift=True)], [], 30)
    later = [window(d) for d in range(30, 35)] + [window(35, drift=True)]  # the 6th window
    missed = outcome_of([window(29, alarm=True), *later], [], 30)
    results = [
        RunResult(SPEC, outcome=detected),
        RunResult(SPEC, outcome=missed),
        RunResult(SPEC, error="RuntimeError: boom"),
    ]
    stats = aggregate("current", "concept_drift", results)
    assert (stats.runs, stats.failed) == (3, 1), stats
    assert stats.detection == {1: 0.5, 2: 0.5, 5: 0.5}, stats.detection
    assert (stats.clean_flags, stats.clean_windows) == (1, 2), "pooled over runs"
    assert stats.false_alarm_rate == pytest.approx(0.5), "1 of 2 clean windows"
    table = markdown_table([stats])
    assert "| current | concept_drift | 3 (1 failed) | 50% / 50% / 50% |" in table, table
    assert "50.0% (1/2)" in table, table


# --- variants ------------------------------------------------------------------------------------


SECTIONS = Sections(TrainingConfig(), GatePolicy(), MonitoringConfig(), RetrainPolicy())


def test_a_variant_overrides_settings_through_each_section_s_own_type() -> None:
    variant = parse_variant("strict:retraining.cooldown_windows=0, promotion.margin=0.02")
    assert variant.name == "strict", variant
    sections = apply_overrides(SECTIONS, variant)
    assert sections.retraining.cooldown_windows == 0, "an int from JSON"
    assert sections.promotion.margin == pytest.approx(0.02), "a float from JSON"
    assert sections.training == SECTIONS.training, "other sections untouched"
    assert parse_variant("current") == Variant("current"), "no overrides"
    assert "retraining.cooldown_windows=0" in variant.describe(), variant.describe()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":retraining.cooldown_windows=1", "has no name"),
        ("x:cooldown_windows=1", "is not SECTION.KEY=VALUE"),
        ("x:serving.port=1", "unknown section 'serving'"),
    ],
)
def test_a_malformed_variant_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_variant(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x:retraining.no_such_key=1", "retraining.no_such_key"),
        ("x:retraining.cooldown_windows=-1", "retraining.cooldown_windows"),
    ],
)
def test_an_override_the_section_rejects_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(SECTIONS, parse_variant(text))


# --- the results file ----------------------------------------------------------------------------


def test_a_results_file_reads_back_with_the_same_outcomes(tmp_path: Path) -> None:
    windows = [
        window(29, reason="Hold: nothing.", drift_share=1 / 3),
        window(30, drift=True, verdict="retrain", reason="Retrain: drift.", gate="promote"),
    ]
    days = [day(i, 0.5) for i in range(22, 30)] + [day(30, 0.25), day(31, 0.5)]
    run = RunResult(SPEC, 21, windows, days, outcome_of(windows, days, 30), 12.0)
    path = tmp_path / "detection.json"
    table = report(path, {"benchmark": "detection"}, [run], ["current"], ["concept_drift"])

    data = json.loads(path.read_text())
    assert data["table_markdown"] == table, "the table is in the file"
    assert data["summary"][0]["scenario"] == "concept_drift", data["summary"]
    (again,) = results_from(data)
    assert again.spec == SPEC, "the spec reads back"
    assert again.outcome == run.outcome, "the outcome is recomputed the same"
    assert again.windows[0].drift_share == 0.3333, "figures kept to 4 decimals"
    assert [w.reason for w in again.windows] == [None, "Retrain: drift."], "retrain reasons kept"


def test_a_narrow_contract_keeps_its_first_features_and_refuses_nonsense() -> None:
    contract = load_contract(use_case("card_fraud").contract_file)
    narrow = narrowed(contract, 3)
    assert narrow.features == contract.features[:3]
    assert set(narrow.segments) <= set(contract.segments), "no segment invented"
    assert all(s in narrow.features or s not in contract.features for s in narrow.segments), (
        "a segment that was a dropped feature is left out"
    )
    assert narrowed(contract, None) is contract
    with pytest.raises(ValueError, match=r"--features must be 1\.\.10"):
        narrowed(contract, 0)
    specs = run_specs("card_fraud", ["none"], [1], 60, 1000, [Variant("v")], 5, 3)
    assert specs[0].features == 3, "the runs carry it"
