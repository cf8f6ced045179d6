"""Seeded synthetic subscription-churn data with named drift scenarios.

The second built-in use case, shaped unlike card fraud on purpose: one row per customer snapshot,
a text label (`churned`: "yes" if the customer cancels within the next 7 days, else "no"), a
constant label delay of 7 days instead of a label-available column, a positive rate near 20 %,
and a protected attribute (`age_band`) that is monitored as a segment but never fed to the model.
Its contract is `data/contracts/churn.yaml`.

As in `data.generator`, each day is generated on its own from `(seed, day_index)`, and every
concern draws from its own random stream: the same arguments give the same frame, and before its
onset (or off its incident day) a scenario's days equal scenario `none`'s.

How a day is built:

1. The population. Age band, then plan, contract type and payment method given the age band
   (younger customers pick cheaper plans, month-to-month contracts and wallets), tenure given
   contract and age, monthly charges given plan and contract, months to the next renewal (none
   for month-to-month contracts), and a region. An unobserved dissatisfaction drives three noisy
   signals: support tickets, a drop in usage and days since the last login.
2. The label. A latent churn score combines contract, renewal window, tenure, price, tickets,
   usage change, login gap, payment method, plan and region, plus the unobserved dissatisfaction
   and noise; `churned` is drawn from it. No single feature decides it. The age band acts only
   through the features (younger customers churn more because they hold riskier contracts), so
   a model that never sees it still scores age bands differently: what the segment watches.
3. The scenario. Covariate shift (a promotion) brings younger, cheaper-plan, month-to-month
   customers while P(churn | features) stays the same; concept drift (a competitor's offer)
   makes price dominate the churn score; prior shift (a wave of cancellations) keeps each
   class's snapshots as they were in new proportions (`data.scenarios.prior_shift_sample`); a
   gradual drift moves the promotion's share and the churn score linearly over its ramp
   (`data.scenarios.interpolate`); incidents corrupt one day after the fact.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import pandas as pd

from data.scenarios import (
    GRADUAL_RAMP_DAYS,
    ScenarioTimeline,
    build_timeline,
    interpolate,
    prior_shift_pool_rows,
    prior_shift_sample,
)

__all__ = [
    "AGE_BANDS",
    "COLUMNS",
    "CONTRACT_TYPES",
    "DEFAULT_ROWS_PER_DAY",
    "DEFAULT_START",
    "LABEL_DELAY_DAYS",
    "MIN_ROWS_PER_DAY",
    "PAYMENT_METHODS",
    "PLANS",
    "REGIONS",
    "SCENARIOS",
    "ChurnScenario",
    "generate",
    "generate_day",
    "get_scenario",
    "scenario_names",
    "scenario_timeline",
]

DEFAULT_START: Final = datetime.date(2026, 1, 1)
DEFAULT_ROWS_PER_DAY: Final = 500
MIN_ROWS_PER_DAY: Final = 50
#: Days after a snapshot when its label is known (the contract's `label_delay`).
LABEL_DELAY_DAYS: Final = 7

#: Output columns, in the dataset contract's order.
COLUMNS: Final = (
    "snapshot_id",
    "customer_id",
    "snapshot_time",
    "tenure_months",
    "monthly_charges",
    "plan",
    "contract_type",
    "months_to_renewal",
    "payment_method",
    "support_tickets_30d",
    "usage_change_pct",
    "days_since_last_login",
    "region",
    "age_band",
    "churned",
)

AGE_BANDS: Final = ("18-29", "30-44", "45-64", "65+")
PLANS: Final = ("basic", "standard", "premium")
CONTRACT_TYPES: Final = ("month_to_month", "one_year", "two_year")
PAYMENT_METHODS: Final = ("card", "direct_debit", "paypal", "invoice")
REGIONS: Final = ("north", "south", "east", "west", "central")
LABELS: Final = ("no", "yes")

CHARGES_MIN: Final = 5.0
CHARGES_MAX: Final = 300.0
TENURE_MAX_MONTHS: Final = 120
USAGE_CHANGE_MIN: Final = -100.0
USAGE_CHANGE_MAX: Final = 400.0
LOGIN_GAP_MAX_DAYS: Final = 365
TICKETS_MAX: Final = 50
CUSTOMER_POOL: Final = 200_000

# --- the population --------------------------------------------------------------------------

_AGE_P: Final = np.array([0.22, 0.31, 0.32, 0.15])
# Customers the promotion brings in, in AGE_BANDS order.
_PROMO_AGE_P: Final = np.array([0.62, 0.28, 0.08, 0.02])
# P(plan | age band); rows follow AGE_BANDS, columns PLANS.
_PLAN_GIVEN_AGE: Final = np.array(
    [
        [0.50, 0.38, 0.12],
        [0.32, 0.44, 0.24],
        [0.30, 0.44, 0.26],
        [0.45, 0.42, 0.13],
    ]
)
_PROMO_PLAN_P: Final = np.array([0.75, 0.20, 0.05])
# P(contract type | age band); rows follow AGE_BANDS, columns CONTRACT_TYPES.
_CONTRACT_GIVEN_AGE: Final = np.array(
    [
        [0.68, 0.20, 0.12],
        [0.50, 0.27, 0.23],
        [0.40, 0.28, 0.32],
        [0.38, 0.27, 0.35],
    ]
)
_PROMO_CONTRACT_P: Final = np.array([0.90, 0.08, 0.02])
# P(payment method | age band); rows follow AGE_BANDS, columns PAYMENT_METHODS.
_PAYMENT_GIVEN_AGE: Final = np.array(
    [
        [0.35, 0.15, 0.42, 0.08],
        [0.38, 0.30, 0.24, 0.08],
        [0.30, 0.42, 0.12, 0.16],
        [0.20, 0.45, 0.05, 0.30],
    ]
)
_REGION_P: Final = np.array([0.22, 0.24, 0.16, 0.22, 0.16])
# Median tenure (months) by contract type, and its factor by age band.
_TENURE_MEDIAN: Final = np.array([10.0, 24.0, 40.0])
_TENURE_AGE_FACTOR: Final = np.array([0.6, 0.9, 1.2, 1.4])
# List price by plan, discount by contract type, and the promotion's discount.
_PLAN_PRICE: Final = np.array([25.0, 50.0, 85.0])
_CONTRACT_PRICE_FACTOR: Final = np.array([1.0, 0.95, 0.9])
_PROMO_PRICE_FACTOR: Final = 0.7
# Length of each contract type's commitment in months (month-to-month has none).
_CONTRACT_TERM_MONTHS: Final = np.array([0.0, 12.0, 24.0])
# Older customers log in less often, whatever their satisfaction.
_LOGIN_AGE_FACTOR: Final = np.array([0.8, 1.0, 1.2, 1.6])
# Hour-of-day profile of snapshots (UTC), normalised below: scored as customers are active.
_HOURLY_WEIGHT: Final = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 9, 9, 9, 10, 11, 12, 12, 10, 7, 4],
    dtype=float,
)


#: Share of a day's snapshots that are newcomers brought in by the covariate-shift promotion.
_PROMO_SHARE: Final = 0.35
#: Churn rate after a prior shift, as a multiple of the rate before (about 20 % to 35 %).
_PRIOR_SHIFT_FACTOR: Final = 1.75

# --- the churn score -------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChurnPattern:
    """Weights of the latent churn score (a logit)."""

    intercept: float
    contract: tuple[float, float, float]  # by CONTRACT_TYPES
    renewal_window: float  # a commitment ending within a month
    tenure: float  # per log(1 + months)
    price: float  # per 10 currency units above 50
    undercut: float  # per 10 currency units above what a competitor charges (40)
    tickets: float  # per ticket, up to 6
    usage_drop: float  # per 100 % of usage lost (gained usage lowers the score)
    login_gap: float  # per log(1 + days)
    payment: tuple[float, float, float, float]  # by PAYMENT_METHODS
    plan: tuple[float, float, float]  # by PLANS
    region: tuple[float, float, float, float, float]  # by REGIONS
    dissatisfaction: float  # the unobserved driver of tickets, usage and logins
    latent_sd: float


_PATTERN_BEFORE: Final = _ChurnPattern(
    intercept=-1.7,
    contract=(0.8, -0.5, -1.2),
    renewal_window=1.4,
    tenure=-0.35,
    price=0.15,
    undercut=0.0,
    tickets=0.35,
    usage_drop=0.9,
    login_gap=0.35,
    payment=(0.0, -0.3, 0.2, 0.5),
    plan=(0.15, 0.0, -0.2),
    region=(0.0, 0.25, 0.0, -0.1, 0.0),
    dissatisfaction=0.5,
    latent_sd=0.8,
)
# After concept drift: a competitor undercuts on price and buys customers out of their
# commitments, so price dominates while contract, renewal and engagement signals weaken. The
# lower intercept keeps the churn rate near 20-25 % (the undercut term adds to every score).
_PATTERN_AFTER: Final = replace(
    _PATTERN_BEFORE,
    intercept=-3.85,
    contract=(0.1, 0.0, -0.1),
    renewal_window=0.2,
    tenure=-0.1,
    undercut=1.6,
    tickets=0.05,
    usage_drop=0.2,
    login_gap=0.05,
)

# What the competitor charges after concept drift: only customers paying more are tempted.
_COMPETITOR_PRICE: Final = 40.0

# One independent random stream per concern, so changing one distribution leaves the others.
# New streams go at the end: an index change would change every later stream's draws.
_STREAMS: Final = (
    "time",
    "customer",
    "component",
    "age",
    "plan",
    "contract",
    "tenure",
    "charges",
    "renewal",
    "payment",
    "region",
    "satisfaction",
    "tickets",
    "usage",
    "login",
    "churn",
    "prior",
)


def _rng(seed: int, day_index: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, day_index, _STREAMS.index(stream)])


def _sample_index(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `p` (rows are probability vectors)."""
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((p.shape[0], 1))
    index: np.ndarray = np.minimum((u > cumulative).sum(axis=1), p.shape[1] - 1)
    return index


