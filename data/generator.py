"""Seeded synthetic card-transaction data with named drift scenarios.

Each day is generated on its own from `(seed, day_index)`, so any day can be regenerated alone
and the same arguments always give the same frame. Every feature draws from its own random
stream, so a scenario that changes one feature's distribution leaves the other features' draws
untouched: before its onset (or off its incident day) a scenario's days equal scenario `none`'s.

How a day is built:

1. The population. Channel mix, merchant category given the channel, merchant country (mostly
   domestic EU, a foreign tail), log-normal amounts by category, customer and account age,
   correlated 1-hour / 24-hour transaction counts, distance from home (mostly small, heavy
   tail) and a device trust score (NaN for card-present payments). A few percent of rows are
   suspicious: their risk signals come together, as in account takeovers. A smaller share are
   card-testing-like (tiny amounts in bursts at grocery/fuel/pharmacy terminals).
2. The label. A latent fraud score combines several features (online, low device trust, far
   from home, new account, unusually high amount, risky category, online bursts, risky
   countries) plus an unobserved component; `is_fraud` is drawn from it, then a little label
   noise is added (unreported fraud, mislabelled chargebacks). No single feature decides it.
3. The scenario. Covariate shift moves the population but keeps the score function; concept
   drift changes the score function (card testing becomes fraud, the old pattern fades) and
   raises the share of card-testing-like rows; prior shift draws a larger pool of the day and
   keeps its frauds and legitimate rows in new proportions (`data.scenarios.prior_shift_sample`);
   a gradual drift moves every drifted parameter linearly over its ramp
   (`data.scenarios.interpolate`); incidents corrupt one day after the fact.

`customer_id` is drawn from a fixed pool with a skewed activity; it is an identifier, and the
per-row attributes are not tied to it.

Run `python -m data.generator --write-sample` to regenerate the committed sample under
`data/sample/`.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from data.batches import BatchExistsError, WrittenBatch, write_batches
from data.scenarios import (
    PRIOR_SHIFT_FACTOR,
    SCENARIOS,
    Scenario,
    ScenarioTimeline,
    build_timeline,
    get_scenario,
    interpolate,
    prior_shift_pool_rows,
    prior_shift_sample,
    scenario_names,
    scenario_timeline,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_ROWS_PER_DAY",
    "DEFAULT_START",
    "MIN_ROWS_PER_DAY",
    "SCENARIOS",
    "BatchExistsError",
    "Scenario",
    "ScenarioTimeline",
    "WrittenBatch",
    "generate",
    "generate_day",
    "scenario_names",
    "scenario_timeline",
    "write_batches",
    "write_sample",
]

DEFAULT_START: Final = datetime.date(2026, 1, 1)
DEFAULT_ROWS_PER_DAY: Final = 1000  # the demo's volume: `make demo` stays under 3 minutes
MIN_ROWS_PER_DAY: Final = 50

#: Output columns, in the dataset contract's order.
COLUMNS: Final = (
    "transaction_id",
    "customer_id",
    "event_time",
    "label_available_at",
    "amount",
    "merchant_category",
    "channel",
    "country",
    "customer_age",
    "account_age_days",
    "txn_count_1h",
    "txn_count_24h",
    "distance_from_home_km",
    "device_trust_score",
    "is_fraud",
)

CHANNELS: Final = ("card_present", "contactless", "online")
CATEGORIES: Final = (
    "grocery",
    "fuel",
    "restaurants",
    "travel",
    "electronics",
    "online_retail",
    "gaming",
    "pharmacy",
)
COUNTRIES: Final = ("DE", "FR", "ES", "IT", "NL", "GB", "US", "BR", "NG")

AMOUNT_MIN: Final = 0.5
AMOUNT_MAX: Final = 25_000.0
DISTANCE_MAX_KM: Final = 20_000.0
CUSTOMER_POOL: Final = 20_000

# --- the population ------------------------------------------------------------------------

# P(category | channel); rows follow CATEGORIES, columns follow CHANNELS.
_CATEGORY_GIVEN_CHANNEL: Final = np.array(
    [
        # card_present, contactless, online
        [0.30, 0.38, 0.04],  # grocery
        [0.17, 0.12, 0.00],  # fuel
        [0.15, 0.28, 0.04],  # restaurants
        [0.05, 0.01, 0.16],  # travel
        [0.10, 0.03, 0.18],  # electronics
        [0.05, 0.02, 0.40],  # online_retail
        [0.02, 0.01, 0.14],  # gaming
        [0.16, 0.15, 0.04],  # pharmacy
    ]
)
# Median amount (EUR) and log-sd by category, in CATEGORIES order.
_AMOUNT_MEDIAN: Final = np.array([30.0, 55.0, 35.0, 400.0, 250.0, 60.0, 25.0, 20.0])
_AMOUNT_SIGMA: Final = np.array([0.65, 0.45, 0.60, 0.85, 0.90, 0.85, 0.90, 0.60])
# Country of a domestic and of a cross-border payment, in COUNTRIES order.
_DOMESTIC_COUNTRY_P: Final = np.array([0.36, 0.22, 0.16, 0.14, 0.12, 0, 0, 0, 0])
_FOREIGN_COUNTRY_P: Final = np.array([0.08, 0.10, 0.14, 0.10, 0.05, 0.18, 0.22, 0.07, 0.06])
# Typical distance (km) of a physical payment made in that country by a travelling customer.
_FOREIGN_DISTANCE_KM: Final = np.array(
    [700.0, 800.0, 1200.0, 1000.0, 600.0, 900.0, 7000.0, 9500.0, 5500.0]
)
# Relative risk of the merchant country in the fraud score, in COUNTRIES order.
_COUNTRY_RISK: Final = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.5, 1.0, 1.3])
# Relative risk of the merchant category in the fraud score, in CATEGORIES order.
_CATEGORY_RISK: Final = np.array([-0.6, -0.4, -0.4, 0.6, 0.8, 0.2, 0.9, -0.6])
# Hour-of-day profile of card activity (UTC), normalised below.
_HOURLY_WEIGHT: Final = np.array(
    [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 11, 12, 11, 10, 10, 10, 11, 12, 12, 10, 8, 5, 3],
    dtype=float,
)
_RISKY_CATEGORIES: Final = np.array(
    [CATEGORIES.index(c) for c in ("travel", "electronics", "online_retail", "gaming")]
)
_SUSPICIOUS_CHANNEL_P: Final = np.array([0.10, 0.15, 0.75])
_CARD_TESTING_CATEGORIES: Final = np.array(
    [CATEGORIES.index("grocery"), CATEGORIES.index("fuel"), CATEGORIES.index("pharmacy")]
)


@dataclass(frozen=True)
class _Population:
    """Distribution parameters of one day's transactions (before any label)."""

    channel_p: tuple[float, float, float]
    abroad_rate: tuple[float, float, float]  # by channel
    age_mean: float
    amount_log_shift: float
    card_testing_share: float
    suspicious_share: float


