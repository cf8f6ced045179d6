"""The monitoring flow: evaluate one window, let the policy decide, retrain and gate if told to.

The policy (``monitoring.policy.decide_retraining``) is a pure function over the window
summaries on disk; this flow only gathers its inputs, records its verdict in the audit log and,
when the verdict is "retrain", runs the training flow on the most recent labelled data and then
the promotion gate. A server polling the champion alias picks up a promoted model by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from features.contract import DatasetContract, load_contract
from monitoring.policy import RetrainDecision, RetrainPolicy, decide_retraining
from monitoring.window import MonitorOutput, monitor_window, read_summaries
from pipelines.audit import append_decision, decision_record, read_decisions
from pipelines.flows import (
    STORAGE_RETRIES,
    PipelineError,
    TrainResult,
    promote_flow,
    train_flow,
)
from pipelines.settings import Settings
from training import registry
from training.gate import PromotionDecision

REFERENCE_FIGURES = ("pr_auc", "recall_at_threshold", "expected_cost_per_txn")


@dataclass(frozen=True)
class ChampionReference:
    """What a window is compared with: the champion's holdout rows and training-time figures."""

    version: str
    threshold: float
    frame: pd.DataFrame
    performance: dict[str, float]


@dataclass(frozen=True)
class MonitorResult:
    """One window's findings, the policy's verdict and, if it retrained, what came of it."""

    output: MonitorOutput
    decision: RetrainDecision
    champion_version: str
    retrained: TrainResult | None = None
    promotion: PromotionDecision | None = None


def retrain_policy(settings: Settings) -> RetrainPolicy:
    """The retraining thresholds in force."""
    return RetrainPolicy(
        drift_windows_to_retrain=settings.drift_windows_to_retrain,
        performance_drop_to_retrain=settings.performance_drop_to_retrain,
        cooldown_windows=settings.retrain_cooldown_windows,
        min_labelled_rows=settings.min_labelled_rows,
        drift_share_threshold=settings.drift_share_threshold,
    )


def last_retrain_window(settings: Settings) -> str | None:
    """The window of the most recent retrain actually run, from the audit log (None if never)."""
    retrains = [r for r in read_decisions(settings.paths.audit_log, {"retrain"}) if r.get("acted")]
    return str(retrains[-1]["window_id"]) if retrains else None


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def champion_reference(
    settings: Settings, cache: dict[str, ChampionReference] | None = None
) -> ChampionReference:
    """Load the champion's reference window and figures from the registry.

    ``cache`` (version -> reference) lets a long-running caller skip the artifact download
    while the champion stays the same.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    name = settings.model_name
    version = registry.alias_version(client, name, registry.CHAMPION)
    if version is None:
        raise PipelineError(
            f"model '{name}' has no champion to monitor: run `lifecycle train` and "
            "`lifecycle promote` first"
        )
    if cache is not None and version in cache:
        return cache[version]
    run_id = registry.version_run_id(client, name, version)
    metrics = client.get_run(run_id).data.metrics
    reference = ChampionReference(
        version=version,
        threshold=float(registry.version_tags(client, name, version)["threshold"]),
        frame=registry.load_reference(client, run_id),
        performance={k: float(metrics[k]) for k in REFERENCE_FIGURES if k in metrics},
    )
    if cache is not None:
        cache[version] = reference
    return reference


@task(cache_policy=NO_CACHE)
def evaluate_window(
    settings: Settings, contract: DatasetContract, window: date, champion: ChampionReference
) -> MonitorOutput:
    """Drift, quality and matured-label performance of one day of predictions."""
    paths = settings.paths
    return monitor_window(
        champion.frame,
        contract,
        predictions_dir=paths.predictions,
        labels_dir=paths.labels,
        monitoring_dir=paths.monitoring,
        window=window,
        threshold=champion.threshold,
        drift_share_threshold=settings.drift_share_threshold,
        reference_performance=champion.performance or None,
        performance_days=settings.performance_days,
        min_labelled_rows=settings.min_labelled_rows,
        write_html=settings.write_html,
        performance_report=window.toordinal() % settings.performance_report_every_days == 0,
    )


@task(cache_policy=NO_CACHE)
def decide(settings: Settings, champion_version: str, act: bool) -> RetrainDecision:
    """Run the pure policy over every window summary and record its verdict.

    ``act`` says whether a "retrain" verdict will be acted on; only acted-on retrains start a
    cool-down.
    """
    decision = decide_retraining(
        read_summaries(settings.paths.monitoring),
        retrain_policy(settings),
        last_retrain_window=last_retrain_window(settings),
    )
    append_decision(
        settings.paths.audit_log,
        decision_record(
            decision.verdict,
            decision.reason,
            subject={
                "window_id": decision.window_id,
                "trigger": decision.trigger,
                "champion_version": champion_version,
                "in_cooldown": decision.in_cooldown,
                "acted": act and decision.verdict == "retrain",
            },
            numbers=decision.numbers,
        ),
    )
    return decision


def end_of_day(day: date) -> datetime:
    """The last instant of ``day``: what "now" is when the day's window is closed."""
    return datetime.combine(day + timedelta(days=1), time.min)


def monitor_day(
    settings: Settings,
    contract: DatasetContract,
    window: date,
    *,
    retrain: bool,
    cache: dict[str, ChampionReference] | None = None,
) -> MonitorResult:
    """Monitor one day; when the policy says so (and ``retrain``), retrain and gate.

    Runs inside a flow (the monitor flow, or the demo's): its steps are Prefect tasks and the
    retrain is the train flow then the promote flow, as subflows.
    """
    champion = champion_reference(settings, cache)
    output = evaluate_window(settings, contract, window, champion)
    decision = decide(settings, champion.version, retrain)
    if decision.verdict != "retrain" or not retrain:
        return MonitorResult(output, decision, champion.version)
    trained = train_flow(settings, cutoff=end_of_day(window))
    promotion = promote_flow(settings, trained.version)
    return MonitorResult(output, decision, champion.version, trained, promotion)


@flow(name="monitor")
def monitor_flow(settings: Settings, window: date, retrain: bool = True) -> MonitorResult:
    """Monitor one day of predictions against the champion's reference; maybe retrain."""
    return monitor_day(settings, load_contract(settings.contract_path), window, retrain=retrain)
