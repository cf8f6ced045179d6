"""The monitoring flow: evaluate one window, let the policy decide, retrain and gate if told to.

The policy (``monitoring.policy.decide_retraining``) is a pure function over the window
summaries on disk; this flow only gathers its inputs, records its verdict in the audit log and,
when the verdict is "retrain", runs the training flow on the most recent labelled data and then
the promotion gate. A server polling the champion alias picks up a promoted model by itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from features import vocabulary as vocab
from features.contract import DatasetContract
from monitoring.policy import RetrainDecision, decide_retraining
from monitoring.reports import PR_AUC_INTERVAL_LOW
from monitoring.summary import WindowSummary, window_id_for
from monitoring.window import MonitorOutput, monitor_window, read_summaries
from pipelines import artifacts
from pipelines.audit import append_decision, decision_record, read_decisions
from pipelines.flows import (
    STORAGE_RETRIES,
    PipelineError,
    TrainResult,
    contract_of,
    promote_flow,
    train_flow,
)
from pipelines.serve import log_store
from pipelines.settings import Settings
from serving.log_store import LogStore, LogStoreError, WindowRecord, json_lines_rows_by_day
from training import registry
from training.gate import PromotionDecision

#: Training-time figures a window's performance is compared with (the run's metric names).
REFERENCE_FIGURES = ("pr_auc", "recall_at_threshold", "expected_cost_per_row", PR_AUC_INTERVAL_LOW)

Window = tuple[date, date]


@dataclass(frozen=True)
class ChampionReference:
    """What a window is compared with: the champion's holdout rows and training-time figures."""

    version: str
    threshold: float
    frame: pd.DataFrame
    performance: dict[str, float]


@dataclass
class ReferenceCache:
    """What a long-running caller keeps between windows: registry reads that do not change.

    ``champions`` maps a version to its reference (frame and figures, a download);
    ``figures`` maps a version to its training-time figures. Both are fixed once a version is
    registered.
    """

    champions: dict[str, ChampionReference] = field(default_factory=dict)
    figures: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorResult:
    """One window's findings, the policy's verdict and, if it retrained, what came of it."""

    output: MonitorOutput
    decision: RetrainDecision
    champion_version: str
    retrained: TrainResult | None = None
    promotion: PromotionDecision | None = None


def window_days(rows_per_day: float, min_window_rows: int) -> int:
    """Days a window needs to hold ``min_window_rows`` rows at this daily volume (at least 1)."""
    if rows_per_day <= 0:
        return 1
    return max(1, math.ceil(min_window_rows / rows_per_day))


def grow_window(
    rows_by_day: Mapping[date, int], end: date, min_rows: int, max_days: int
) -> tuple[Window, str | None]:
    """The window ending on ``end``: that day, extended back until it holds ``min_rows`` rows.

    At most ``max_days`` days. Returns the window and, when it is not the single day asked for
    or still holds too few rows, a sentence saying so (for the command's output).
    """
    start = end
    total = rows_by_day.get(end, 0)
    while total < min_rows and (end - start).days + 1 < max_days:
        start -= timedelta(days=1)
        total += rows_by_day.get(start, 0)
    span = (end - start).days + 1
    if total < min_rows:
        return (start, end), (
            f"window {window_id_for(start, end)} holds {total} predictions, fewer than the "
            f"{min_rows} drift tests need (monitoring.min_window_rows); its drift figures are "
            "weak evidence"
        )
    if span > 1:
        return (start, end), (
            f"{end.isoformat()} alone holds {rows_by_day.get(end, 0)} predictions, fewer than "
            f"monitoring.min_window_rows ({min_rows}): the window covers {span} days "
            f"({total} predictions)"
        )
    return (start, end), None


def logged_rows_by_day(source: Path | LogStore) -> dict[date, int]:
    """Predictions logged per event day: lines per day file, or rows per day of the store.

    A file dated in the future (a client's clock far ahead) is counted like any other; callers
    pick their window among the days up to today.
    """
    if isinstance(source, Path):
        return json_lines_rows_by_day(source)
    return source.rows_by_day()