def _draw(
    rng: np.random.Generator, p_given: np.ndarray, promo_p: np.ndarray, promo: np.ndarray
) -> np.ndarray:
    """One categorical draw per row: from `p_given`'s row, or from `promo_p` for promo rows.

    Both draws are always made, so the stream's state does not depend on the promotion's share.
    """
    n = promo.shape[0]
    usual = _sample_index(rng, p_given)
    promoted = _sample_index(rng, np.tile(promo_p, (n, 1)))
    drawn: np.ndarray = np.where(promo, promoted, usual)
    return drawn


# --- scenarios -------------------------------------------------------------------------------

ChurnIncident = Literal["charges_in_cents", "schema_break"]


@dataclass(frozen=True)
class ChurnScenario:
    """A named way the churn data behaves over time.

    Attributes:
        name: The key in `SCENARIOS`, used on the command line.
        summary: One line shown in `--help`.
        covariate_shift: From the onset day on, a promotion brings in younger, cheaper-plan,
            month-to-month newcomers while P(churn | features) stays the same.
        concept_drift: From the onset day on, a competitor's offer makes price sensitivity
            dominate: P(churn | features) changes and a model trained before goes stale.
        prior_shift: From the onset day on, the churn rate is 1.75 times higher while
            P(features | churned) and P(features | stayed) stay the same.
        incident: What breaks on the incident day only: `charges_in_cents` (monthly charges
            x100) or `schema_break` (a renamed column and a missing one); None for no incident.
        ramp_days: 0 for a drift complete on its onset day; otherwise the drift ramps in
            linearly over this many days (`ScenarioTimeline.drift_weight`).
    """

    name: str
    summary: str
    covariate_shift: bool = False
    concept_drift: bool = False
    prior_shift: bool = False
    incident: ChurnIncident | None = None
    ramp_days: int = 0

    @property
    def has_onset(self) -> bool:
        """True if the scenario drifts from an onset day on."""
        return self.covariate_shift or self.concept_drift or self.prior_shift

    @property
    def has_incident(self) -> bool:
        """True if one day of the scenario is broken."""
        return self.incident is not None


