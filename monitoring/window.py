"""Monitor one window end to end: read the logs, evaluate, write the reports (the I/O adapter).

Layout written per window::

    <monitoring_dir>/<window_id>/report.html       data drift, score drift, data quality
    <monitoring_dir>/<window_id>/performance.html  matured-label performance (when evaluated)
    <monitoring_dir>/<window_id>/summary.json      WindowSummary.to_dict()
    <monitoring_dir>/workspace/                    the Evidently workspace (monitoring.workspace)

:func:`read_summaries` reads the ``summary.json`` files back, oldest first: the history the
retraining policy decides on.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

from features.contract import DatasetContract
from monitoring.config import MonitoringConfig
from monitoring.errors import EmptyWindowError, MonitoringError, SummaryFormatError
from monitoring.labels import matured_performance_frame, read_labels, read_prediction_log
from monitoring.performance import classification_performance
from monitoring.reports import evaluate_window
from monitoring.summary import WindowSummary, window_id_for
from monitoring.workspace import add_window, workspace_dir
from serving.log_store import LogStore

REPORT_FILE = "report.html"
PERFORMANCE_REPORT_FILE = "performance.html"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class MonitorOutput:
    """What :func:`monitor_window` found and where it wrote it (None: not written).

    ``workspace_snapshot`` is the window's snapshot id in the Evidently workspace.
    """

    summary: WindowSummary
    directory: Path
    summary_path: Path
    report_path: Path | None
    performance_report_path: Path | None
    workspace_snapshot: uuid.UUID | None = None


def _bounds(window: date | tuple[date, date]) -> tuple[date, date]:
    if isinstance(window, tuple):
        start, end = window
    else:
        start = end = window
    if end < start:
        raise MonitoringError(f"window end {end} is before its start {start}")
    return start, end


def _performance_predictions(
    predictions_dir: Path | LogStore,
    window_rows: pd.DataFrame,
    contract: DatasetContract,
    window_start: date,
    performance_start: date,
) -> tuple[pd.DataFrame, list[str]]:
    """Predictions from ``performance_start`` to the window's end.

    The window's rows are reused, so each file is read, and each skipped line counted, once.
    """
    if performance_start >= window_start:
        days = window_rows[contract.event_time_column].dt.date
        return window_rows[days >= performance_start], []
    earlier = read_prediction_log(
        predictions_dir, contract, performance_start, window_start - timedelta(days=1)
    )
    frames = [f for f in (earlier.frame, window_rows) if not f.empty]
    return pd.concat(frames, ignore_index=True), earlier.warnings()


def _where(source: Path | LogStore) -> str:
    return str(source) if isinstance(source, Path) else source.location


def _write_text_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def monitor_window(
    reference: pd.DataFrame,
    contract: DatasetContract,
    *,
    predictions_dir: Path | LogStore,
    labels_dir: Path | LogStore,
    monitoring_dir: Path,
    window: date | tuple[date, date],
    threshold: float,
    config: MonitoringConfig,
    reference_performance: Mapping[str, float] | None = None,
    as_of: datetime | None = None,
    performance_report: bool = True,
    champion_version: str | None = None,
    version_references: Mapping[str, Mapping[str, float]] | None = None,
) -> MonitorOutput:
    """Evaluate the window's predictions against the reference and write its reports.

    Performance covers the trailing ``config.performance_days`` days of predictions ending with
    the window's last day, joined with the labels known at ``as_of`` (default: the end of the
    window's last day, so re-running a past window gives the same figures).

    Args:
        reference: The champion's reference frame (features, extra segments, 0/1 label, score).
        contract: The dataset contract.
        predictions_dir: The log store, or the folder of ``YYYY-MM-DD.jsonl`` prediction logs.
        labels_dir: The log store, or the folder holding ``labels.jsonl`` (a missing file
            means no labels yet).
        monitoring_dir: Reports go to ``<monitoring_dir>/<window_id>/``, snapshots to the
            Evidently workspace ``<monitoring_dir>/workspace``.
        window: One day, or a ``(start, end)`` pair of days (inclusive).
        threshold: The champion's decision threshold (its model-version threshold tag).
        config: The monitoring section of the settings: drift-share threshold, performance
            days, minimum positive labels and window rows, and ``write_html`` (False writes only
            ``summary.json``: each Evidently HTML embeds its ~4 MB JavaScript bundle) and
            ``workspace_snapshots`` (False: no snapshot in the Evidently workspace).
        reference_performance: Training-time figures (``pr_auc``, ``recall_at_threshold``,
            ``expected_cost_per_row``); default: computed from the reference frame's score and
            label with the same formulas as the window's.
        as_of: Labels known after this time are ignored.
        performance_report: False skips Evidently's classification report of the matured
            labels (its HTML); the summary's performance figures are computed either way.
        champion_version: The version ``reference`` belongs to; the summary names it and keeps
            its own figures apart (``WindowSummary.champion_performance``).
        version_references: Training-time figures per version, so that every version that
            scored in the performance window is compared with its own (the champion's default
            to ``reference_performance``).

    Raises:
        EmptyWindowError: no prediction was logged for the window; the message names the
            window and the files looked for.
        MonitoringError: bad arguments, unreadable logs or frames missing columns.
    """
    start, end = _bounds(window)
    window_id = window_id_for(start, end)
    current = read_prediction_log(predictions_dir, contract, start, end)
    if current.frame.empty:
        looked = ", ".join(p.name for p in (*current.files, *current.missing_files))
        raise EmptyWindowError(
            f"window {window_id} has no logged predictions: looked in "
            f"{_where(predictions_dir)} for {looked}"
            + (" (the files exist but hold no complete line)" if current.files else "")
        )

    if contract.event_time_column not in current.frame.columns:
        raise MonitoringError(
            f"prediction log in {_where(predictions_dir)} lacks '{contract.event_time_column}'"
        )
    performance_days = config.performance_days
    performance_frame, earlier_warnings = _performance_predictions(
        predictions_dir, current.frame, contract, start, end - timedelta(days=performance_days - 1)
    )
    labels = read_labels(labels_dir, contract)
    warnings = [*current.warnings(), *earlier_warnings, *labels.warnings()]
    if labels.missing_files:
        warnings.append(f"no label log at {labels.missing_files[0]}: no label has arrived yet")
    labelled = None
    if performance_frame.empty:
        warnings.append(
            f"no predictions logged in the performance window ({performance_days} days to {end})"
        )
    else:
        labelled = matured_performance_frame(
            performance_frame,
            labels.frame,
            contract,
            as_of=as_of or datetime.combine(end + timedelta(days=1), time()),
        )
    if reference_performance is None:
        reference_performance = classification_performance(
            reference, contract, threshold=threshold
        ).as_reference()

    result = evaluate_window(
        reference,
        current.frame,
        contract,
        labelled=labelled,
        reference_performance=reference_performance,
        threshold=threshold,
        config=config,
        window_start=start,
        window_end=end,
        performance_report=performance_report and config.write_html,
        champion_version=champion_version,
        version_references=version_references,
        charts=config.write_html,
    )
    summary = result.summary.model_copy(update={"warnings": (*warnings, *result.summary.warnings)})

    directory = monitoring_dir / window_id
    directory.mkdir(parents=True, exist_ok=True)
    report_path: Path | None = None
    performance_path: Path | None = None
    for stale in (REPORT_FILE, PERFORMANCE_REPORT_FILE):  # from an earlier run of this window
        (directory / stale).unlink(missing_ok=True)
    if config.write_html:
        report_path = directory / REPORT_FILE
        result.snapshot.save_html(str(report_path))
        if result.performance_snapshot is not None:
            performance_path = directory / PERFORMANCE_REPORT_FILE
            result.performance_snapshot.save_html(str(performance_path))
    summary_path = directory / SUMMARY_FILE
    _write_text_atomically(summary_path, json.dumps(summary.to_dict(), indent=2) + "\n")
    snapshot_id = (
        add_window(workspace_dir(monitoring_dir), contract.model_name, result.snapshot, summary)
        if config.workspace_snapshots
        else None
    )
    return MonitorOutput(
        summary, directory, summary_path, report_path, performance_path, snapshot_id
    )


def read_summary(path: Path) -> WindowSummary:
    """Read one ``summary.json``.

    Raises:
        SummaryFormatError: the file is missing, not JSON, or not a window summary.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SummaryFormatError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SummaryFormatError(f"{path}: not valid JSON ({exc.msg})") from None
    try:
        return WindowSummary.from_dict(data)
    except SummaryFormatError as exc:
        raise SummaryFormatError(f"{path}: {exc}") from None


def read_summaries(monitoring_dir: Path) -> list[WindowSummary]:
    """Every window summary under ``monitoring_dir``, oldest window first (empty if none)."""
    paths = sorted(monitoring_dir.glob(f"*/{SUMMARY_FILE}"))
    return sorted((read_summary(p) for p in paths), key=lambda s: s.window_id)
