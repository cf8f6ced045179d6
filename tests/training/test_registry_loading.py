"""`registry.load_pipeline` loads skops versions and refuses any other serialization unrun."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from features.model_io import REFUSED, SKOPS_TRUSTED_TYPES, UntrustedModelError
from tests.untrusted import log_payload_model
from training import registry


@dataclass(frozen=True)
class Store:
    client: MlflowClient
    experiment_id: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A SQLite MLflow store that MLflow's fluent API points at (restored afterwards)."""
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    client = registry.connect(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        yield Store(client, registry.ensure_experiment(client, "loading", tmp_path / "artifacts"))
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def test_load_pipeline_loads_a_skops_version(store: Store) -> None:
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    pipe.fit(x, (x["a"] > 9).astype(int))
    with mlflow.start_run(experiment_id=store.experiment_id):
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            registered_model_name="good",
            pip_requirements=registry.pip_requirements(),
        )
    loaded = registry.load_pipeline("good", str(info.registered_model_version))
    assert isinstance(loaded, Pipeline), "a skops version loads as a Pipeline"
    assert np.array_equal(loaded.predict_proba(x), pipe.predict_proba(x)), "same scores"


def test_load_pipeline_refuses_a_cloudpickle_version(store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = log_payload_model(store.client, store.experiment_id, marker)
    store.client.create_registered_model("challenger-model")
    version = store.client.create_model_version("challenger-model", source=source).version
    with pytest.raises(UntrustedModelError) as caught:
        registry.load_pipeline("challenger-model", str(version))
    assert str(caught.value).startswith(REFUSED), str(caught.value)
    assert "cloudpickle" in str(caught.value), "names what the version declared"
    assert not marker.exists(), "the payload never ran"


def test_load_pipeline_of_a_missing_version_is_a_registry_error(store: Store) -> None:
    with pytest.raises(registry.RegistryError, match="cannot load model 'nothing' version 3"):
        registry.load_pipeline("nothing", "3")
