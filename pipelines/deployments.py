"""The flows a Prefect worker runs for a team, and the deployments that schedule them.

``lifecycle deploy`` registers these against a Prefect server (``PREFECT_API_URL``) in a
``process`` work pool; ``prefect worker start --pool POOL`` then runs them. A deployed flow takes
plain JSON parameters (a day, a flag) and builds the settings in the worker's process, from its
environment (``LIFECYCLE_HOME``, ``LIFECYCLE_TRACKING_URI``, ``LIFECYCLE_CONTRACT``, a
``LIFECYCLE_CONFIG`` file...): the worker's environment says which stores the flows use, so the
same deployments serve a laptop and a team's servers.

========  ==============================================  ==========================
name      what one run does                               schedule
========  ==============================================  ==========================
daily     ingest a landing file or folder (optional),     every day (``--cron``)
          validate pending batches, then monitor the
          last logged day; a retrain verdict runs train
          and the promotion gate as subflows
retrain   train a challenger, then the promotion gate     none: run by hand
score     batch-score a file or folder on Dask            none: run with parameters
========  ==============================================  ==========================

Deployments read the code from this checkout (``flow.from_source`` on its folder), so the worker
must see the same folder: the same machine, or the same image in compose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.deployments.runner import RunnerDeployment

from pipelines.settings import REPO_ROOT, Settings, load_settings

DEFAULT_POOL = "lifecycle"
DAILY_CRON = "0 6 * * *"


def worker_settings() -> Settings:
    """The settings of a deployed run: the worker's environment and config file, no flags."""
    return load_settings()


@flow(name="daily")
def daily_flow(
    day: date | None = None, retrain: bool = True, ingest_from: str | None = None
) -> dict[str, Any]:
    """Ingest what landed, validate it, then monitor ``day`` (default: the last logged day).

    ``ingest_from`` is a CSV or Parquet file or folder (a landing folder) brought in first, as
    ``lifecycle ingest`` does: all or nothing, and content already ingested changes nothing.
    Returns the outcome as plain values (what the Prefect UI shows as the run's result). A day
    with no predictions logged yet is not a failure: the run says so and monitors nothing.
    """
    from pipelines.flows import validate_flow
    from pipelines.monitor import grow_window, logged_rows_by_day, monitor_flow
    from pipelines.serve import log_store

    settings = worker_settings()
    outcome: dict[str, Any] = {}
    if ingest_from is not None:
        outcome["ingested"] = ingest_landed(settings, Path(ingest_from))
    outcomes = validate_flow(settings)
    outcome.update(
        validated=[o.batch_id for o in outcomes if o.success],
        blocked=[o.batch_id for o in outcomes if not o.success],
    )
    logs = log_store(settings)
    try:
        rows_by_day = logged_rows_by_day(logs)
    finally:
        logs.close()
    today = datetime.now(UTC).date()
    target = day or max((d for d in rows_by_day if d <= today), default=None)
    if target is None or target not in rows_by_day:
        outcome["monitor"] = f"no predictions logged for {target or 'any day'}"
        return outcome
    bounds, _ = grow_window(
        rows_by_day,
        target,
        settings.monitoring.min_window_rows,
        settings.monitoring.performance_days,
    )
    result = monitor_flow(settings, bounds, retrain=retrain)
    outcome.update(
        window=result.output.summary.window_id,
        drift_share=result.output.summary.drift_share,
        verdict=result.decision.verdict,
        reason=result.decision.reason,
    )
    if result.retrained is not None:
        outcome["trained_version"] = result.retrained.version
    if result.promotion is not None:
        outcome["promotion"] = f"{result.promotion.verdict}: {result.promotion.reason}"
    return outcome


@task(cache_policy=NO_CACHE)
def ingest_landed(settings: Settings, source: Path) -> str:
    """Bring ``source`` in as raw batches; the ingest report's one-line summary.

    Raises:
        IngestError: Rows were rejected (nothing is written; they are saved with a report).
    """
    from features.contract import load_contract
    from pipelines.ingest import ingest

    report = ingest(
        source, load_contract(settings.contract), settings.paths.raw, settings.paths.ingest
    )
    return report.summary()


