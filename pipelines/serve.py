"""Wiring between the project's settings and the serving app (which never sees the settings)."""

from __future__ import annotations

from features.contract import DatasetContract, load_contract
from pipelines.settings import Settings
from serving.config import ServingConfig


def serving_config(
    settings: Settings,
    contract: DatasetContract | None = None,
    *,
    poll_seconds: float | None = None,
) -> ServingConfig:
    """The app's configuration: registry, contract, log folders and the serving section.

    ``poll_seconds`` overrides the section's alias-polling period (the demo polls faster).
    """
    section = settings.serving
    if poll_seconds is not None:
        section = section.model_copy(update={"poll_seconds": poll_seconds})
    return ServingConfig(
        tracking_uri=settings.resolved_tracking_uri,
        contract=contract or load_contract(settings.contract),
        predictions_dir=settings.paths.predictions,
        labels_dir=settings.paths.labels,
        settings=section,
    )
