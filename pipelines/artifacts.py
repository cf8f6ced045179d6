"""What each flow run decided, as Prefect artifacts (and one log line) the Prefect UI shows.

One function per stage, called from inside its flow: validation (each batch passed or blocked,
with the failed expectations), training (the MLflow run and the registered version), promotion
(the gate's verdict, reason and numbers), monitoring (drift share, the retraining verdict, a
link to the Evidently report). Artifact keys are stable per stage, so the UI's artifact page
lists each key's versions, newest first.

An artifact is a report of a decision already taken and recorded in the audit log, never a
reason to fail a run: outside a flow or task run nothing is sent, and an API error is logged
as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext

if TYPE_CHECKING:
    from features.validation import BatchOutcome
    from monitoring.policy import RetrainDecision
    from monitoring.window import MonitorOutput
    from pipelines.flows import TrainResult
    from training.gate import PromotionDecision

VALIDATE_KEY = "validate-batches"
TRAIN_KEY = "train-version"
TRAIN_LINK_KEY = "train-mlflow"
PROMOTE_KEY = "promote-decision"
MONITOR_KEY = "monitor-window"
MONITOR_LINK_KEY = "monitor-report"

_log = logging.getLogger(__name__)


def _in_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _publish(summary: str, *artifacts: Callable[[], object]) -> None:
    """Log ``summary`` to the run and create ``artifacts``; inside a run only, never raising."""
    if not _in_run():
        return
    try:
        get_run_logger().info(summary)
        for make in artifacts:
            make()
    except Exception:  # an artifact reports a decision; failing to send one changes nothing
        _log.warning("could not record the run's Prefect artifacts (%s)", summary, exc_info=True)


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _numbers_table(numbers: Mapping[str, object]) -> str:
    """Markdown table of name/value pairs (empty string for none)."""
    if not numbers:
        return ""
    rows = "\n".join(f"| {name} | {_number(value)} |" for name, value in numbers.items())
    return "| figure | value |\n|---|---|\n" + rows + "\n"


def _bullets(title: str, lines: Iterable[str]) -> str:
    items = [f"- {line}" for line in lines]
    return f"\n**{title}**\n\n" + "\n".join(items) + "\n" if items else ""


def validation(outcomes: list[BatchOutcome]) -> None:
    """One row per batch the gate checked: passed or blocked, and why."""
    blocked = [o for o in outcomes if not o.success]
    summary = (
        f"validated {len(outcomes)} batch(es): {len(outcomes) - len(blocked)} passed, "
        f"{len(blocked)} blocked"
        + (f" ({', '.join(o.batch_id for o in blocked)})" if blocked else "")
    )
    rows = [
        {
            "batch": o.batch_id,
            "verdict": "passed" if o.success else "blocked",
            "failed expectations": "; ".join(
                f"{f.expectation_type}({f.column or 'table'}): {f.reason}" for f in o.failures
            ),
            "sha256": o.sha256[:12],
        }
        for o in outcomes
    ]
    _publish(
        summary,
        lambda: create_table_artifact(rows, key=VALIDATE_KEY, description=summary),
    )


def training(result: TrainResult, tracking_uri: str) -> None:
    """The registered version, its MLflow run, data windows and holdout figures."""
    summary = (
        f"registered {result.model_name} version {result.version} (MLflow run {result.run_id}) "
        f"as challenger"
    )
    figures = {k: v for k, v in result.metrics.items() if isinstance(v, int | float)}
    markdown = (
        f"# {result.model_name} version {result.version}\n\n"
        f"- MLflow run: `{result.run_id}` (tracking store `{tracking_uri}`)\n"
        f"- threshold: {result.threshold:.4g}\n"
        f"- training window: {result.train_window[0]} .. {result.train_window[1]}\n"
        f"- holdout window: {result.holdout_window[0]} .. {result.holdout_window[1]}\n"
        f"- label cutoff: {result.cutoff}\n"
        f"- validated batches: {len(result.batches)}\n\n"
        + _numbers_table(figures)
        + _bullets("Warnings", result.warnings)
        + _bullets("Repaired first", result.repaired)
    )
    artifacts: list[Callable[[], object]] = [
        lambda: create_markdown_artifact(markdown, key=TRAIN_KEY, description=summary)
    ]
    if tracking_uri.startswith(("http://", "https://")):
        link = f"{tracking_uri.rstrip('/')}/#/models/{result.model_name}/versions/{result.version}"
        artifacts.append(
            lambda: create_link_artifact(
                link, link_text=f"{result.model_name} v{result.version}", key=TRAIN_LINK_KEY
            )
        )
    _publish(summary, *artifacts)


def promotion(decision: PromotionDecision) -> None:
    """The gate's verdict on the challenger, its reason and every number it compared."""
    summary = (
        f"gate: {decision.verdict} version {decision.challenger_version} "
        f"(champion {decision.champion_version or 'none'}): {decision.reason}"
    )
    markdown = (
        f"# Gate: {decision.verdict}\n\n"
        f"- challenger: version {decision.challenger_version}\n"
        f"- champion before: {decision.champion_version or 'none'}\n"
        f"- reason: {decision.reason}\n\n"
        + _numbers_table(decision.numbers)
        + _bullets("Breached segments", decision.breached_segments)
        + _bullets("Warnings", decision.warnings)
    )
    _publish(
        summary,
        lambda: create_markdown_artifact(markdown, key=PROMOTE_KEY, description=summary),
    )


def monitoring(output: MonitorOutput, decision: RetrainDecision, champion_version: str) -> None:
    """The window's drift and performance figures, the policy's verdict, the report's path."""
    window = output.summary
    performance = window.performance
    summary = (
        f"window {window.window_id}: drift share {window.drift_share:.2f} "
        f"(threshold {window.drift_share_threshold:.2f}), retraining: {decision.verdict}"
    )
    figures: dict[str, object] = {
        "predictions": window.n_rows,
        "drift share": window.drift_share,
        "drifted features": ", ".join(window.drifted_features) or "none",
        f"score drift ({window.prediction_drift.method})": window.prediction_drift.score,
        "matured labels": window.n_labelled,
        "PR-AUC (matured labels)": "not evaluated" if performance is None else performance.pr_auc,
    }
    report = output.report_path
    markdown = (
        f"# Window {window.window_id}: {decision.verdict}\n\n"
        f"- champion: version {champion_version}\n"
        f"- data drift detected: {'yes' if window.data_drift_detected else 'no'}\n"
        f"- decision: **{decision.verdict}**: {decision.reason}\n"
        f"- Evidently report: {_file_link(report) if report else 'not written (write_html off)'}"
        "\n\n" + _numbers_table(figures)
    )
    artifacts: list[Callable[[], object]] = [
        lambda: create_markdown_artifact(markdown, key=MONITOR_KEY, description=summary)
    ]
    if report is not None:
        artifacts.append(
            lambda: create_link_artifact(
                report.resolve().as_uri(),
                link_text=f"Evidently report {window.window_id}",
                key=MONITOR_LINK_KEY,
            )
        )
    _publish(summary, *artifacts)


def _file_link(path: Path) -> str:
    return f"[{path.name}]({path.resolve().as_uri()}) (`{path}`)"