def last_retrain(settings: Settings, before: str | None = None) -> tuple[str | None, str | None]:
    """Window and trigger of the most recent retrain actually run (before ``before``, if given).

    ``(None, None)`` when none ran.
    """
    retrains = [
        r
        for r in read_decisions(settings.paths.audit_log, {"retrain"})
        if r.get("acted") and (before is None or str(r["window_id"]) < before)
    ]
    if not retrains:
        return None, None
    trigger = retrains[-1].get("trigger")
    return str(retrains[-1]["window_id"]), None if trigger is None else str(trigger)


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def champion_reference(
    settings: Settings,
    contract: DatasetContract,
    cache: ReferenceCache | None = None,
) -> ChampionReference:
    """Load the champion's reference window and figures from the registry.

    ``cache`` lets a long-running caller skip the artifact download while the champion stays
    the same.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    name = contract.model_name
    version = registry.alias_version(client, name, vocab.CHAMPION)
    if version is None:
        raise PipelineError(
            f"model '{name}' has no champion to monitor: run `lifecycle train` and "
            "`lifecycle promote` first"
        )
    if cache is not None and version in cache.champions:
        return cache.champions[version]
    run_id = registry.version_run_id(client, name, version)
    metrics = client.get_run(run_id).data.metrics
    reference = ChampionReference(
        version=version,
        threshold=float(registry.version_tags(client, name, version)[vocab.THRESHOLD_TAG]),
        frame=registry.load_reference(client, run_id),
        performance={k: float(metrics[k]) for k in REFERENCE_FIGURES if k in metrics},
    )
    if cache is not None:
        cache.champions[version] = reference
    return reference


@task(retries=STORAGE_RETRIES, retry_delay_seconds=1, cache_policy=NO_CACHE)
def version_figures(
    settings: Settings, contract: DatasetContract, cache: ReferenceCache | None = None
) -> dict[str, dict[str, float]]:
    """Training-time figures of every registered version of the contract's model.

    Monitoring compares each version that scored in the performance window with its own
    figures, not with the current champion's. A version whose run logged none maps to ``{}``.
    """
    client = registry.connect(settings.resolved_tracking_uri)
    known = cache.figures if cache is not None else {}
    figures: dict[str, dict[str, float]] = {}
    for found in client.search_model_versions(f"name='{contract.model_name}'"):
        version = str(found.version)
        if version not in known:
            metrics = client.get_run(found.run_id).data.metrics if found.run_id else {}
            known[version] = {k: float(metrics[k]) for k in REFERENCE_FIGURES if k in metrics}
        figures[version] = known[version]
    return figures


def _known_figures(
    figures: Mapping[str, Mapping[str, float]] | None, champion: ChampionReference
) -> dict[str, Mapping[str, float]]:
    """Versions with figures; a champion without any is left to monitoring's own default."""
    known = {version: found for version, found in (figures or {}).items() if found}
    if champion.performance:
        known[champion.version] = champion.performance
    return known


@task(cache_policy=NO_CACHE)
def evaluate_window(
    settings: Settings,
    contract: DatasetContract,
    window: Window,
    champion: ChampionReference,
    figures: Mapping[str, Mapping[str, float]] | None = None,
) -> MonitorOutput:
    """Drift, quality and matured-label performance of one window of predictions.

    ``figures`` (training-time figures by version) lets every version in the performance
    window be compared with its own; the champion's are its reference's either way.
    """
    paths = settings.paths
    config = settings.monitoring
    logs = log_store(settings, contract)
    try:
        return monitor_window(
            champion.frame,
            contract,
            predictions_dir=logs,
            labels_dir=logs,
            monitoring_dir=paths.monitoring,
            window=window,
            threshold=champion.threshold,
            config=config,
            reference_performance=champion.performance or None,
            performance_report=window[1].toordinal() % config.performance_report_every_days == 0,
            champion_version=champion.version,
            version_references=_known_figures(figures, champion),
        )
    finally:
        logs.close()


