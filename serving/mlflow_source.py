"""The MLflow adapter of the model store: which version the alias points to, and fetching it.

Uses an explicit :class:`~mlflow.MlflowClient` for the tracking URI it is given and never the
process-wide MLflow URIs, so a server and a training run in the same process cannot point each
other at the wrong store. A version is fetched by downloading its artifact folder once (the
version's download URI resolved by that client) and loading both the sklearn Pipeline and the
logged input example from the local copy. The Pipeline is loaded by
``features.model_io.load_trusted_pipeline`` (skops with the project's allowlist, never pickle or
MLflow's own loader); the input example is JSON. A refused version fails with a
:class:`ModelLoadError` whose message starts with "refused: untrusted serialization".
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from features.model_io import UntrustedModelError, load_trusted_pipeline
from serving.model_store import Candidate, ModelLoadError, SourceUnavailableError

logger = logging.getLogger(__name__)

_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def _without(message: str, folder: str) -> str:
    """``message`` with the temporary download folder left out (clients see swap reasons)."""
    for shown in {os.path.realpath(folder), folder}:
        message = message.replace(shown + os.sep, "").replace(shown, "<download>")
    return message


def _as_frame(example: Any) -> pd.DataFrame | None:
    if example is None or isinstance(example, pd.DataFrame):
        return example
    if isinstance(example, dict | list):
        return pd.DataFrame(example)
    raise ModelLoadError(f"the logged input example is a {type(example).__name__}, not a table")


class MlflowModelSource:
    """Reads ``models:/<model_name>@<alias>`` from one MLflow tracking/registry URI."""

    def __init__(self, tracking_uri: str, model_name: str, alias: str) -> None:
        self._tracking_uri = tracking_uri
        self._model_name = model_name
        self._alias = alias
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @property
    def model_name(self) -> str:
        """Registered model name."""
        return self._model_name

    def alias_version(self) -> str | None:
        """The version the alias points to; None when the model or the alias does not exist.

        Raises:
            SourceUnavailableError: Any other registry failure (store unreachable, ...).
        """
        try:
            version = self._client.get_model_version_by_alias(self._model_name, self._alias)
        except MlflowException as exc:
            missing = exc.error_code == "RESOURCE_DOES_NOT_EXIST" or (
                exc.error_code in _NOT_FOUND_CODES and "alias" in exc.message.lower()
            )
            if missing:
                return None
            raise SourceUnavailableError(
                f"cannot read alias '{self._alias}' of '{self._model_name}': {exc.message}"
            ) from exc
        except Exception as exc:  # network/database errors surface as many types
            raise SourceUnavailableError(
                f"cannot reach the registry at {self._tracking_uri}: {type(exc).__name__}: {exc}"
            ) from exc
        return str(version.version)

    def fetch(self, version: str) -> Candidate:
        """Download and load one version, its input example, tags and run metrics.

        Raises:
            ModelLoadError: The version, its artifacts or its model file cannot be loaded.
        """
        name = self._model_name
        with tempfile.TemporaryDirectory(prefix="serving-model-") as tmp:
            try:
                info = self._client.get_model_version(name, version)
                uri = self._client.get_model_version_download_uri(name, version)
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=tmp, tracking_uri=self._tracking_uri
                )
                model = load_trusted_pipeline(Path(local))
                # The example is JSON (``input_example.json``): reading it unpickles nothing.
                example = Model.load(local).load_input_example(local)
            except UntrustedModelError as exc:
                raise ModelLoadError(
                    f"{_without(str(exc), tmp)} ('{name}' version {version})"
                ) from None
            except ModelLoadError:
                raise
            except Exception as exc:
                message = exc.message if isinstance(exc, MlflowException) else str(exc)
                raise ModelLoadError(
                    f"cannot load '{name}' version {version}: {type(exc).__name__}: "
                    f"{_without(message, tmp)}"
                ) from exc
        run_id = str(info.run_id) if info.run_id else None
        return Candidate(
            version=str(info.version),
            model=model,
            input_example=_as_frame(example),
            tags=dict(info.tags or {}),
            metrics=self._run_metrics(run_id),
            run_id=run_id,
        )

    def _run_metrics(self, run_id: str | None) -> dict[str, float]:
        if run_id is None:
            return {}
        try:
            return {k: float(v) for k, v in self._client.get_run(run_id).data.metrics.items()}
        except Exception as exc:  # metrics are informative only: never block a swap on them
            logger.warning("cannot read metrics of run %s: %s", run_id, exc)
            return {}
