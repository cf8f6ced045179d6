"""Fixtures for the serving tests: a tiny model, a SQLite MLflow registry, configs, fakes.

The expensive parts (training, the MLflow store, one logged model) are built once per session.
Each test that touches the registry gets its OWN registered model name, whose versions are
registered from the already-logged model (cheap), so tests can move aliases freely.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from features.contract import DatasetContract, load_contract, parse_contract
from features.vocabulary import (
    CHAMPION,
    CODE_REVISION_TAG,
    CONTRACT_HASH_TAG,
    CUTOFF_TAG,
    HOLDOUT_END_TAG,
    HOLDOUT_START_TAG,
    THRESHOLD_TAG,
    TRAIN_END_TAG,
    TRAIN_START_TAG,
)
from serving.config import ServingConfig, ServingSettings
from serving.model_store import Candidate

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
THRESHOLD = 0.3
RUN_METRICS = {
    "pr_auc": 0.61,
    "roc_auc": 0.93,
    "brier": 0.03,
    "recall_at_fpr": 0.5,
    "threshold": THRESHOLD,
    "recall_at_threshold": 0.7,
    "precision_at_threshold": 0.4,
    "expected_cost_per_row": 1.9,
}


#: A second, differently shaped use case: integer ids, a text label known after a constant
#: delay, its own score name, and a segment ("region") that is not a feature.
SUBSCRIPTION_CONTRACT: dict[str, Any] = {
    "name": "subscription_renewal",
    "id_column": "account_id",
    "event_time_column": "snapshot_time",
    "label_column": "cancelled",
    "positive_label": "yes",
    "label_delay": "30d",
    "score_name": "cancel_score",
    "columns": {
        "account_id": {"dtype": "int"},
        "snapshot_time": {"dtype": "datetime"},
        "cancelled": {"dtype": "category", "categories": ["no", "yes"]},
        "tenure_months": {"dtype": "int", "min": 0, "max": 240},
        "monthly_fee": {"dtype": "float", "min": 0, "max": 500},
        "plan": {"dtype": "category", "categories": ["basic", "plus", "premium"]},
        "support_calls": {"dtype": "float", "min": 0, "max": 100, "nullable": True},
        "region": {"dtype": "category", "categories": ["north", "south", "east"]},
    },
    "features": ["tenure_months", "monthly_fee", "plan", "support_calls"],
    "segments": ["plan", "region"],
    "costs": {"currency": "USD", "false_negative": 50.0, "false_positive": 5.0},
}


@pytest.fixture(scope="session")
def contract() -> DatasetContract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture(scope="session")
def renewal_contract() -> DatasetContract:
    return parse_contract(SUBSCRIPTION_CONTRACT, source="tests/serving/conftest.py")


def contract_named(contract: DatasetContract, model_name: str) -> DatasetContract:
    """The contract with another registered model name (so each test can own a model)."""
    if model_name == contract.model_name:
        return contract
    return DatasetContract.model_validate({**contract.model_dump(), "model_name": model_name})


def synthetic_frame(contract: DatasetContract, n: int, seed: int) -> pd.DataFrame:
    """Rows following the contract (id, features, event time, 0/1 label drawn from features)."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {contract.id_column: [f"t{seed}-{i}" for i in range(n)]}
    for name in contract.features:
        spec = contract.columns[name]
        if spec.dtype in ("float", "int"):
            low = spec.min if spec.min is not None else 0.0
            high = spec.max if spec.max is not None else low + 100.0
            values = low + (high - low) * rng.beta(1.0, 12.0, n)
            if spec.dtype == "int":
                data[name] = np.round(values).astype("int64")
            else:
                column = values.astype("float64")
                if spec.nullable:
                    column[rng.random(n) < 0.3] = np.nan
                data[name] = column
        elif spec.categories:
            data[name] = rng.choice(np.array(spec.categories, dtype=object), n)
    frame = pd.DataFrame(data)
    first_num = contract.numeric_features[0]
    first_cat = contract.categorical_features[0]
    risky = frame[first_cat] == contract.columns[first_cat].categories[0]  # type: ignore[index]
    logit = -3.5 + 6 * (frame[first_num] > frame[first_num].quantile(0.8)) + 1.5 * risky
    frame[contract.label_column] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    frame[contract.event_time_column] = pd.Timestamp("2024-03-01") + pd.to_timedelta(
        rng.integers(0, 3 * 86400, n), unit="s"
    )
    return frame


