"""Named drift scenarios for the synthetic card-fraud generator, and their ground-truth timeline.

A scenario says *what* goes wrong (covariate shift, concept drift, prior shift, a one-day
data-quality incident, a one-day schema break, or a mix) and whether a drift arrives as a step
or ramps in; the timeline says *when*: the 0-based index of the incident day and of the drift
onset day, and how far the drift has come on each day (`ScenarioTimeline.drift_weight`). Tests,
the demo and monitoring benchmarks read the timeline to know the ground truth they should
detect. The timeline rules (`build_timeline`) and the interpolation of a ramping drift
(`interpolate`) are shared by every built-in use case; other use cases define their own
scenarios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

IncidentKind = Literal["amount_in_cents", "schema_break"]
#: Days over which a gradual drift ramps in (its weight reaches 1 on the last of them).
GRADUAL_RAMP_DAYS = 10
#: Fraud rate after a prior shift, as a multiple of the rate before (a fraud wave).
PRIOR_SHIFT_FACTOR = 2.5


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

    @property
    def ramp_days(self) -> int:
        """Days over which the drift ramps in from its onset (0: a step on the onset day)."""


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
        prior_shift: From the onset day on, the fraud rate is `PRIOR_SHIFT_FACTOR` times higher
            while P(features | fraud) and P(features | legitimate) stay the same (the day's rows
            are drawn from each class as before, in other proportions).
        incident: What breaks on the incident day only: `amount_in_cents` (amounts x100) or
            `schema_break` (a renamed column and a missing one); None for no incident.
        ramp_days: 0 for a drift that is complete on its onset day; otherwise the drift's
            parameters move linearly from before to after over this many days (see
            `ScenarioTimeline.drift_weight`).
    """

    name: str
    summary: str
    covariate_shift: bool = False
    concept_drift: bool = False
    prior_shift: bool = False
    incident: IncidentKind | None = None
    ramp_days: int = 0

    @property
    def has_onset(self) -> bool:
        """True if the scenario drifts from an onset day on."""
        return self.covariate_shift or self.concept_drift or self.prior_shift

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
            name="prior_shift",
            summary=(
                "From the onset day, a fraud wave: 2.5x the fraud rate, each class's transactions "
                "look as before."
            ),
            prior_shift=True,
        ),
        Scenario(
            name="gradual_drift",
            summary=(
                "The default story's drift (card testing plus covariate shift) ramps in over 10 "
                "days from the onset."
            ),
            covariate_shift=True,
            concept_drift=True,
            ramp_days=GRADUAL_RAMP_DAYS,
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
        ramp_days: Days the drift takes to ramp in from the onset (0: a step).
    """

    scenario: str
    days: int
    incident_day: int | None
    onset_day: int | None
    ramp_days: int = 0

    def is_incident(self, day_index: int) -> bool:
        """True if `day_index` is the broken day."""
        return self.incident_day is not None and day_index == self.incident_day

    def is_drifted(self, day_index: int) -> bool:
        """True if `day_index` is on or after the drift onset."""
        return self.onset_day is not None and day_index >= self.onset_day

    def drift_weight(self, day_index: int) -> float:
        """How far the drift has come on `day_index`: 0 before the onset, 1 once complete.

        A step drift is complete on its onset day. A ramp of `ramp_days` days reaches
        ``k / ramp_days`` on the k-th day from the onset (the onset day being the first), so it
        is complete on day ``onset_day + ramp_days - 1``.
        """
        if self.onset_day is None or day_index < self.onset_day:
            return 0.0
        if self.ramp_days <= 1:
            return 1.0
        return min(1.0, (day_index - self.onset_day + 1) / self.ramp_days)


Params = TypeVar("Params", bound="DataclassInstance")


def interpolate(before: Params, after: Params, weight: float) -> Params:
    """The parameter set `weight` of the way from `before` to `after` (frozen dataclasses).

    Every field is a number or a tuple of numbers and moves linearly; weight 0 gives `before`
    and weight 1 gives `after` exactly (so a completed ramp equals the step drift).

    Raises:
        ValueError: `weight` outside [0, 1].
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if weight == 0.0:
        return before
    if weight == 1.0:
        return after
    changes: dict[str, object] = {}
    for spec in fields(before):
        a, b = getattr(before, spec.name), getattr(after, spec.name)
        if isinstance(a, tuple):
            pairs = zip(a, b, strict=True)
            changes[spec.name] = tuple(x * (1 - weight) + y * weight for x, y in pairs)
        else:
            changes[spec.name] = a * (1 - weight) + b * weight
    return replace(before, **changes)


def prior_shift_pool_rows(rows: int, factor: float) -> int:
    """Rows to draw before a prior shift subsamples them: twice what the rarer class needs."""
    return math.ceil(2 * rows * max(factor, 1 / factor, 1.0))


def prior_shift_sample(
    labels: np.ndarray, rows: int, factor: float, rng: np.random.Generator
) -> np.ndarray:
    """Sorted indices of `rows` rows of a pool, with `factor` times the pool's positive rate.

    The pool (its labels 0/1 given) is drawn from the unshifted process, larger than the day
    (`prior_shift_pool_rows`). The number of positives is binomial with the shifted rate; the
    positives and the negatives are each picked uniformly without replacement, so every
    class's rows follow the same distribution as before: P(features | label) is unchanged and
    only P(label) moves. Sorted, so the rows keep the pool's (random) order.

    Raises:
        ValueError: the pool is too small for the shifted day (see `prior_shift_pool_rows`).
    """
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    rate = min(1.0, factor * positives.size / labels.size)
    n_positives = min(int(rng.binomial(rows, rate)), positives.size)
    n_negatives = rows - n_positives
    if n_negatives > negatives.size:
        raise ValueError(
            f"a prior-shift pool of {labels.size} rows holds {negatives.size} negatives, "
            f"fewer than the {n_negatives} a {rows}-row day needs"
        )
    chosen = np.concatenate(
        [
            rng.choice(positives, n_positives, replace=False),
            rng.choice(negatives, n_negatives, replace=False),
        ]
    )
    return np.sort(chosen)


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
    appear in the timeline. A ramp may run past the end of the run (the run then ends
    mid-ramp).

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
        scenario=scenario.name,
        days=days,
        incident_day=incident,
        onset_day=onset,
        ramp_days=scenario.ramp_days if onset is not None else 0,
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
