"""Synthetic scored rows that follow a contract's columns and types, for two shapes of contract.

Built in code with numpy so the monitoring tests need no generator, no model and no files.

* ``make_frame`` follows the card-fraud contract (int 0/1 label, a label-available column).
  ``shift`` moves five of the ten features (amount, channel, country, distance, 24 h count),
  so a shifted window has a drift share of about 0.5; ``concept_drift`` makes the score ignore
  the label, so PR-AUC collapses while the features stay put. A contract that declares a
  ``region`` column (a segment that is not a feature) gets one.
* ``make_churn_frame`` follows ``CHURN_CONTRACT``: text labels ("no"/"yes"), a constant label
  delay, another score name, and ``region``, a segment the model never reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.contract import DatasetContract, parse_contract

#: A second, differently shaped contract: text label, label delay, non-feature segment.
CHURN_CONTRACT: dict[str, Any] = {
    "name": "churn_test",
    "id_column": "customer_id",
    "event_time_column": "snapshot_time",
    "label_column": "churned",
    "positive_label": "yes",
    "label_delay": "7d",
    "score_name": "churn_probability",
    "columns": {
        "customer_id": {"dtype": "string"},
        "snapshot_time": {"dtype": "datetime"},
        "tenure_months": {"dtype": "int", "min": 0, "max": 120},
        "monthly_charges": {"dtype": "float", "min": 0, "max": 500},
        "plan": {"dtype": "category", "categories": ["basic", "plus", "premium"]},
        "region": {
            "dtype": "category",
            "categories": ["north", "south"],
            "nullable": True,
            "description": "Watched, never fed to the model.",
        },
        "churned": {"dtype": "category", "categories": ["no", "yes"]},
    },
    "features": ["tenure_months", "monthly_charges", "plan"],
    "segments": ["plan", "region"],
    "costs": {"currency": "USD", "false_negative": 50.0, "false_positive": 5.0},
}


def churn_contract() -> DatasetContract:
    return parse_contract(CHURN_CONTRACT, source="tests/monitoring/frames.py")


def with_region_segment(contract: DatasetContract) -> DatasetContract:
    """``contract`` plus ``region``, a nullable category segment that is not a feature."""
    raw = contract.model_dump(mode="json")
    raw["columns"]["region"] = {
        "dtype": "category",
        "categories": ["north", "south"],
        "nullable": True,
    }
    raw["segments"] = [*raw["segments"], "region"]
    return parse_contract(raw, source="tests/monitoring/frames.py")


def _logistic(logit: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    probability: npt.NDArray[np.float64] = 1 / (1 + np.exp(-logit))
    return probability


def make_frame(
    contract: DatasetContract,
    n: int,
    *,
    seed: int,
    day: date = date(2026, 3, 1),
    days: int = 1,
    shift: float = 0.0,
    concept_drift: bool = False,
    id_prefix: str = "t",
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.03).astype("int64")
    start = datetime.combine(day, datetime.min.time())
    event_time = pd.to_datetime(start) + pd.to_timedelta(rng.uniform(0, 86_400 * days, n), "s")
    delay = pd.to_timedelta(rng.uniform(3, 10, n), "D")

    def cats(column: str, weights: Sequence[float]) -> np.ndarray:
        values = [str(v) for v in contract.columns[column].categories or ()]
        p = np.asarray(weights, dtype=float)
        return rng.choice(values, n, p=p / p.sum())

    channel_w = [0.4, 0.35, 0.25] if shift == 0 else [0.15, 0.2, 0.65]
    country_w = [30, 20, 15, 12, 8, 8, 4, 2, 1]
    if shift:
        country_w = [10, 10, 10, 10, 8, 8, 20, 14, 10]
    channel = cats("channel", channel_w)
    amount = rng.lognormal(3.5 + 1.5 * shift + 0.8 * label, 1.0, n).clip(0.5, 25_000)
    trust = np.where(channel == "card_present", np.nan, rng.beta(5 - 3 * label, 2, n))
    logit = -4.0 + (0.0 if concept_drift else 3.0 * label) + rng.normal(0, 1.0, n)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"{id_prefix}{seed}-{i}" for i in range(n)],
            "customer_id": [f"c{v}" for v in rng.integers(0, 5_000, n)],
            "event_time": event_time,
            "label_available_at": event_time + delay,
            "amount": amount,
            "merchant_category": cats("merchant_category", [20, 15, 15, 8, 8, 20, 6, 8]),
            "channel": channel,
            "country": cats("country", country_w),
            "customer_age": rng.integers(18, 90, n).astype("int64"),
            "account_age_days": rng.integers(0, 8_000, n).astype("int64"),
            "txn_count_1h": (rng.poisson(0.4, n) + 2 * label).astype("int64"),
            "txn_count_24h": rng.poisson(4 + 6 * shift, n).astype("int64"),
            "distance_from_home_km": rng.exponential(15 * (1 + 4 * shift), n).clip(0, 20_000),
            "device_trust_score": trust,
            "is_fraud": label,
        }
    )
    if "region" in contract.columns:
        frame["region"] = rng.choice(["north", "south"], n)
    frame[contract.score_name] = _logistic(logit)
    return frame


def make_churn_frame(
    contract: DatasetContract,
    n: int,
    *,
    seed: int,
    day: date = date(2026, 3, 1),
    days: int = 1,
    concept_drift_region: str | None = None,
) -> pd.DataFrame:
    """Rows of ``CHURN_CONTRACT``, label as text, about 20 % positive.

    ``concept_drift_region`` makes the score ignore the label in that region only, so that
    region's PR-AUC collapses while the other's holds: what only per-segment figures show.
    """
    rng = np.random.default_rng(seed)
    churned = rng.random(n) < 0.2
    start = datetime.combine(day, datetime.min.time())
    snapshot = pd.to_datetime(start) + pd.to_timedelta(rng.uniform(0, 86_400 * days, n), "s")
    region = rng.choice(np.array(["north", "south"], dtype=object), n)
    signal = 2.5 * churned
    if concept_drift_region is not None:
        signal = np.where(region == concept_drift_region, 0.0, signal)
    logit = -2.0 + signal + rng.normal(0, 1.0, n)
    return pd.DataFrame(
        {
            "customer_id": [f"k{seed}-{i}" for i in range(n)],
            "snapshot_time": snapshot,
            "tenure_months": rng.integers(0, 120, n).astype("int64"),
            "monthly_charges": rng.gamma(4.0, 15.0, n).clip(0, 500),
            "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2]),
            "region": region,
            "churned": np.where(churned, "yes", "no"),
            contract.score_name: _logistic(logit),
        }
    )


def as_reference(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """The frame as stored with a model: the label already 0/1 ``int64``."""
    labels = contract.binary_labels(frame[contract.label_column]).astype("int64")
    return frame.assign(**{contract.label_column: labels})


def day_list(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


def daily_traffic(
    contract: DatasetContract, start: date, days: int, rows: int = 400, first_seed: int = 10
) -> pd.DataFrame:
    """``rows`` scored rows a day for ``days`` days from ``start``, each day its own seed."""
    return pd.concat(
        [
            make_frame(contract, rows, seed=first_seed + i, day=d)
            for i, d in enumerate(day_list(start, days))
        ],
        ignore_index=True,
    )
