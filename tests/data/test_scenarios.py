"""Scenario registry and timelines: names, defaults, overrides and rejected inputs."""

from __future__ import annotations

from typing import Any

import pytest

from data.scenarios import SCENARIOS, get_scenario, scenario_names, scenario_timeline


def test_every_documented_scenario_is_registered_with_a_one_line_summary() -> None:
    expected = {
        "none",
        "covariate_shift",
        "concept_drift",
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