SCENARIOS: dict[str, ChurnScenario] = {
    s.name: s
    for s in (
        ChurnScenario(
            name="none",
            summary="Stationary data: no drift, no incident (the control).",
        ),
        ChurnScenario(
            name="covariate_shift",
            summary=(
                "From the onset day, a promotion brings younger, cheaper-plan, month-to-month "
                "newcomers; P(churn | features) unchanged."
            ),
            covariate_shift=True,
        ),
        ChurnScenario(
            name="concept_drift",
            summary=(
                "From the onset day, a competitor's offer makes price dominate churn; a model "
                "trained before it goes stale."
            ),
            concept_drift=True,
        ),
        ChurnScenario(
            name="prior_shift",
            summary=(
                "From the onset day, a wave of cancellations: 1.75x the churn rate, each class's "
                "customers look as before."
            ),
            prior_shift=True,
        ),
        ChurnScenario(
            name="gradual_drift",
            summary=(
                "The default story's drift (the promotion and the competitor's offer) ramps in "
                "over 10 days from the onset."
            ),
            covariate_shift=True,
            concept_drift=True,
            ramp_days=GRADUAL_RAMP_DAYS,
        ),
        ChurnScenario(
            name="quality_incident",
            summary=(
                "On the incident day only, `monthly_charges` arrives in cents (x100); otherwise "
                "clean."
            ),
            incident="charges_in_cents",
        ),
        ChurnScenario(
            name="schema_break",
            summary=(
                "On the incident day only, `plan` is renamed `plan_tier` and "
                "`days_since_last_login` is missing."
            ),
            incident="schema_break",
        ),
        ChurnScenario(
            name="default",
            summary=(
                "The demo's story: charges in cents on the incident day, then a promotion and "
                "a competitor's offer from the onset day."
            ),
            covariate_shift=True,
            concept_drift=True,
            incident="charges_in_cents",
        ),
    )
}


