"""Scenario registry and timelines: names, defaults, overrides and rejected inputs."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest

from data.scenarios import (
    SCENARIOS,
    get_scenario,
    interpolate,
    scenario_names,
    scenario_timeline,
)


def test_every_documented_scenario_is_registered_with_a_one_line_summary() -> None:
    expected = {
        "none",
        "covariate_shift",
        "concept_drift",
        "prior_shift",
        "gradual_drift",
        "quality_incident",
        "schema_break",
        "default",
    }
    assert set(scenario_names()) == expected, f"scenarios: {scenario_names()}"
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name, f"{name}: registered under another name {scenario.name}"
        assert scenario.summary, f"{name}: empty summary"
        assert "\n" not in scenario.summary, f"{name}: summary not one line"
        assert len(scenario.summary) <= 120, f"{name}: summary too long for --help"


@pytest.mark.parametrize(
    ("name", "incident", "onset"),
    [
        ("none", None, None),
        ("covariate_shift", None, 30),
        ("concept_drift", None, 30),
        ("prior_shift", None, 30),
        ("gradual_drift", None, 30),
        ("quality_incident", 24, None),
        ("schema_break", 24, None),
        ("default", 24, 30),
    ],
)
def test_default_timeline_is_40_and_60_percent_into_the_run(
    name: str, incident: int | None, onset: int | None
) -> None:
    timeline = scenario_timeline(name, 60)
    assert (timeline.incident_day, timeline.onset_day) == (incident, onset), (
        f"{name}: got incident {timeline.incident_day}, onset {timeline.onset_day}"
    )
    assert timeline.days == 60, "timeline keeps the run length"


def test_timeline_days_can_be_overridden_and_unused_ones_are_dropped() -> None:
    timeline = scenario_timeline("default", 30, incident_day=3, onset_day=10)
    assert (timeline.incident_day, timeline.onset_day) == (3, 10), "overrides are used"
    assert timeline.is_incident(3), "day 3 is the incident"
    assert not timeline.is_incident(4), "only day 3 is the incident"
    assert not timeline.is_drifted(9), "day before onset is not drifted"
    assert timeline.is_drifted(10), "onset day is drifted"
    assert timeline.is_drifted(29), "drift lasts until the end"
    none = scenario_timeline("none", 30, incident_day=3, onset_day=10)
    assert (none.incident_day, none.onset_day) == (None, None), "none has no events"


def test_default_scenario_requires_the_incident_before_the_onset() -> None:
    with pytest.raises(ValueError, match="incident_day < onset_day") as info:
        scenario_timeline("default", 30, incident_day=12, onset_day=12)
    assert "incident_day=12" in str(info.value), "message shows the offending values"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "days must be at least 1"),
        ({"days": 10, "incident_day": 10}, r"incident_day must be .* \[0, 9\]"),
        ({"days": 10, "onset_day": -1}, r"onset_day must be .* \[0, 9\]"),
    ],
)
def test_bad_days_are_rejected_with_a_clear_message(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scenario_timeline("concept_drift", **kwargs)


def test_unknown_scenario_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'drifty'") as info:
        get_scenario("drifty")
    for name in scenario_names():
        assert name in str(info.value), f"message should list {name}"


def test_a_step_drift_is_complete_on_its_onset_day() -> None:
    timeline = scenario_timeline("concept_drift", 40, onset_day=20)
    assert timeline.ramp_days == 0, "a step has no ramp"
    weights = [timeline.drift_weight(day) for day in (0, 19, 20, 39)]
    assert weights == [0.0, 0.0, 1.0, 1.0], f"weights {weights}"


def test_a_gradual_drift_ramps_in_linearly_over_ten_days() -> None:
    timeline = scenario_timeline("gradual_drift", 40, onset_day=20)
    assert timeline.ramp_days == 10, f"ramp {timeline.ramp_days}"
    weights = [timeline.drift_weight(day) for day in range(40)]
    assert weights[:20] == [0.0] * 20, "nothing drifts before the onset"
    assert weights[20] == pytest.approx(0.1), "the onset day is a tenth of the way"
    assert weights[24] == pytest.approx(0.5), "half way on the fifth day"
    assert weights[29:] == [1.0] * 11, "complete on the tenth day, and after"
    steps = [b - a for a, b in pairwise(weights[19:30])]
    assert steps == pytest.approx([0.1] * 10), f"equal daily steps: {steps}"
    assert timeline.is_drifted(20), "drifted from the onset, as for a step"
    assert not timeline.is_drifted(19), "not before"


def test_a_scenario_without_onset_has_no_ramp() -> None:
    assert scenario_timeline("none", 40).ramp_days == 0, "no drift, no ramp"
    assert scenario_timeline("none", 40).drift_weight(39) == 0.0, "never drifted"


@dataclass(frozen=True)
class _Params:
    rate: float
    mix: tuple[float, float]


def test_interpolate_moves_every_field_linearly_and_keeps_the_ends_exact() -> None:
    before, after = _Params(0.1, (0.2, 0.8)), _Params(0.3, (0.6, 0.4))
    assert interpolate(before, after, 0.0) is before, "weight 0 is the start"
    assert interpolate(before, after, 1.0) is after, "weight 1 is the end, exactly"
    middle = interpolate(before, after, 0.5)
    assert middle.rate == pytest.approx(0.2), f"rate {middle.rate}"
    assert middle.mix == pytest.approx((0.4, 0.6)), f"mix {middle.mix}"
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\], got 1.5"):
        interpolate(before, after, 1.5)