_BASE_POPULATION: Final = _Population(
    channel_p=(0.45, 0.30, 0.25),
    abroad_rate=(0.05, 0.04, 0.18),
    age_mean=47.0,
    amount_log_shift=0.0,
    card_testing_share=0.004,
    suspicious_share=0.045,
)
_SHIFT_CHANNEL_P: Final = (0.35, 0.30, 0.35)
_SHIFT_ABROAD_FACTOR: Final = 1.5
_SHIFT_AGE_MEAN: Final = 38.0
_SHIFT_AMOUNT_LOG: Final = 0.2
_DRIFT_CARD_TESTING_SHARE: Final = 0.05

# --- the fraud score -----------------------------------------------------------------------


@dataclass(frozen=True)
class _FraudPattern:
    """Weights of the latent fraud score (a logit)."""

    intercept: float
    online: float
    contactless: float
    low_trust: float
    far_from_home: float
    new_account: float
    high_amount: float
    category: float
    online_burst: float
    country: float
    card_testing: float
    latent_sd: float


_PATTERN_BEFORE: Final = _FraudPattern(
    intercept=-7.8,
    online=1.3,
    contactless=0.2,
    low_trust=6.5,
    far_from_home=1.5,
    new_account=2.0,
    high_amount=1.2,
    category=1.3,
    online_burst=0.8,
    country=1.5,
    card_testing=0.0,
    latent_sd=1.0,
)
# After concept drift: the old pattern fades (its odds fall by ~60 %) and card testing at
# terminals (tiny grocery/fuel/pharmacy amounts in bursts) becomes fraud.
_PATTERN_AFTER: Final = replace(_PATTERN_BEFORE, intercept=-8.7, card_testing=8.0)
_MISSED_FRAUD_RATE: Final = 0.06  # fraud never reported: labelled 0
_FALSE_CHARGEBACK_RATE: Final = 0.004  # legitimate but charged back ("friendly fraud"): 1

