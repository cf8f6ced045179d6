"""Small frames built in code for the training tests: contract-shaped, with a learnable label.

Two contracts: the card-fraud one from ``data/contracts`` (an int label with a label-available
column), and a churn-like one built here (a text label ``"no"``/``"yes"``, a constant label
delay, and a segment that is not a feature), so the training layer is tested on both shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from features.contract import DatasetContract, load_contract, parse_contract
from training.candidate import Candidate, train_candidate
from training.config import TrainingConfig

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
START = pd.Timestamp("2026-01-01")

CHURN_CUTOFF = pd.Timestamp("2026-02-10")
CHURN_CONFIG = TrainingConfig(train_days=21, holdout_days=3, min_holdout_positives=40)

CHURN: dict[str, object] = {
    "name": "churn",
    "description": "One row per subscriber and week; churned says whether they left.",
    "id_column": "row_id",
    "event_time_column": "snapshot_at",
    "label_column": "churned",
    "positive_label": "yes",
    "label_delay": "7d",
    "score_name": "churn_score",
    "columns": {
        "row_id": {"dtype": "string"},
        "snapshot_at": {"dtype": "datetime"},
        "tenure_months": {"dtype": "int", "min": 0, "max": 240},
        "monthly_charges": {"dtype": "float", "min": 0, "max": 500},
        "support_calls": {"dtype": "int", "min": 0, "max": 50},
        "plan": {"dtype": "category", "categories": ["basic", "plus", "premium"]},
        "gender": {"dtype": "category", "categories": ["f", "m", "x"]},
        "churned": {"dtype": "category", "categories": ["no", "yes"]},
    },
    "features": ["tenure_months", "monthly_charges", "support_calls", "plan"],
    "segments": ["plan", "gender"],
    "costs": {"currency": "USD", "false_negative": 50.0, "false_positive": 5.0},
    "model": {"max_iter": 40, "max_leaf_nodes": 8},
}


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


@pytest.fixture(scope="session")
def churn_contract() -> DatasetContract:
    return parse_contract(CHURN, source="churn (test)")


def make_churn(
    days: int = 40, rows_per_day: int = 40, seed: int = 0, start: pd.Timestamp = START
) -> pd.DataFrame:
    """Weekly snapshots of subscribers, about 20 % churning; labels are ``"yes"``/``"no"``.

    ``gender`` is a segment the model never reads; the label does not depend on it.
    """
    rng = np.random.default_rng(seed)
    n = days * rows_per_day
    day = np.repeat(np.arange(days), rows_per_day)
    event = (
        start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
    )
    tenure = rng.integers(0, 120, n)
    charges = rng.uniform(10, 150, n)
    calls = rng.poisson(1.5, n)
    plan = rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])
    logit = -1.2 - 0.03 * tenure + 0.012 * charges + 0.5 * calls - 0.8 * (plan == "premium")
    churned = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return pd.DataFrame(
        {
            "row_id": [f"s{seed}-{i:06d}" for i in range(n)],
            "snapshot_at": event,
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": charges,
            "support_calls": calls.astype("int64"),
            "plan": plan.astype(object),
            "gender": rng.choice(["f", "m", "x"], n, p=[0.48, 0.48, 0.04]).astype(object),
            "churned": np.where(churned, "yes", "no").astype(object),
        }
    )


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    return make_churn()


@pytest.fixture(scope="session")
def churn_candidate(churn: pd.DataFrame, churn_contract: DatasetContract) -> Candidate:
    """A candidate trained on the text-label churn frame, labels read at `CHURN_CUTOFF`."""
    return train_candidate(churn, churn_contract, CHURN_CUTOFF, CHURN_CONFIG)