@flow(name="retrain")
def retrain_flow(cutoff: datetime | None = None) -> dict[str, Any]:
    """Train a challenger on the labels known at ``cutoff`` (default: now), then gate it."""
    from pipelines.flows import promote_flow, train_flow

    settings = worker_settings()
    trained = train_flow(settings, cutoff=cutoff)
    decision = promote_flow(settings, trained.version)
    return {
        "trained_version": trained.version,
        "promotion": f"{decision.verdict}: {decision.reason}",
    }


@flow(name="score")
def score_flow(
    source: str, output: str, version: str | None = None, workers: int = 1
) -> dict[str, Any]:
    """Batch-score ``source`` (a Parquet or CSV file or folder) into ``output``.

    The same run as ``lifecycle score``; on the Dask scheduler of ``dask_address`` when set,
    else a local cluster of ``workers``. Paths are the worker's.
    """
    from features.contract import load_contract
    from pipelines.scoring import run_batch_scoring

    settings = worker_settings()
    result = run_batch_scoring(
        settings,
        load_contract(settings.contract),
        Path(source),
        Path(output),
        version=version,
        workers=workers,
    )
    return {
        "model_version": result.model.version,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_rejected": len(result.rejected),
        "manifest": str(result.manifest),
    }


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: its flow's function name in this module, a schedule, a description."""

    name: str
    function: str
    cron: str | None
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


def deployment_specs(
    daily_cron: str | None = DAILY_CRON, ingest_from: str | None = None
) -> list[DeploymentSpec]:
    """The project's deployments; ``daily_cron`` None leaves the daily one unscheduled.

    ``ingest_from`` (a landing file or folder, as the worker sees it) becomes the daily run's
    default ``ingest_from`` parameter.
    """
    return [
        DeploymentSpec(
            "daily",
            "daily_flow",
            daily_cron,
            "Ingest what landed, validate pending batches, monitor the last logged day, "
            "retrain when the policy says.",
            {"ingest_from": ingest_from} if ingest_from else {},
        ),
        DeploymentSpec(
            "retrain", "retrain_flow", None, "Train a challenger, then run the promotion gate."
        ),
        DeploymentSpec(
            "score",
            "score_flow",
            None,
            "Batch-score a Parquet or CSV file or folder (parameters source, output) on Dask.",
        ),
    ]


def ensure_process_pool(name: str) -> bool:
    """Create the ``process`` work pool ``name`` unless it exists; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(name=name, type="process", base_job_template=template)
            )
        except ObjectAlreadyExists:
            return False
    return True


def deploy(specs: Sequence[DeploymentSpec], pool: str, source: Path = REPO_ROOT) -> dict[str, UUID]:
    """Register each deployment in ``pool`` (created if missing); the ids by deployment name.

    Re-running updates the deployments in place (Prefect keys them by flow and name).
    """
    ensure_process_pool(pool)
    ids: dict[str, UUID] = {}
    for spec in specs:
        # Sync-compatible calls: awaitable only inside an event loop, which this is not.
        # `to_deployment().apply()` rather than `deploy()`: Prefect 3.8.8's deploy() asks the
        # server for the pool's workers with a body its own server refuses (HTTP 422).
        loaded = cast(
            "Flow[..., Any]",
            flow.from_source(
                source=str(source), entrypoint=f"pipelines/deployments.py:{spec.function}"
            ),
        )
        deployment = cast(
            "RunnerDeployment",
            loaded.to_deployment(
                name=spec.name,
                cron=spec.cron,
                description=spec.description,
                parameters=spec.parameters,
                work_pool_name=pool,
            ),
        )
        ids[spec.name] = cast(UUID, deployment.apply(work_pool_name=pool))
    return ids
