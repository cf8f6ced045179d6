"""Fixtures for the monitoring tests: the shipped contract, a second contract, references."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract, load_contract
from monitoring.config import MonitoringConfig
from tests.monitoring.frames import as_reference, churn_contract, make_churn_frame, make_frame

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="session")
def config() -> MonitoringConfig:
    """The defaults, except the minimum positives: the 3 % fraud frames below hold 30 to 45."""
    return MonitoringConfig(min_labelled_positives=20)


@pytest.fixture(scope="session")
def reference(contract: DatasetContract) -> pd.DataFrame:
    """A 7-day reference window of 3000 scored, labelled rows (over 1000: distance methods)."""
    return make_frame(contract, 3000, seed=1, days=7)


@pytest.fixture(scope="session")
def churn() -> DatasetContract:
    """Text labels, a 7-day label delay, score 'churn_probability', a non-feature segment."""
    return churn_contract()


@pytest.fixture(scope="session")
def churn_reference(churn: DatasetContract) -> pd.DataFrame:
    return as_reference(make_churn_frame(churn, 2000, seed=1, days=7), churn)
