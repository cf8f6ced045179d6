"""What the server needs to know, as one frozen object built by the entry point and passed in.

The CLI builds a :class:`ServingConfig` from the project settings; tests build one directly.
Nothing in :mod:`serving` reads the environment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from features.contract import DatasetContract

DEFAULT_ALIAS = "champion"
DEFAULT_MAX_BATCH = 1000


class ServingConfigError(ValueError):
    """A serving setting is out of range; the message names the setting and the allowed range."""


@dataclass(frozen=True)
class ServingConfig:
    """Where the model comes from, where the logs go, and how the server guards and refreshes.

    Attributes:
        tracking_uri: MLflow tracking (and registry) URI, e.g. ``sqlite:///.../mlflow.db``.
        model_name: Registered model name; the server serves ``models:/<name>@<alias>``.
        contract: The dataset contract; request schemas and the model's input frame follow it.
        predictions_dir: Folder of the prediction log (one ``YYYY-MM-DD.jsonl`` per event date).
        labels_dir: Folder of the label log (``labels.jsonl``).
        api_key: If set, ``/v1/*`` and ``/metrics`` require the header ``X-API-Key`` with this
            value. Hidden from ``repr``.
        poll_seconds: Seconds between two lookups of the alias (hot swap latency).
        alias: Registry alias to serve.
        max_batch: Most transactions accepted in one ``POST /v1/predict``.
    """

    tracking_uri: str
    model_name: str
    contract: DatasetContract
    predictions_dir: Path
    labels_dir: Path
    api_key: str | None = field(default=None, repr=False)
    poll_seconds: float = 2.0
    alias: str = DEFAULT_ALIAS
    max_batch: int = DEFAULT_MAX_BATCH

    def __post_init__(self) -> None:
        if not self.tracking_uri:
            raise ServingConfigError("tracking_uri is empty: give the MLflow tracking URI")
        if not self.model_name:
            raise ServingConfigError("model_name is empty: give the registered model name")
        if not self.alias:
            raise ServingConfigError("alias is empty: give the registry alias to serve")
        if not (math.isfinite(self.poll_seconds) and self.poll_seconds > 0):
            raise ServingConfigError(
                f"poll_seconds must be a finite number > 0, got {self.poll_seconds!r}"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise ServingConfigError(
                "api_key is an empty string: set a real key, or None to disable authentication"
            )
        if not 1 <= self.max_batch <= 100_000:
            raise ServingConfigError(f"max_batch must be in [1, 100000], got {self.max_batch}")