_LABEL_DELAY_MIN_S: Final = 3 * 86_400
_LABEL_DELAY_MAX_S: Final = 10 * 86_400

# One independent random stream per concern, so changing one distribution leaves the others.
_STREAMS: Final = (
    "time",
    "customer",
    "component",
    "channel",
    "category",
    "country",
    "amount",
    "age",
    "account",
    "counts",
    "distance",
    "trust",
    "fraud",
    "noise",
    "delay",
    "prior",  # new streams go at the end: an index change would change later streams' draws
)


def _rng(seed: int, day_index: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, day_index, _STREAMS.index(stream)])


def _sample_index(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `p` (rows are probability vectors)."""
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random((p.shape[0], 1))
    index: np.ndarray = np.minimum((u > cumulative).sum(axis=1), p.shape[1] - 1)
    return index


# --- one day, step by step -----------------------------------------------------------------


def _population_for(scenario: Scenario, weight: float) -> _Population:
    """The day's population: `weight` of the way from the base to the scenario's drifted one."""
    base = _BASE_POPULATION
    if weight == 0.0 or not (scenario.covariate_shift or scenario.concept_drift):
        return base
    channel_p = _SHIFT_CHANNEL_P if scenario.covariate_shift else base.channel_p
    abroad = (
        tuple(min(1.0, r * _SHIFT_ABROAD_FACTOR) for r in base.abroad_rate)
        if scenario.covariate_shift
        else base.abroad_rate
    )
    drifted = _Population(
        channel_p=channel_p,
        abroad_rate=(abroad[0], abroad[1], abroad[2]),
        age_mean=_SHIFT_AGE_MEAN if scenario.covariate_shift else base.age_mean,
        amount_log_shift=_SHIFT_AMOUNT_LOG if scenario.covariate_shift else 0.0,
        card_testing_share=(
            _DRIFT_CARD_TESTING_SHARE if scenario.concept_drift else base.card_testing_share
        ),
        suspicious_share=base.suspicious_share,
    )
    return interpolate(base, drifted, weight)


def _features(pop: _Population, n: int, seed: int, day_index: int) -> dict[str, np.ndarray]:
    """Draw one day's feature columns (no ids, no times, no label).

    Three kinds of rows share each column's draws: ordinary shoppers; a suspicious minority
    whose risk signals tend to come together (new device, remote, new account, high amount in
    risky categories, foreign, online bursts), as they do in account takeovers; and
    card-testing-like rows (tiny amounts in bursts at grocery/fuel/pharmacy terminals).
    The label is decided later, from the features alone.
    """
    rng = _rng(seed, day_index, "component")
    testing = rng.random(n) < pop.card_testing_share
    suspicious = (rng.random(n) < pop.suspicious_share) & ~testing

    rng = _rng(seed, day_index, "channel")
    channel = _sample_index(rng, np.tile(np.array(pop.channel_p), (n, 1)))
    suspicious_channel = _sample_index(rng, np.tile(_SUSPICIOUS_CHANNEL_P, (n, 1)))
    testing_channel = np.where(rng.random(n) < 0.6, 1, 0)  # contactless or card_present
    channel = np.where(suspicious, suspicious_channel, channel)
    channel = np.where(testing, testing_channel, channel)
    online = channel == 2
    physical = ~online

    rng = _rng(seed, day_index, "category")
    category = _sample_index(rng, _CATEGORY_GIVEN_CHANNEL[:, channel].T)
    risky_category = _RISKY_CATEGORIES[rng.integers(0, len(_RISKY_CATEGORIES), n)]
    testing_category = _CARD_TESTING_CATEGORIES[rng.integers(0, 3, n)]
    category = np.where(suspicious & (rng.random(n) < 0.6), risky_category, category)
    category = np.where(testing, testing_category, category)

    rng = _rng(seed, day_index, "country")
    abroad_rate = np.array(pop.abroad_rate)[channel]
    abroad_rate = np.where(category == CATEGORIES.index("travel"), abroad_rate * 3.0, abroad_rate)
    abroad_rate = np.where(suspicious, abroad_rate + 0.25, abroad_rate)
    abroad = (rng.random(n) < np.minimum(abroad_rate, 0.9)) & ~testing
    domestic_country = _sample_index(rng, np.tile(_DOMESTIC_COUNTRY_P, (n, 1)))
    foreign_country = _sample_index(rng, np.tile(_FOREIGN_COUNTRY_P, (n, 1)))
    country = np.where(abroad, foreign_country, domestic_country)

    rng = _rng(seed, day_index, "amount")
    log_amount = (
        np.log(_AMOUNT_MEDIAN[category])
        + pop.amount_log_shift
        + 0.6 * suspicious
        + _AMOUNT_SIGMA[category] * rng.standard_normal(n)
    )
    testing_amount = np.exp(np.log(2.5) + 0.7 * rng.standard_normal(n))
    amount = np.where(testing, testing_amount, np.exp(log_amount))
    amount = np.round(np.clip(amount, AMOUNT_MIN, AMOUNT_MAX), 2)

    rng = _rng(seed, day_index, "age")
    age = np.clip(np.round(pop.age_mean + 16.0 * rng.standard_normal(n)), 18, 95).astype(np.int64)

    rng = _rng(seed, day_index, "account")
    new_account = rng.random(n) < np.where(suspicious, 0.3, 0.05)
    established = np.exp(np.log(1500.0) + 0.9 * rng.standard_normal(n))
    fresh = rng.integers(0, 90, n).astype(float)
    older = np.exp(np.log(2500.0) + 0.5 * rng.standard_normal(n))
    account_age = np.where(new_account, fresh, established)
    account_age = np.where(testing, older, account_age)
    account_age = np.minimum(account_age, (age - 18) * 365 + 30)
    account_age_days = np.clip(np.round(account_age), 0, 25_000).astype(np.int64)

    rng = _rng(seed, day_index, "counts")
    # Negative binomial 24-hour activity; the last hour is a thinned share of it.
    count_24h = rng.negative_binomial(2, 2 / (2 + 3.5), n)
    count_1h = rng.binomial(count_24h, 0.12)
    extra_1h = rng.poisson(1.5, n) * suspicious
    burst_1h = 4 + rng.poisson(9.0, n)
    burst_24h = burst_1h + rng.poisson(8.0, n)
    count_1h = np.where(testing, burst_1h, count_1h + extra_1h)
    count_24h = np.where(testing, burst_24h, count_24h + extra_1h)
    count_1h = np.clip(count_1h, 0, 200).astype(np.int64)
    count_24h = np.clip(np.maximum(count_24h, count_1h), 0, 1000).astype(np.int64)

    rng = _rng(seed, day_index, "distance")
    near = np.exp(np.log(6.0) + 1.1 * rng.standard_normal(n))
    travelling = np.exp(np.log(_FOREIGN_DISTANCE_KM[country]) + 0.4 * rng.standard_normal(n))
    # Online payments are made from the customer's device; a remote device is a risk signal.
    remote_device = rng.random(n) < np.where(suspicious, 0.35, 0.03)
    remote = np.exp(np.log(600.0) + 1.2 * rng.standard_normal(n))
    distance = np.where(physical & abroad, travelling, near)
    distance = np.where(online & remote_device, remote, distance)
    distance = np.where(testing, near * 0.5, distance)
    distance = np.round(np.clip(distance, 0.0, DISTANCE_MAX_KM), 2)

    rng = _rng(seed, day_index, "trust")
    usual_device = rng.beta(6.0, 2.0, n)
    new_device = rng.beta(1.5, 4.0, n)
    new_device_rate = np.where(suspicious, 0.6, np.where(online, 0.08, 0.03))
    is_new_device = (rng.random(n) < new_device_rate) | (online & remote_device)
    trust = np.where(is_new_device, new_device, usual_device)
    trust = np.where(channel == 0, np.nan, np.round(trust, 3))

    return {
        "amount": amount,
        "category": category,
        "channel": channel,
        "country": country,
        "customer_age": age,
        "account_age_days": account_age_days,
        "txn_count_1h": count_1h,
        "txn_count_24h": count_24h,
        "distance_from_home_km": distance,
        "device_trust_score": trust,
    }


def _fraud_logit(f: dict[str, np.ndarray], w: _FraudPattern) -> np.ndarray:
    """The latent fraud score (without its unobserved component) of each row."""
    channel = f["channel"]
    online = channel == 2
    trust = np.nan_to_num(f["device_trust_score"], nan=1.0)
    category = f["category"]
    amount = f["amount"]
    relative_amount = np.log(amount / _AMOUNT_MEDIAN[category])
    card_testing = (
        (channel != 2)
        & np.isin(category, _CARD_TESTING_CATEGORIES)
        & (amount < 12.0)
        & (f["txn_count_1h"] >= 4)
    )
    logit: np.ndarray = (
        w.intercept
        + w.online * online
        + w.contactless * (channel == 1)
        + w.low_trust * np.clip(0.7 - trust, 0.0, None)
        + w.far_from_home * np.clip(np.log10(1.0 + f["distance_from_home_km"]) - 1.5, 0.0, 3.0)
        + w.new_account * (f["account_age_days"] < 90)
        + w.high_amount * np.clip(relative_amount, -1.0, 3.0)
        + w.category * _CATEGORY_RISK[category]
        + w.online_burst * online * np.clip(f["txn_count_1h"] - 1, 0, 6)
        + w.country * _COUNTRY_RISK[f["country"]]
        + w.card_testing * card_testing * (0.5 + 0.05 * np.clip(f["txn_count_1h"], 0, 20))
    )
    return logit


def _pattern_for(scenario: Scenario, weight: float) -> _FraudPattern:
    """The day's fraud score: `weight` of the way to the drifted one under concept drift."""
    if not scenario.concept_drift:
        return _PATTERN_BEFORE
    return interpolate(_PATTERN_BEFORE, _PATTERN_AFTER, weight)


def _features_and_labels(
    scenario: Scenario, weight: float, rows: int, seed: int, day_index: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The day's feature columns and fraud labels, the scenario's drift applied at `weight`."""
    population = _population_for(scenario, weight)
    pattern = _pattern_for(scenario, weight)
    if not (scenario.prior_shift and weight > 0.0):
        features = _features(population, rows, seed, day_index)
        return features, _labels(features, pattern, seed, day_index)
    factor = 1.0 + (PRIOR_SHIFT_FACTOR - 1.0) * weight
    pool = _features(population, prior_shift_pool_rows(rows, factor), seed, day_index)
    pool_labels = _labels(pool, pattern, seed, day_index)
    chosen = prior_shift_sample(pool_labels, rows, factor, _rng(seed, day_index, "prior"))
    return {name: column[chosen] for name, column in pool.items()}, pool_labels[chosen]


def _labels(f: dict[str, np.ndarray], w: _FraudPattern, seed: int, day_index: int) -> np.ndarray:
    n = f["amount"].shape[0]
    rng = _rng(seed, day_index, "fraud")
    logit = _fraud_logit(f, w) + w.latent_sd * rng.standard_normal(n)
    fraud = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    rng = _rng(seed, day_index, "noise")
    missed = rng.random(n) < _MISSED_FRAUD_RATE
    false_chargeback = rng.random(n) < _FALSE_CHARGEBACK_RATE
    return np.where(fraud, ~missed, false_chargeback).astype(np.int64)


def _times(day: datetime.date, n: int, seed: int, day_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted event times over the day and their label-availability times (tz-naive UTC)."""
    rng = _rng(seed, day_index, "time")
    hour = rng.choice(24, size=n, p=_HOURLY_WEIGHT / _HOURLY_WEIGHT.sum())
    seconds = np.sort(hour * 3600 + rng.integers(0, 3600, n))
    midnight = np.datetime64(day.isoformat(), "ns")
    event_time = midnight + seconds.astype("timedelta64[s]").astype("timedelta64[ns]")
    delay = _rng(seed, day_index, "delay").integers(_LABEL_DELAY_MIN_S, _LABEL_DELAY_MAX_S + 1, n)
    return event_time, event_time + delay.astype("timedelta64[s]").astype("timedelta64[ns]")


def _customer_ids(n: int, seed: int, day_index: int) -> list[str]:
    # Squaring a uniform skews activity: low ids are frequent shoppers, high ids occasional.
    u = _rng(seed, day_index, "customer").random(n)
    return [f"c-{k:06d}" for k in (u * u * CUSTOMER_POOL).astype(np.int64)]


def _apply_incident(frame: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    if scenario.incident == "amount_in_cents":
        return frame.assign(amount=np.round(frame["amount"].to_numpy() * 100.0, 0))
    if scenario.incident == "schema_break":
        return frame.rename(columns={"merchant_category": "mcc_category"}).drop(
            columns=["device_trust_score"]
        )
    return frame


def _check_run(seed: int, rows: int) -> None:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if rows < MIN_ROWS_PER_DAY:
        raise ValueError(f"rows per day must be at least {MIN_ROWS_PER_DAY}, got {rows}")


def _day_frame(
    day_index: int,
    scenario: Scenario,
    timeline: ScenarioTimeline,
    seed: int,
    start: datetime.date,
    rows: int,
) -> pd.DataFrame:
    weight = timeline.drift_weight(day_index)
    features, is_fraud = _features_and_labels(scenario, weight, rows, seed, day_index)
    day = start + datetime.timedelta(days=day_index)
    event_time, label_available_at = _times(day, rows, seed, day_index)
    id_prefix = f"tx-{day:%Y%m%d}-"  # unique across days, stable across seeds
    frame = pd.DataFrame(
        {
            "transaction_id": [f"{id_prefix}{i:06d}" for i in range(rows)],
            "customer_id": _customer_ids(rows, seed, day_index),
            "event_time": event_time,
            "label_available_at": label_available_at,
            "amount": features["amount"],
            "merchant_category": np.array(CATEGORIES, dtype=object)[features["category"]],
            "channel": np.array(CHANNELS, dtype=object)[features["channel"]],
            "country": np.array(COUNTRIES, dtype=object)[features["country"]],
            "customer_age": features["customer_age"],
            "account_age_days": features["account_age_days"],
            "txn_count_1h": features["txn_count_1h"],
            "txn_count_24h": features["txn_count_24h"],
            "distance_from_home_km": features["distance_from_home_km"],
            "device_trust_score": features["device_trust_score"],
            "is_fraud": is_fraud,
        },
        columns=list(COLUMNS),
    )
    if timeline.is_incident(day_index):
        frame = _apply_incident(frame, scenario)
    return frame


# --- public API ----------------------------------------------------------------------------


def generate_day(
    day_index: int,
    scenario: Scenario,
    *,
    seed: int,
    days: int,
    start: datetime.date = DEFAULT_START,
    rows: int = DEFAULT_ROWS_PER_DAY,
    incident_day: int | None = None,
    onset_day: int | None = None,
) -> pd.DataFrame:
    """Generate one day of a scenario, independently of the other days.

    `days` is the length of the whole run: the default incident and onset days depend on it
    (see `scenario_timeline`). The day's date is `start + day_index`. Deterministic: the same
    arguments give an identical frame.

    Returns:
        `rows` transactions sorted by event time, columns as in the dataset contract (except on
        a schema-break incident day, which is broken on purpose).

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
    """Generate a run of `days` consecutive daily batches, lazily.

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


# --- the committed sample ------------------------------------------------------------------

SAMPLE_SEED: Final = 7
SAMPLE_DAYS: Final = 3
SAMPLE_ROWS: Final = 300


def sample_batches() -> dict[str, list[tuple[datetime.date, pd.DataFrame]]]:
    """The committed sample, by sub-folder: three clean days and the two broken days.

    `clean` is scenario `none` (seed 7, 3 days of 300 rows); `quality_incident` and
    `schema_break` hold only their incident day (day 1, 2026-01-02) from the same call with
    that scenario, so each bad day is the clean day 1 with its defect.
    """
    clean = list(generate("none", SAMPLE_DAYS, SAMPLE_SEED, rows_per_day=SAMPLE_ROWS))
    sample: dict[str, list[tuple[datetime.date, pd.DataFrame]]] = {"clean": clean}
    for name in ("quality_incident", "schema_break"):
        incident = scenario_timeline(name, SAMPLE_DAYS).incident_day
        day_batches = generate(name, SAMPLE_DAYS, SAMPLE_SEED, rows_per_day=SAMPLE_ROWS)
        sample[name] = [batch for i, batch in enumerate(day_batches) if i == incident]
    return sample


def write_sample(out_dir: Path) -> list[WrittenBatch]:
    """(Re)write the committed sample under `out_dir`, replacing older sample files.

    The sample is a test fixture, not a raw batch store: regenerating it after a generator
    change replaces the previous files (only the files this function writes).
    """
    written: list[WrittenBatch] = []
    for folder, batches in sample_batches().items():
        target = out_dir / folder
        for day, _ in batches:
            (target / f"{day:%Y-%m-%d}.parquet").unlink(missing_ok=True)
        written.extend(write_batches(batches, target))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: `python -m data.generator --write-sample [--out DIR]`."""
    parser = argparse.ArgumentParser(
        prog="python -m data.generator",
        description="Maintenance commands of the synthetic data generator. To generate a run, "
        "use `lifecycle generate`.",
    )
    parser.add_argument(
        "--write-sample",
        action="store_true",
        help="regenerate the committed sample (three clean days and two broken days)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "sample",
        help="sample folder (default: the sample folder next to this module)",
    )
    args = parser.parse_args(argv)
    if not args.write_sample:
        parser.print_help()
        return 2
    for batch in write_sample(args.out):
        print(f"{batch.status:9} {batch.path} ({batch.rows} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
