"""Fixtures of the prototype-production graders: the contract, seeded data, fitted models.

Every row comes from the candidate's copy of the project's generator, with seeds and days
the starter never names. Native thread pools are held to one thread: on a busy
machine the gradient-boosted trees otherwise spend their time fighting over cores.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before scikit-learn loads OpenMP

import copy
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from data.usecases import DEFAULT_USE_CASE, UseCase, use_case
from features.contract import DatasetContract, load_contract

threadpool_limits(limits=1)
ROWS_PER_DAY = 500
#: Length of every generated run; the built-in scenarios drift from day 20 (half of it).
RUN_DAYS = 40


@dataclass(frozen=True)
class Models:
    """Fitted models for the gate: a good one, one fitted on shuffled labels, a constant one."""

    good: Any
    good_copy: Any
    shuffled: Any
    constant: Any


@pytest.fixture(scope="session")
def production() -> ModuleType:
    """The candidate's ``production`` module."""
    return importlib.import_module("production")


@pytest.fixture(scope="session")
def case() -> UseCase:
    """The use case the prototype generates data for."""
    return use_case(DEFAULT_USE_CASE)


@pytest.fixture(scope="session")
def contract(case: UseCase) -> DatasetContract:
    """Its dataset contract."""
    return load_contract(case.contract_file)


#: Makes the given days of a generated run of a scenario and seed into one frame.
RunDays = Callable[[str, int, tuple[int, ...]], pd.DataFrame]


def run_days(case: UseCase, scenario: str, seed: int, days: tuple[int, ...]) -> pd.DataFrame:
    """The given days of a generated run of ``RUN_DAYS`` days, as one frame."""
    frames = [
        case.generate_day(d, scenario, seed=seed, days=RUN_DAYS, rows=ROWS_PER_DAY) for d in days
    ]
    return pd.concat(frames, ignore_index=True)


def features_of(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Only the contract's feature columns (what the policy is given)."""
    return frame.loc[:, list(contract.features)].copy()


def build_model(contract: DatasetContract, classifier: Any) -> Pipeline:
    """One-hot categories, then ``classifier``."""
    encoder = OneHotEncoder(handle_unknown="ignore")
    columns = ColumnTransformer(
        [("categories", encoder, contract.categorical_features)], remainder="passthrough"
    )
    return Pipeline([("features", columns), ("classifier", classifier)])


def binary(frame: pd.DataFrame, contract: DatasetContract) -> np.ndarray:
    """1 for the positive label, else 0."""
    return (frame[contract.label_column] == contract.positive).to_numpy().astype(int)


@pytest.fixture(scope="session")
def generate(case: UseCase) -> RunDays:
    """``run_days`` of the use case."""
    return functools.partial(run_days, case)


@pytest.fixture(scope="session")
def holdout(case: UseCase, contract: DatasetContract) -> pd.DataFrame:
    """Labelled rows of a run no model trained on: features and the label only."""
    frame = run_days(case, "none", 9302, tuple(range(6)))
    return frame.loc[:, [*contract.features, contract.label_column]].copy()


@pytest.fixture(scope="session")
def models(case: UseCase, contract: DatasetContract) -> Models:
    """The gate's contestants, fitted on one seeded run."""
    train = run_days(case, "none", 9301, tuple(range(12)))
    x, y = features_of(train, contract), binary(train, contract)
    good = build_model(contract, HistGradientBoostingClassifier(max_iter=40, random_state=0))
    good.fit(x, y)
    shuffled = build_model(contract, HistGradientBoostingClassifier(max_iter=40, random_state=0))
    shuffled.fit(x, np.random.default_rng(0).permutation(y))
    constant = build_model(contract, DummyClassifier(strategy="prior")).fit(x, y)
    return Models(good, copy.deepcopy(good), shuffled, constant)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tracking URI of an empty SQLite MLflow store in a temporary folder."""
    folder: Path = tmp_path_factory.mktemp("registry")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="session")
def design() -> str:
    """The candidate's DESIGN.md ("" when there is none), read from the repository."""
    path = Path.cwd() / "DESIGN.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""