def scenario_names() -> list[str]:
    """Valid scenario names, in the order they are documented."""
    return list(SCENARIOS)


def get_scenario(name: str) -> ChurnScenario:
    """Look a churn scenario up by name.

    Raises:
        ValueError: The name is unknown; the message lists the valid names.
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown churn scenario {name!r}; valid scenarios: {', '.join(scenario_names())}"
        ) from None


def scenario_timeline(
    scenario: str,
    days: int,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> ScenarioTimeline:
    """The ground truth of a run: which day is broken and from which day the data drifts.

    The same rules as card fraud's (`data.scenarios.build_timeline`): incident_day defaults to
    round(0.4 * days), onset_day to round(0.5 * days); either is None when unused.

    Raises:
        ValueError: Unknown scenario, or days/incident_day/onset_day that do not fit the run.
    """
    return build_timeline(get_scenario(scenario), days, incident_day, onset_day)


# --- one day, step by step -------------------------------------------------------------------


def _features(promo_share: float, n: int, seed: int, day_index: int) -> dict[str, np.ndarray]:
    """Draw one day's feature and segment columns as codes and numbers (no ids, no label).

    Also returns the unobserved dissatisfaction under ``"dissatisfaction"``; it drives the
    support, usage and login signals and the churn score, and is never output.
    """
    promo = _rng(seed, day_index, "component").random(n) < promo_share

    age = _draw(_rng(seed, day_index, "age"), np.tile(_AGE_P, (n, 1)), _PROMO_AGE_P, promo)
    plan = _draw(_rng(seed, day_index, "plan"), _PLAN_GIVEN_AGE[age], _PROMO_PLAN_P, promo)
    contract = _draw(
        _rng(seed, day_index, "contract"), _CONTRACT_GIVEN_AGE[age], _PROMO_CONTRACT_P, promo
    )
    payment = _sample_index(_rng(seed, day_index, "payment"), _PAYMENT_GIVEN_AGE[age])
    region = _sample_index(_rng(seed, day_index, "region"), np.tile(_REGION_P, (n, 1)))

    rng = _rng(seed, day_index, "tenure")
    median = _TENURE_MEDIAN[contract] * _TENURE_AGE_FACTOR[age]
    settled = np.exp(np.log(median) + 0.8 * rng.standard_normal(n))
    newcomer = rng.integers(0, 3, n).astype(float)  # joined with the promotion: 0-2 months
    tenure = np.where(promo, newcomer, settled)
    tenure_months = np.clip(np.floor(tenure), 0, TENURE_MAX_MONTHS).astype(np.int64)

    rng = _rng(seed, day_index, "charges")
    price = _PLAN_PRICE[plan] * _CONTRACT_PRICE_FACTOR[contract]
    price = price * np.exp(0.15 * rng.standard_normal(n))  # add-ons, usage-based extras
    price = np.where(promo, price * _PROMO_PRICE_FACTOR, price)
    charges = np.round(np.clip(price, CHARGES_MIN, CHARGES_MAX), 2)

    # Months left in the current commitment, consistent with tenure: a term restarts at each
    # renewal. Month-to-month contracts have no commitment, so no value.
    rng = _rng(seed, day_index, "renewal")
    term = _CONTRACT_TERM_MONTHS[contract]
    elapsed = tenure_months + rng.random(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = term - np.mod(elapsed, np.where(term > 0, term, 1.0))
    months_to_renewal = np.where(term > 0, np.round(np.clip(left, 0.0, 24.0), 1), np.nan)

    dissatisfaction = _rng(seed, day_index, "satisfaction").standard_normal(n)

    rng = _rng(seed, day_index, "tickets")
    tickets = rng.poisson(np.exp(-1.0 + 0.7 * dissatisfaction))
    tickets = np.clip(tickets, 0, TICKETS_MAX).astype(np.int64)

    rng = _rng(seed, day_index, "usage")
    usage = 100.0 * (np.exp(0.3 * rng.standard_normal(n) - 0.25 * dissatisfaction - 0.05) - 1.0)
    usage_change_pct = np.round(np.clip(usage, USAGE_CHANGE_MIN, USAGE_CHANGE_MAX), 1)

    rng = _rng(seed, day_index, "login")
    scale = np.exp(1.2 + 0.6 * dissatisfaction) * _LOGIN_AGE_FACTOR[age]
    login_gap = np.floor(rng.exponential(scale))
    days_since_last_login = np.clip(login_gap, 0, LOGIN_GAP_MAX_DAYS).astype(np.int64)

    return {
        "age": age,
        "plan": plan,
        "contract": contract,
        "payment": payment,
        "region": region,
        "tenure_months": tenure_months,
        "monthly_charges": charges,
        "months_to_renewal": months_to_renewal,
        "support_tickets_30d": tickets,
        "usage_change_pct": usage_change_pct,
        "days_since_last_login": days_since_last_login,
        "dissatisfaction": dissatisfaction,
    }


def _churn_logit(f: dict[str, np.ndarray], w: _ChurnPattern) -> np.ndarray:
    """The latent churn score of each row, without its noise (the age band is not in it)."""
    renewal_window = np.nan_to_num(f["months_to_renewal"], nan=99.0) <= 1.0
    usage_drop = -np.clip(f["usage_change_pct"], -100.0, 100.0) / 100.0
    logit: np.ndarray = (
        w.intercept
        + np.array(w.contract)[f["contract"]]
        + w.renewal_window * renewal_window
        + w.tenure * np.log1p(f["tenure_months"])
        + w.price * (f["monthly_charges"] - 50.0) / 10.0
        + w.undercut * np.clip(f["monthly_charges"] - _COMPETITOR_PRICE, 0.0, None) / 10.0
        + w.tickets * np.minimum(f["support_tickets_30d"], 6)
        + w.usage_drop * usage_drop
        + w.login_gap * np.log1p(f["days_since_last_login"])
        + np.array(w.payment)[f["payment"]]
        + np.array(w.plan)[f["plan"]]
        + np.array(w.region)[f["region"]]
        + w.dissatisfaction * f["dissatisfaction"]
    )
    return logit


def _features_and_labels(
    scenario: ChurnScenario, weight: float, rows: int, seed: int, day_index: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The day's columns and churn labels, the scenario's drift applied at `weight`."""
    promo_share = _PROMO_SHARE * weight if scenario.covariate_shift else 0.0
    pattern = (
        interpolate(_PATTERN_BEFORE, _PATTERN_AFTER, weight)
        if scenario.concept_drift
        else _PATTERN_BEFORE
    )
    if not (scenario.prior_shift and weight > 0.0):
        f = _features(promo_share, rows, seed, day_index)
        return f, _labels(f, pattern, seed, day_index)
    factor = 1.0 + (_PRIOR_SHIFT_FACTOR - 1.0) * weight
    pool = _features(promo_share, prior_shift_pool_rows(rows, factor), seed, day_index)
    pool_labels = _labels(pool, pattern, seed, day_index)
    chosen = prior_shift_sample(
        pool_labels.astype(np.int64), rows, factor, _rng(seed, day_index, "prior")
    )
    return {name: column[chosen] for name, column in pool.items()}, pool_labels[chosen]