def fit_pipeline(contract: DatasetContract, frame: pd.DataFrame) -> Pipeline:
    """ColumnTransformer (one-hot categories, numeric passthrough) + a small gradient boosting."""
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), contract.categorical_features)],
        remainder="passthrough",
    )
    pipe = Pipeline([("pre", pre), ("clf", HistGradientBoostingClassifier(max_iter=20))])
    pipe.fit(frame[list(contract.features)], frame[contract.label_column])
    return pipe


@pytest.fixture(scope="session")
def training_frame(contract: DatasetContract) -> pd.DataFrame:
    return synthetic_frame(contract, 900, seed=1)


@pytest.fixture(scope="session")
def pipeline(contract: DatasetContract, training_frame: pd.DataFrame) -> Pipeline:
    return fit_pipeline(contract, training_frame)


def version_tags(contract: DatasetContract, **overrides: str) -> dict[str, str]:
    """Tags the training stage puts on a version (registry conventions)."""
    tags = {
        THRESHOLD_TAG: str(THRESHOLD),
        CONTRACT_HASH_TAG: contract.content_hash(),
        TRAIN_START_TAG: "2024-01-01",
        TRAIN_END_TAG: "2024-01-28",
        HOLDOUT_START_TAG: "2024-01-29",
        HOLDOUT_END_TAG: "2024-02-04",
        CUTOFF_TAG: "2024-02-05T00:00:00",
        CODE_REVISION_TAG: "test",
    }
    tags.update(overrides)
    return tags


@dataclass
class Registry:
    """A SQLite MLflow store holding one logged model, and helpers to register it under names."""

    tracking_uri: str
    client: MlflowClient
    model_uri: str
    run_id: str
    contract: DatasetContract
    workdir: Path

    def register(self, name: str, source: str | None = None, **tag_overrides: str) -> str:
        """Register a new version of ``name`` (from the logged model unless ``source``).

        Its contract-hash tag is that of the contract renamed to ``name`` (see `make_config`).
        """
        try:
            self.client.get_registered_model(name)
        except mlflow.exceptions.MlflowException:
            self.client.create_registered_model(name)
        if source is None:
            source = self.client.get_model_version_download_uri(
                self.default_name, self.default_version
            )
        version = self.client.create_model_version(name, source=source, run_id=self.run_id)
        tags = version_tags(contract_named(self.contract, name), **tag_overrides)
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version.version), key, value)
        return str(version.version)

    def champion(self, name: str, version: str) -> None:
        self.client.set_registered_model_alias(name, CHAMPION, version)

    def corrupted_source(self) -> str:
        """A copy of the logged model folder whose model file is garbage."""
        source = self.client.get_model_version_download_uri(self.default_name, "1")
        target = self.workdir / f"corrupt-{uuid.uuid4().hex[:8]}"
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(target), tracking_uri=self.tracking_uri
        )
        for model_file in Path(local).glob("model.*"):
            model_file.write_bytes(b"this is not a model")
        return str(local)

    def missing_source(self) -> str:
        return str(self.workdir / f"missing-{uuid.uuid4().hex[:8]}")

    default_name: str = "logged"
    default_version: str = "1"


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    contract: DatasetContract,
    pipeline: Pipeline,
    training_frame: pd.DataFrame,
) -> Iterator[Registry]:
    workdir = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "serving-tests", artifact_location=(workdir / "artifacts").as_uri()
    )
    example = training_frame[list(contract.features)].head(5)
    try:
        with mlflow.start_run(experiment_id=experiment) as run, warnings.catch_warnings():
            # infer_signature's hint about int columns and missing values: not a test concern
            warnings.filterwarnings("ignore", message=".*Integer columns in Python cannot")
            mlflow.log_metrics(RUN_METRICS)
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                serialization_format="skops",
                skops_trusted_types=TRUSTED_TYPES,
                signature=infer_signature(example, pipeline.predict_proba(example)[:, 1]),
                input_example=example,
                registered_model_name="logged",
                pip_requirements=["scikit-learn"],
            )
        for key, value in version_tags(contract).items():
            client.set_model_version_tag("logged", "1", key, value)
        yield Registry(
            tracking_uri=uri,
            client=client,
            model_uri=str(info.model_uri),
            run_id=run.info.run_id,
            contract=contract,
            workdir=workdir,
        )
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


