"""The shipping step: a loadable champion version in the given registry, with its metric."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from features.contract import DatasetContract

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

ALIAS = "champion"


def client_of(registry: str) -> MlflowClient:
    """A client of the registry (MLflow is imported only once ``ship`` has run)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=registry, registry_uri=registry)


@dataclass(frozen=True)
class Shipped:
    """What one ``ship`` returned, and the version the alias points to after it."""

    returned: object
    champion: ModelVersion


def champion_of(registry: str, contract: DatasetContract) -> ModelVersion:
    """The version the champion alias of the contract's model points to."""
    return client_of(registry).get_model_version_by_alias(contract.model_name, ALIAS)


@pytest.fixture(scope="session")
def first(production: ModuleType, registry: str, contract: DatasetContract) -> Shipped:
    """The first ``ship`` into an empty registry."""
    returned = production.ship(registry)
    return Shipped(returned, champion_of(registry, contract))


@pytest.fixture(scope="session")
def second(
    first: Shipped, production: ModuleType, registry: str, contract: DatasetContract
) -> Shipped:
    """A second ``ship`` into the same registry, now holding a champion."""
    returned = production.ship(registry)
    return Shipped(returned, champion_of(registry, contract))


def test_ship_leaves_a_version_with_the_champion_alias(first: Shipped) -> None:
    assert first.champion.version


def test_ship_returns_the_champion_version(first: Shipped) -> None:
    assert str(first.returned) == str(first.champion.version)


def test_the_champion_loads_and_scores_rows_of_the_contract_features(
    first: Shipped, registry: str, contract: DatasetContract, holdout: pd.DataFrame
) -> None:
    import mlflow

    mlflow.set_tracking_uri(registry)
    mlflow.set_registry_uri(registry)
    model = mlflow.pyfunc.load_model(f"models:/{contract.model_name}@{ALIAS}")
    rows = holdout.loc[:, list(contract.features)].head(20)
    assert len(model.predict(rows)) == len(rows)


def test_the_champion_version_records_its_holdout_metric(first: Shipped, registry: str) -> None:
    client = client_of(registry)
    version = first.champion
    run_metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    assert version.tags or run_metrics, "neither version tags nor run metrics"


def test_a_second_ship_keeps_a_champion(second: Shipped, registry: str) -> None:
    assert str(second.returned) == str(second.champion.version)
    client = client_of(registry)
    versions = client.search_model_versions(f"name='{second.champion.name}'")
    assert second.champion.version in {v.version for v in versions}