def _labels(f: dict[str, np.ndarray], w: _ChurnPattern, seed: int, day_index: int) -> np.ndarray:
    """1 where the customer churns within the label delay, drawn from the latent score."""
    n = f["plan"].shape[0]
    rng = _rng(seed, day_index, "churn")
    logit = _churn_logit(f, w) + w.latent_sd * rng.standard_normal(n)
    churned: np.ndarray = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return churned


def _times(day: datetime.date, n: int, seed: int, day_index: int) -> np.ndarray:
    """Sorted snapshot times over the day (tz-naive UTC)."""
    rng = _rng(seed, day_index, "time")
    hour = rng.choice(24, size=n, p=_HOURLY_WEIGHT / _HOURLY_WEIGHT.sum())
    seconds = np.sort(hour * 3600 + rng.integers(0, 3600, n))
    midnight = np.datetime64(day.isoformat(), "ns")
    times: np.ndarray = midnight + seconds.astype("timedelta64[s]").astype("timedelta64[ns]")
    return times


def _customer_ids(n: int, seed: int, day_index: int) -> list[str]:
    # Distinct within a day (one snapshot per customer per day), drawn from a fixed pool.
    picks = _rng(seed, day_index, "customer").choice(CUSTOMER_POOL, size=n, replace=False)
    return [f"cust-{k:06d}" for k in picks]