@task(cache_policy=NO_CACHE)
def decide(settings: Settings, champion_version: str, window_id: str, act: bool) -> RetrainDecision:
    """Run the pure policy over the window summaries up to ``window_id`` and record its verdict.

    Later windows on disk (a re-run of an earlier window) are left out, so the verdict is the
    one this window would have got. A scheduled retrain counts the post-onset labels a retrain
    would train on: those before its holdout (``training.holdout_days``). ``act`` says whether
    a "retrain" verdict will be acted on; only acted-on retrains start a cool-down.
    """
    history = [s for s in read_summaries(settings.paths.monitoring) if s.window_id <= window_id]
    retrain_window, retrain_trigger = last_retrain(settings, before=window_id)
    decision = decide_retraining(
        history,
        settings.retraining,
        last_retrain_window=retrain_window,
        holdout_days=settings.training.holdout_days,
        last_retrain_trigger=retrain_trigger,
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
                "waiting_for_labels": decision.waiting_for_labels,
                "acted": act and decision.verdict == "retrain",
            },
            numbers=decision.numbers,
        ),
    )
    return decision


def window_record(
    summary: WindowSummary, decision: RetrainDecision, champion_version: str
) -> WindowRecord:
    """The row dashboards read for a window: its drift and performance figures, the verdict."""
    performance = summary.performance
    score = summary.prediction_drift
    return WindowRecord(
        window_id=summary.window_id,
        window_start=date.fromisoformat(summary.window_start),
        window_end=date.fromisoformat(summary.window_end),
        n_rows=summary.n_rows,
        drift_share=summary.drift_share,
        drift_share_threshold=summary.drift_share_threshold,
        n_drifted_features=summary.n_drifted_features,
        data_drift_detected=summary.data_drift_detected,
        score_drift=score.score,
        score_drift_method=score.method,
        score_drifted=score.drifted,
        n_labelled=summary.n_labelled,
        pr_auc=None if performance is None else performance.pr_auc,
        reference_pr_auc=None if performance is None else performance.reference_pr_auc,
        champion_version=champion_version,
        verdict=decision.verdict,
        reason=decision.reason,
        trigger=decision.trigger,
    )


@task(cache_policy=NO_CACHE)
def record_window(settings: Settings, contract: DatasetContract, record: WindowRecord) -> None:
    """Write the window's row to the log store (a no-op for the files).

    The store already retries once on a broken connection. A database that still refuses the
    row is a warning, not a failure: the summary and the verdict are already on disk, a
    retrain the verdict asks for still runs, and re-running the window writes the row.
    """
    logs = log_store(settings, contract)
    try:
        logs.record_window(record)
    except LogStoreError as exc:
        get_run_logger().warning(
            "window %s not recorded for the dashboards (%s); re-run the window to record it",
            record.window_id,
            exc.strerror,
        )
    finally:
        logs.close()


def end_of_day(day: date) -> datetime:
    """The last instant of ``day``: what "now" is when the day's window is closed."""
    return datetime.combine(day + timedelta(days=1), time.min)


def monitor_day(
    settings: Settings,
    contract: DatasetContract,
    window: date | Window,
    *,
    retrain: bool,
    cache: ReferenceCache | None = None,
) -> MonitorResult:
    """Monitor one window; when the policy says so (and ``retrain``), retrain and gate.

    Runs inside a flow (the monitor flow, or the demo's): its steps are Prefect tasks and the
    retrain is the train flow then the promote flow, as subflows.
    """
    bounds = window if isinstance(window, tuple) else (window, window)
    champion = champion_reference(settings, contract, cache)
    figures = version_figures(settings, contract, cache)
    output = evaluate_window(settings, contract, bounds, champion, figures)
    decision = decide(settings, champion.version, output.summary.window_id, retrain)
    artifacts.monitoring(output, decision, champion.version)
    record_window(settings, contract, window_record(output.summary, decision, champion.version))
    if decision.verdict != "retrain" or not retrain:
        return MonitorResult(output, decision, champion.version)
    trained = train_flow(settings, cutoff=end_of_day(bounds[1]))
    promotion = promote_flow(settings, trained.version)
    return MonitorResult(output, decision, champion.version, trained, promotion)


@flow(name="monitor")
def monitor_flow(settings: Settings, window: Window, retrain: bool = True) -> MonitorResult:
    """Monitor one window of predictions against the champion's reference; maybe retrain."""
    return monitor_day(settings, contract_of(settings), window, retrain=retrain)
