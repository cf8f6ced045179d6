"""Fixtures for the monitoring tests: the shipped contract and a contract-shaped reference."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract, load_contract
from tests.monitoring.frames import make_frame

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="session")
def reference(contract: DatasetContract) -> pd.DataFrame:
    """A 7-day reference window of 3000 scored, labelled rows (over 1000: distance methods)."""
    return make_frame(contract, 3000, seed=1, days=7)
