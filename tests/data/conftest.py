"""Shared fixtures for the data generator tests: the contract and a few generated runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data.generator import generate
from features.contract import DatasetContract, load_contract

REPO = Path(__file__).resolve().parents[2]
CONTRACT_PATH = REPO / "data" / "contracts" / "card_fraud.yaml"
SAMPLE_DIR = REPO / "data" / "sample"

Runs = dict[str, list[pd.DataFrame]]


def run(
    scenario: str, days: int, seed: int, rows_per_day: int = 1500, onset_day: int | None = None
) -> list[pd.DataFrame]:
    batches = generate(scenario, days, seed, rows_per_day=rows_per_day, onset_day=onset_day)
    return [frame for _, frame in batches]


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="session")
def none_run() -> list[pd.DataFrame]:
    """28 stationary days, seed 1."""
    return run("none", 28, 1)


@pytest.fixture(scope="session")
def drift_runs() -> Runs:
    """40-day runs (onset day 24, incident day 16) of every scenario, seed 1."""
    names = ["none", "covariate_shift", "concept_drift", "quality_incident", "schema_break"]
    return {name: run(name, 40, 1, onset_day=24) for name in [*names, "default"]}
