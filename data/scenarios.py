"""Named drift scenarios for the synthetic card-fraud generator, and their ground-truth timeline.

A scenario says *what* goes wrong (covariate shift, concept drift, a one-day data-quality
incident, a one-day schema break, or a mix); the timeline says *when*: the 0-based index of the
incident day and of the drift onset day. Tests, the demo and monitoring benchmarks read the
timeline to know the ground truth they should detect. The timeline rules (`build_timeline`)
are shared by every built-in use case; other use cases define their own scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

IncidentKind = Literal["amount_in_cents", "schema_break"]


class TimedScenario(Protocol):
    """What a timeline needs to know of a scenario, whatever use case it belongs to."""

    @property
    def name(self) -> str:
        """The scenario's name, quoted in error messages."""

    @property
    def has_onset(self) -> bool:
        """True if the scenario drifts from an onset day on."""

    @property
    def has_incident(self) -> bool:
        """True if one day of the scenario is broken."""


@dataclass(frozen=True)
class Scenario:
    """A named way the data behaves over time.

    Attributes:
        name: The key in `SCENARIOS`, used on the command line.
        summary: One line shown in `lifecycle generate --help`.
        covariate_shift: From the onset day on, the population moves (more online, younger
            customers, higher amounts, more foreign) while P(fraud | features) stays the same.
        concept_drift: From the onset day on, fraudsters switch to small card-testing bursts at
            physical terminals: P(fraud | features) changes and the share of such transactions
            rises.
        incident: What breaks on the incident day only: `amount_in_cents` (amounts x100) or
            `schema_break` (a renamed column and a missing one); None for no incident.
    """

    name: str
    summary: str
    covariate_shift: bool = False
    concept_drift: bool = False
    incident: IncidentKind | None = None

    @property
    def has_onset(self) -> bool:
        """True if the scenario drifts from an onset day on."""
        return self.covariate_shift or self.concept_drift

    @property
    def has_incident(self) -> bool:
        """True if one day of the scenario is broken."""
        return self.incident is not None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="none",
            summary="Stationary data: no drift, no incident (the control).",
        ),
        Scenario(
            name="covariate_shift",
            summary=(
                "From the onset day, more online, younger, higher-amount and foreign traffic; "
                "P(fraud | features) unchanged."
            ),
            covariate_shift=True,
        ),
        Scenario(
            name="concept_drift",
            summary=(
                "From the onset day, fraudsters switch to small card-testing bursts at "
                "terminals; a model trained before it goes stale."
            ),
            concept_drift=True,
        ),
        Scenario(
            name="quality_incident",
            summary="On the incident day only, `amount` arrives in cents (x100); otherwise clean.",
            incident="amount_in_cents",
        ),
        Scenario(
            name="schema_break",
            summary=(
                "On the incident day only, `merchant_category` is renamed `mcc_category` and "
                "`device_trust_score` is missing."
            ),
            incident="schema_break",
        ),
        Scenario(
            name="default",
            summary=(
                "The demo's story: amounts in cents on the incident day, then concept drift "
                "plus covariate shift from the onset day."
            ),
            covariate_shift=True,
            concept_drift=True,
            incident="amount_in_cents",
        ),
    )
}


def scenario_names() -> list[str]:
    """Valid scenario names, in the order they are documented."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by name.

    Raises:
        ValueError: The name is unknown; the message lists the valid names.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; valid scenarios: {', '.join(scenario_names())}"
        ) from None


@dataclass(frozen=True)
class ScenarioTimeline:
    """When a scenario's events happen, as 0-based day indices into the generated run.

    Attributes:
        scenario: The scenario's name.
        days: Number of generated days.
        incident_day: The single broken day, or None if the scenario has no incident.
        onset_day: The first drifted day (drift lasts until the end), or None if the scenario
            does not drift.
    """

    scenario: str
    days: int
    incident_day: int | None
    onset_day: int | None

    def is_incident(self, day_index: int) -> bool:
        """True if `day_index` is the broken day."""
        return self.incident_day is not None and day_index == self.incident_day

    def is_drifted(self, day_index: int) -> bool:
        """True if `day_index` is on or after the drift onset."""
        return self.onset_day is not None and day_index >= self.onset_day


def default_incident_day(days: int) -> int:
    """The incident day used when none is given: 40 % into the run."""
    return round(0.4 * days)


def default_onset_day(days: int) -> int:
    """The drift onset day used when none is given: 50 % into the run."""
    return round(0.5 * days)


def check_days(days: int) -> None:
    """Reject a run length below one day.

    Raises:
        ValueError: `days` is below 1.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")


def _check_day_in_range(what: str, day: int, days: int) -> None:
    if not 0 <= day < days:
        raise ValueError(
            f"{what} must be a 0-based day index in [0, {days - 1}] for a {days}-day run, got {day}"
        )


def build_timeline(
    scenario: TimedScenario,
    days: int,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> ScenarioTimeline:
    """Resolve a scenario's incident and onset days, applying defaults and checking them.

    Works for the scenarios of any use case (any `TimedScenario`). An explicit day that the
    scenario does not use is still range-checked (it is a mistake either way) but does not
    appear in the timeline.

    Raises:
        ValueError: `days` < 1, a day outside the run, or (for a scenario with both an incident
            and a drift) an incident that is not strictly before the onset.
    """
    check_days(days)
    if incident_day is not None:
        _check_day_in_range("incident_day", incident_day, days)
    if onset_day is not None:
        _check_day_in_range("onset_day", onset_day, days)
    incident = None
    onset = None
    if scenario.has_incident:
        incident = default_incident_day(days) if incident_day is None else incident_day
        _check_day_in_range(f"incident_day of scenario {scenario.name!r}", incident, days)
    if scenario.has_onset:
        onset = default_onset_day(days) if onset_day is None else onset_day
        if onset >= days:
            raise ValueError(
                f"scenario {scenario.name!r} drifts from day {onset} (50 % of the run by "
                f"default), beyond a {days}-day run; generate more days or pass onset_day"
            )
    if incident is not None and onset is not None and incident >= onset:
        raise ValueError(
            f"scenario {scenario.name!r} needs incident_day < onset_day (the incident comes "
            f"before the drift), got incident_day={incident}, onset_day={onset}"
        )
    return ScenarioTimeline(
        scenario=scenario.name, days=days, incident_day=incident, onset_day=onset
    )


def scenario_timeline(
    scenario: str,
    days: int,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> ScenarioTimeline:
    """The ground truth of a run: which day is broken and from which day the data drifts.

    Defaults: incident_day = round(0.4 * days), onset_day = round(0.5 * days); either is None
    when the scenario has no such event.

    Raises:
        ValueError: Unknown scenario, or days/incident_day/onset_day that do not fit the run.
    """
    return build_timeline(get_scenario(scenario), days, incident_day, onset_day)