@pytest.fixture
def model_name(registry: Registry) -> str:
    """A fresh registered model name with version 1 as champion."""
    name = f"model-{uuid.uuid4().hex[:8]}"
    registry.champion(name, registry.register(name))
    return name


def make_config(
    tmp_path: Path,
    contract: DatasetContract,
    tracking_uri: str,
    model_name: str | None = None,
    **overrides: Any,
) -> ServingConfig:
    """A config serving ``contract`` (renamed to ``model_name`` if given), polling every 30 s.

    ``overrides`` may name `ServingSettings` fields (``api_key``, ``poll_seconds``, ...) and
    `ServingConfig` fields (``alias``).
    """
    settings = {"poll_seconds": 30.0}
    settings.update({k: v for k, v in overrides.items() if k in ServingSettings.model_fields})
    others = {k: v for k, v in overrides.items() if k not in ServingSettings.model_fields}
    return ServingConfig(
        tracking_uri=tracking_uri,
        contract=contract_named(contract, model_name) if model_name else contract,
        predictions_dir=tmp_path / "predictions",
        labels_dir=tmp_path / "labels",
        settings=ServingSettings.model_validate(settings),
        **others,
    )


def valid_item(
    contract: DatasetContract, row_id: str | int = "t-1", **changes: Any
) -> dict[str, Any]:
    """A request item that passes the schema (values inside every range); features only."""
    item: dict[str, Any] = {contract.id_column: row_id}
    for name in contract.features:
        spec = contract.columns[name]
        if spec.categories:
            item[name] = spec.categories[0]
        elif spec.dtype == "float":
            item[name] = float((spec.min or 0.0) + 1.0)
        elif spec.dtype == "int":
            item[name] = int((spec.min or 0) + 1)
    item.update(changes)
    return item


# ----------------------------------------------------------------------------- in-memory fakes


class RaisingModel:
    def predict_proba(self, frame: pd.DataFrame) -> Any:
        raise RuntimeError("boom: this model cannot predict")


class ConstantModel:
    """Returns a fixed column-1 probability (can be made invalid: NaN, 1.5, wrong length)."""

    def __init__(self, value: float, rows_delta: int = 0) -> None:
        self.value = value
        self.rows_delta = rows_delta

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        n = len(frame) + self.rows_delta
        return np.column_stack([np.full(n, 1 - self.value), np.full(n, self.value)])


class RecordingModel(ConstantModel):
    """A constant model that records the columns of every frame it is given."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.columns: list[list[str]] = []

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        self.columns.append([str(c) for c in frame.columns])
        return super().predict_proba(frame)


class GatedModel:
    """Wraps a model; when armed, each predict_proba signals entry then waits for release."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        if self.armed:
            self.entered.set()
            assert self.release.wait(20), "gated model was never released"
        return self.inner.predict_proba(frame)


@dataclass
class FakeSource:
    """An in-memory registry: ``alias`` is the champion version, ``versions`` what fetch returns."""

    contract: DatasetContract
    alias: str | None = None
    versions: dict[str, Candidate | Exception] = field(default_factory=dict)
    lookup_error: Exception | None = None
    fetched: list[str] = field(default_factory=list)

    @property
    def model_name(self) -> str:
        return self.contract.model_name

    def alias_version(self) -> str | None:
        if self.lookup_error is not None:
            raise self.lookup_error
        return self.alias

    def fetch(self, version: str) -> Candidate:
        self.fetched.append(version)
        entry = self.versions[version]
        if isinstance(entry, Exception):
            raise entry
        return entry

    def add(
        self,
        version: str,
        model: Any,
        example: pd.DataFrame | None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.versions[version] = Candidate(
            version=version,
            model=model,
            input_example=example,
            tags=dict(tags if tags is not None else version_tags(self.contract)),
            metrics=dict(RUN_METRICS),
            run_id=f"run-{version}",
        )


@pytest.fixture
def example_frame(contract: DatasetContract, training_frame: pd.DataFrame) -> pd.DataFrame:
    return training_frame[list(contract.features)].head(5).copy()


@pytest.fixture
def fake_source(contract: DatasetContract) -> FakeSource:
    return FakeSource(contract=contract)