def _apply_incident(frame: pd.DataFrame, scenario: ChurnScenario) -> pd.DataFrame:
    if scenario.incident == "charges_in_cents":
        cents = np.round(frame["monthly_charges"].to_numpy() * 100.0, 0)
        return frame.assign(monthly_charges=cents)
    if scenario.incident == "schema_break":
        return frame.rename(columns={"plan": "plan_tier"}).drop(columns=["days_since_last_login"])
    return frame


def _check_run(seed: int, rows: int) -> None:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if rows < MIN_ROWS_PER_DAY:
        raise ValueError(f"rows per day must be at least {MIN_ROWS_PER_DAY}, got {rows}")


def _text(values: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    text: np.ndarray = np.array(values, dtype=object)[codes]
    return text


def _day_frame(
    day_index: int,
    scenario: ChurnScenario,
    timeline: ScenarioTimeline,
    seed: int,
    start: datetime.date,
    rows: int,
) -> pd.DataFrame:
    f, churned = _features_and_labels(
        scenario, timeline.drift_weight(day_index), rows, seed, day_index
    )
    day = start + datetime.timedelta(days=day_index)
    id_prefix = f"snap-{day:%Y%m%d}-"  # unique across days, stable across seeds
    frame = pd.DataFrame(
        {
            "snapshot_id": [f"{id_prefix}{i:06d}" for i in range(rows)],
            "customer_id": _customer_ids(rows, seed, day_index),
            "snapshot_time": _times(day, rows, seed, day_index),
            "tenure_months": f["tenure_months"],
            "monthly_charges": f["monthly_charges"],
            "plan": _text(PLANS, f["plan"]),
            "contract_type": _text(CONTRACT_TYPES, f["contract"]),
            "months_to_renewal": f["months_to_renewal"],
            "payment_method": _text(PAYMENT_METHODS, f["payment"]),
            "support_tickets_30d": f["support_tickets_30d"],
            "usage_change_pct": f["usage_change_pct"],
            "days_since_last_login": f["days_since_last_login"],
            "region": _text(REGIONS, f["region"]),
            "age_band": _text(AGE_BANDS, f["age"]),
            "churned": _text(LABELS, churned.astype(np.int64)),
        },
        columns=list(COLUMNS),
    )
    if timeline.is_incident(day_index):
        frame = _apply_incident(frame, scenario)
    return frame


# --- public API ------------------------------------------------------------------------------


def generate_day(
    day_index: int,
    scenario: ChurnScenario,
    *,
    seed: int,
    days: int,
    start: datetime.date = DEFAULT_START,
    rows: int = DEFAULT_ROWS_PER_DAY,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> pd.DataFrame:
    """Generate one day of a churn scenario, independently of the other days.

    `days` is the length of the whole run: the default incident and onset days depend on it
    (see `scenario_timeline`). The day's date is `start + day_index`. Deterministic: the same
    arguments give an identical frame.

    Returns:
        `rows` customer snapshots sorted by snapshot time, columns as in the churn contract
        (except on a schema-break incident day, which is broken on purpose).

    Raises:
        ValueError: `day_index` outside the run, `days` < 1, `rows` < 50, a negative seed, or
            incident/onset days that do not fit the run.
    """
    timeline = build_timeline(scenario, days, incident_day, onset_day)
    if not 0 <= day_index < days:
        raise ValueError(
            f"day_index must be in [0, {days - 1}] for a {days}-day run, got {day_index}"
        )
    _check_run(seed, rows)
    return _day_frame(day_index, scenario, timeline, seed, start, rows)


def generate(
    scenario: str,
    days: int,
    seed: int,
    *,
    start: datetime.date = DEFAULT_START,
    rows_per_day: int = DEFAULT_ROWS_PER_DAY,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> Iterator[tuple[datetime.date, pd.DataFrame]]:
    """Generate a run of `days` consecutive daily batches of churn snapshots, lazily.

    Arguments are checked before the first batch is produced, so a bad call fails at once.

    Yields:
        `(date, frame)` for each day from `start`, as `generate_day` builds it.

    Raises:
        ValueError: Unknown scenario (the message lists the valid ones), `days` < 1,
            `rows_per_day` < 50, a negative seed, or incident/onset days that do not fit.
    """
    spec = get_scenario(scenario)
    timeline = build_timeline(spec, days, incident_day, onset_day)
    _check_run(seed, rows_per_day)

    def batches() -> Iterator[tuple[datetime.date, pd.DataFrame]]:
        for day_index in range(days):
            day = start + datetime.timedelta(days=day_index)
            yield day, _day_frame(day_index, spec, timeline, seed, start, rows_per_day)

    return batches()
