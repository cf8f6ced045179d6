"""A registry version whose model runs code when unpickled, for the model-loading trust tests.

:class:`Payload` looks like a classifier to MLflow (it has ``predict`` and ``predict_proba``),
but unpickling it calls ``pathlib.Path.touch(marker)``: if the marker file ever exists, some
code deserialized the artifact the way its own MLmodel asked (cloudpickle).
"""

from __future__ import annotations

import pathlib
import uuid
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient


class Payload:
    """A fake model whose unpickling creates ``marker`` (the stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def predict(self, frame: Any) -> Any:
        return np.zeros(len(frame))

    def predict_proba(self, frame: Any) -> Any:
        return np.column_stack([np.ones(len(frame)), np.zeros(len(frame))])

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (pathlib.Path.touch, (self.marker,))


def log_payload_model(client: MlflowClient, experiment_id: str, marker: Path) -> str:
    """Log a :class:`Payload` with ``serialization_format="cloudpickle"``; its download URI.

    Uses the fluent API, so MLflow's tracking URI must be the one ``client`` reads. No input
    example is logged: MLflow would validate it by loading the model, i.e. run the payload.
    The model is registered under a fresh name; register the returned URI as a version of any
    other model (e.g. ``Registry.register(name, source=uri)``).
    """
    name = f"payload-{uuid.uuid4().hex[:8]}"
    with mlflow.start_run(experiment_id=experiment_id), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(pickle|cloudpickle).*")
        info = mlflow.sklearn.log_model(
            Payload(marker),
            name="model",
            serialization_format="cloudpickle",
            registered_model_name=name,
            pip_requirements=["scikit-learn"],
        )
    assert not marker.exists(), "logging the payload must not run it"
    return str(client.get_model_version_download_uri(name, str(info.registered_model_version)))
