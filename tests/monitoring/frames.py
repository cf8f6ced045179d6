"""Synthetic scored transactions that follow the contract's columns and types.

Built in code with numpy so the monitoring tests need no generator, no model and no files.
``shift`` moves five of the ten features (amount, channel, country, distance, 24 h count), so a
shifted window has a drift share of about 0.5; ``concept_drift`` makes the score ignore the
label, so PR-AUC collapses while the features stay put.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from features.contract import DatasetContract


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
    frame["score"] = 1 / (1 + np.exp(-logit))
    return frame


def day_list(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]
