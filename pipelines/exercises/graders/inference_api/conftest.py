"""Fixtures of the inference-api graders: a small seeded model served from memory.

The candidate's app is built with ``create_app(config, source=...)`` and driven in-process by
FastAPI's TestClient (lifespan included). The source hands out one trained pipeline under any
version number, tagged with a threshold and the contract's hash as the registry would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from features.contract import ColumnSpec, DatasetContract, load_contract
from features.vocabulary import CONTRACT_HASH_TAG, THRESHOLD_TAG

THRESHOLD = 0.3
VERSION = "3"
SEED = 20240301


def contract_under_test() -> DatasetContract:
    """The contract the candidate's project serves by default."""
    from pipelines.settings import DEFAULT_CONTRACT

    return load_contract(DEFAULT_CONTRACT)


def feature_value(spec: ColumnSpec, rng: np.random.Generator) -> Any:
    """A random value of one feature inside the contract's bounds (JSON-ready)."""
    if spec.categories:
        return str(rng.choice(np.array(spec.categories, dtype=object)))
    low = float(spec.min) if spec.min is not None else 0.0
    high = float(spec.max) if spec.max is not None else low + 100.0
    value = low + (high - low) * float(rng.beta(1.0, 8.0))
    return round(value) if spec.dtype == "int" else round(value, 3)


def random_rows(contract: DatasetContract, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` valid request rows (id and features) drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {contract.id_column: row_id(contract, seed * 1000 + i)}
        for name in contract.features:
            row[name] = feature_value(contract.columns[name], rng)
        rows.append(row)
    return rows


def row_id(contract: DatasetContract, number: int) -> str | int:
    """An id of the contract's id type."""
    return number if contract.columns[contract.id_column].dtype == "int" else f"r-{number}"


def train(contract: DatasetContract) -> tuple[Pipeline, pd.DataFrame]:
    """A small gradient boosting pipeline on seeded rows, and its input example."""
    frame = pd.DataFrame(random_rows(contract, 600, SEED))[list(contract.features)]
    rng = np.random.default_rng(SEED)
    first = contract.numeric_features[0]
    logit = -2.0 + 4.0 * (frame[first] > frame[first].median()) + rng.normal(0, 1, len(frame))
    labels = (logit > 0).astype("int64")
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), contract.categorical_features)],
        remainder="passthrough",
    )
    model = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=15))])
    model.fit(frame, labels)
    return model, frame.head(5).copy()


@dataclass
class MemorySource:
    """Hands out the trained model under whichever version the alias names."""

    contract: DatasetContract
    model: Pipeline
    example: pd.DataFrame
    alias: str | None

    @property
    def model_name(self) -> str:
        """Registered model name (the contract's)."""
        return self.contract.model_name

    def alias_version(self) -> str | None:
        """The version the alias points to (None: no model yet)."""
        return self.alias

    def fetch(self, version: str) -> Any:
        """The model as a registry candidate, tagged as the training stage tags it."""
        from serving.model_store import Candidate

        return Candidate(
            version=version,
            model=self.model,
            input_example=self.example,
            tags={THRESHOLD_TAG: str(THRESHOLD), CONTRACT_HASH_TAG: self.contract.content_hash()},
            metrics={"pr_auc": 0.5},
            run_id=f"run-{version}",
        )


@dataclass
class Kit:
    """What a grader test needs: the contract, the model, rows, and a running app."""

    contract: DatasetContract
    model: Pipeline
    example: pd.DataFrame
    workdir: Path

    def rows(self, n: int, seed: int = 1) -> list[dict[str, Any]]:
        """``n`` valid rows drawn with ``seed``."""
        return random_rows(self.contract, n, seed)

    def row(self, **changes: Any) -> dict[str, Any]:
        """One valid row, with ``changes`` applied."""
        return {**self.rows(1, seed=7)[0], **changes}

    def scores(self, rows: list[dict[str, Any]]) -> list[float]:
        """The model's positive-class probabilities of ``rows``."""
        frame = pd.DataFrame(rows)[list(self.contract.features)]
        return [float(p) for p in self.model.predict_proba(frame)[:, 1]]

    @contextmanager
    def client(self, alias: str | None = VERSION) -> Iterator[TestClient]:
        """The candidate's app serving version ``alias`` (None: no model), started."""
        from serving.app import create_app
        from serving.config import ServingConfig, ServingSettings

        config = ServingConfig(
            tracking_uri=f"sqlite:///{self.workdir / 'unused.db'}",
            contract=self.contract,
            predictions_dir=self.workdir / "predictions",
            labels_dir=self.workdir / "labels",
            settings=ServingSettings(poll_seconds=30.0),
        )
        source = MemorySource(self.contract, self.model, self.example, alias)
        app = create_app(config, source=source)
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client


@pytest.fixture(scope="session")
def trained() -> tuple[DatasetContract, Pipeline, pd.DataFrame]:
    """The contract and the model trained on it (once per grading run)."""
    contract = contract_under_test()
    model, example = train(contract)
    return contract, model, example


@pytest.fixture
def kit(trained: tuple[DatasetContract, Pipeline, pd.DataFrame], tmp_path: Path) -> Kit:
    """A kit writing its logs under this test's folder."""
    contract, model, example = trained
    return Kit(contract, model, example, tmp_path)


@pytest.fixture
def client(kit: Kit) -> Iterator[TestClient]:
    """The candidate's app serving version :data:`VERSION`."""
    with kit.client() as test_client:
        yield test_client
