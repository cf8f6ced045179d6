"""Wiring between the project's settings and the serving app (which never sees the settings)."""

from __future__ import annotations

from features.contract import load_contract
from pipelines.settings import Settings
from serving.config import ServingConfig


def serving_config(settings: Settings, *, poll_seconds: float | None = None) -> ServingConfig:
    """The app's configuration: registry, contract, log folders, API key, alias polling."""
    return ServingConfig(
        tracking_uri=settings.resolved_tracking_uri,
        model_name=settings.model_name,
        contract=load_contract(settings.contract_path),
        predictions_dir=settings.paths.predictions,
        labels_dir=settings.paths.labels,
        api_key=settings.api_key.get_secret_value() if settings.api_key else None,
        poll_seconds=poll_seconds or settings.alias_poll_seconds,
    )
