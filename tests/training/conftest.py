"""Small frames built in code for the training tests: contract-shaped, with a learnable label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from features.contract import DatasetContract, load_contract

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
START = pd.Timestamp("2026-01-01")


@pytest.fixture(scope="package", autouse=True)
def _single_thread() -> Iterator[None]:
    """One OpenMP thread for the tree fits: on busy shared cores, more threads only contend."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


def make_transactions(
    days: int = 30, rows_per_day: int = 80, seed: int = 0, start: pd.Timestamp = START
) -> pd.DataFrame:
    """Transactions over ``days`` days whose fraud label depends on a few features.

    Labels mature 3-10 days after the event, independently of the label, like the real data.
    """
    rng = np.random.default_rng(seed)
    n = days * rows_per_day
    day = np.repeat(np.arange(days), rows_per_day)
    event = (
        start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
    )
    channel = rng.choice(["card_present", "contactless", "online"], n, p=[0.4, 0.3, 0.3])
    amount = np.clip(rng.lognormal(3.5, 1.0, n), 0.5, 25_000)
    txn_1h = rng.poisson(0.6, n)
    device = rng.uniform(0, 1, n)
    device[channel == "card_present"] = np.nan
    distance = rng.exponential(20.0, n)
    logit = (
        -4.5
        + 2.5 * (channel == "online")
        + 1.5 * np.log(amount / 30.0)
        + 1.5 * txn_1h
        - 4.0 * np.nan_to_num(device, nan=0.5)
        + 0.01 * distance
    )
    is_fraud = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    delay = pd.to_timedelta(rng.uniform(3.0, 10.0, n), unit="D")
    return pd.DataFrame(
        {
            "transaction_id": [f"t{seed}-{i:06d}" for i in range(n)],
            "customer_id": [f"c{i % 500:04d}" for i in range(n)],
            "event_time": event,
            "label_available_at": event + delay,
            "amount": amount,
            "merchant_category": rng.choice(
                ["grocery", "fuel", "restaurants", "travel", "electronics", "online_retail"], n
            ).astype(object),
            "channel": channel.astype(object),
            "country": rng.choice(["DE", "FR", "ES", "IT", "NL"], n).astype(object),
            "customer_age": rng.integers(18, 90, n).astype("int64"),
            "account_age_days": rng.integers(0, 10_000, n).astype("int64"),
            "txn_count_1h": txn_1h.astype("int64"),
            "txn_count_24h": (txn_1h + rng.poisson(3.0, n)).astype("int64"),
            "distance_from_home_km": distance,
            "device_trust_score": device,
            "is_fraud": is_fraud,
        }
    )


@pytest.fixture(scope="session")
def transactions() -> pd.DataFrame:
    return make_transactions()
