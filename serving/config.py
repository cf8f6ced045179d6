"""What the server needs to know: its section of the settings tree, and the runtime object.

:class:`ServingSettings` is the ``serving`` section of the project's settings tree (where the
server listens, its API key, how often it polls the alias, the batch limits); each of its
defaults is defined here and nowhere else. :class:`ServingConfig` is what the app is built from:
that section plus the registry, the dataset contract and the log folders. The CLI builds it from
the project settings; tests build one directly. Nothing in :mod:`serving` reads the environment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from features.contract import DatasetContract
from features.vocabulary import CHAMPION


class ServingSettings(BaseModel):
    """The server's section of the settings tree: where it listens and how it guards and polls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(default="127.0.0.1", description="Interface to bind.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to bind.")
    api_key: SecretStr | None = Field(
        default=None, description="If set, /v1/* and /metrics require it in X-API-Key."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Server processes sharing the port (`lifecycle serve --workers` overrides it). Each "
            "loads, smoke-tests and polls the champion itself and scores on one core at most; "
            "/metrics sums them all and they share the prediction log."
        ),
    )
    access_log: bool = Field(
        default=False,
        description=(
            "Print uvicorn's line per HTTP request. Off by default: every scored row is already "
            "in the prediction log with its request id, and /metrics counts requests by route "
            "and status. The line costs ~0.1 ms of the event loop per request: 2,460 against "
            "2,045 req/s at 8 connections, p50 0.86 against 0.95 ms at 1 (wrk, 2-core machine)."
        ),
    )
    poll_seconds: float = Field(
        default=2.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds between two lookups of the champion alias.",
    )
    max_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Most rows accepted in one predict request."
    )
    max_batch_rows: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description=(
            "Most rows scored in one model call when concurrent requests are batched (whole "
            "requests only: a larger request is scored alone). Measured on the demo "
            "champion, one thread: frame + predict_proba take 4.0 ms for 1 row, 4.7 for 64, "
            "6.8 for 256 and 9.6 for 512, so at 256 rows the per-row cost reaches the fixed "
            "cost; the fast path takes 0.14, 1.3, 3.1 and 5.3 ms, so a batch of 256 rows "
            "keeps the wait behind one call near 3 ms."
        ),
    )
    max_wait_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        allow_inf_nan=False,
        description=(
            "Under load only: how long a batch may wait for more rows, counted from its oldest "
            "request's arrival (the running call included); a request that finds the model "
            "idle is scored at once. Requests answered by one call come back while the next "
            "runs; 2 ms lets them join it: at 8 connections 6.7 rows per call instead of 4.1 "
            "and 580 req/s instead of 368 (0 ms), no change at 1 connection, and within the "
            "noise at 64 (benchmarks/serving.py --variant, shared 2-core machine)."
        ),
    )
    max_queue_rows: int = Field(
        default=1024,
        ge=1,
        description=(
            "Rows that may wait for the model; a request that would queue more gets 503 with "
            "Retry-After (a request that finds the queue empty is always taken). 1024 rows = 4 "
            "full batches, at most about 12 ms of waiting with the fast path (30 ms through "
            "the Pipeline); 64 connections of single rows never reach it."
        ),
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest request body accepted, in bytes (2 MiB: about 2 KB per row of a full "
            "batch); a larger one is refused with 413 before it is parsed."
        ),
    )
    max_event_time_future: dt.timedelta = Field(
        default=dt.timedelta(days=7),
        ge=dt.timedelta(0),
        description=(
            "How far after the app's clock an event time (or a label's availability time) may "
            "lie; a later one is refused with 422."
        ),
    )
    max_event_time_past: dt.timedelta = Field(
        default=dt.timedelta(days=400),
        ge=dt.timedelta(0),
        description=(
            "How far before the app's clock an event time (or a label's availability time) may "
            "lie; an earlier one is refused with 422. A replay of older data widens it, or "
            "gives the app a clock that follows the replay."
        ),
    )
    remembered_scored_ids: int = Field(
        default=1_000_000,
        ge=0,
        description=(
            "How many of the most recently scored ids the process remembers, to tell how many "
            "posted labels match a scored row (`matched` in the labels answer)."
        ),
    )

    @field_validator("api_key")
    @classmethod
    def _no_blank_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(
                "api_key is an empty string: set a real key, or leave it unset to disable "
                "authentication"
            )
        return value

    def api_key_value(self) -> str | None:
        """The API key as plain text (None when authentication is off)."""
        return self.api_key.get_secret_value() if self.api_key is not None else None


class ServingConfigError(ValueError):
    """A serving setting is missing or out of range; the message names it and what to give."""


@dataclass(frozen=True)
class ServingConfig:
    """Where the model comes from, where the logs go, and the server's settings section.

    Attributes:
        tracking_uri: MLflow tracking (and registry) URI, e.g. ``sqlite:///.../mlflow.db``.
        contract: The dataset contract: the request and response schemas, the model's input
            frame and the log records follow it, and it names the registered model.
        predictions_dir: Folder of the prediction log (one ``YYYY-MM-DD.jsonl`` per event date).
        labels_dir: Folder of the label log (``labels.jsonl``).
        settings: The ``serving`` section of the settings tree (API key, polling, batch limit).
        alias: Registry alias to serve.
    """

    tracking_uri: str
    contract: DatasetContract
    predictions_dir: Path
    labels_dir: Path
    settings: ServingSettings
    alias: str = CHAMPION

    def __post_init__(self) -> None:
        if not self.tracking_uri:
            raise ServingConfigError("tracking_uri is empty: give the MLflow tracking URI")
        if not self.alias:
            raise ServingConfigError("alias is empty: give the registry alias to serve")

    @property
    def model_name(self) -> str:
        """Registered model name (the contract's); the server serves ``models:/<name>@<alias>``."""
        return self.contract.model_name
