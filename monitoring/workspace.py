"""The monitoring windows as snapshots of an Evidently workspace project, with its dashboard.

``evidently ui --workspace <monitoring_dir>/workspace`` (``make evidently-ui``) then shows the
windows over time. Layout (Evidently's local workspace)::

    <monitoring_dir>/workspace/<project id>/metadata.json      the project, found by its name
    <monitoring_dir>/workspace/<project id>/dashboard.json     the panels, written once
    <monitoring_dir>/workspace/<project id>/snapshots/<id>.json  one per window

A window's snapshot is Evidently's own drift-and-quality run of that window (its widgets are
what the UI shows when the snapshot is opened), plus the window summary's figures as single
values: drift share, score drift, PR-AUC on matured labels, missing share per feature. The
panels plot those figures, not Evidently's own metrics, because the summary is what the
retraining policy decides on: its drift share counts a feature emptied in the window as
drifted, its missing shares count every row when drift is computed on a sample, and its PR-AUC
is the project's formula. Evidently's dashboard API accepts only its own metric type prefix,
so the figures are named ``evidently:metric_v2:Window...`` (names no Evidently metric has, as
any custom Evidently metric would be named).

A window's snapshot id is derived from the project and the window id, so re-running a window
replaces its snapshot instead of adding a second point for the same window.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Final

from evidently.core.metric_types import MetricConfig, MetricValueLocation, SingleValue
from evidently.core.serialization import SnapshotModel
from evidently.legacy.utils import NumpyEncoder
from evidently.sdk.models import DashboardModel, DashboardTabModel, PanelMetric, ProjectModel
from evidently.sdk.panels import counter_panel, line_plot_panel
from evidently.ui.storage.local.base import SNAPSHOTS_DIR_NAME, LocalState

from monitoring.summary import WindowSummary

#: The workspace folder inside the monitoring folder.
WORKSPACE_DIR: Final = "workspace"
#: Evidently's metric type prefix (its dashboard panels accept no other).
TYPE_PREFIX: Final = "evidently:metric_v2:"
DRIFT_SHARE: Final = TYPE_PREFIX + "WindowDriftShare"
DRIFT_SHARE_THRESHOLD: Final = TYPE_PREFIX + "WindowDriftShareThreshold"
DRIFTED_FEATURES: Final = TYPE_PREFIX + "WindowDriftedFeatures"
SCORE_DRIFT: Final = TYPE_PREFIX + "WindowScoreDrift"
SCORE_DRIFT_THRESHOLD: Final = TYPE_PREFIX + "WindowScoreDriftThreshold"
PR_AUC: Final = TYPE_PREFIX + "WindowPrAuc"
REFERENCE_PR_AUC: Final = TYPE_PREFIX + "WindowReferencePrAuc"
MATURED_LABELS: Final = TYPE_PREFIX + "WindowMaturedLabels"
MISSING_SHARE: Final = TYPE_PREFIX + "WindowMissingShare"
ROWS: Final = TYPE_PREFIX + "WindowRows"
#: Tag of every window snapshot; windows whose drift verdict is positive also get DRIFT_TAG.
WINDOW_TAG: Final = "window"
DRIFT_TAG: Final = "data-drift"
#: Dashboard panel titles (the tests and the docs name them).
PANEL_DRIFT_SHARE: Final = "Drift share"
PANEL_SCORE_DRIFT: Final = "Score drift"
PANEL_PR_AUC: Final = "PR-AUC on matured labels"
PANEL_MISSING: Final = "Missing shares"
DASHBOARD_TAB: Final = "Windows"


def workspace_dir(monitoring_dir: Path) -> Path:
    """Where the Evidently workspace of the windows under ``monitoring_dir`` lives."""
    return monitoring_dir / WORKSPACE_DIR


def project_name(model_name: str) -> str:
    """The workspace project of one model's windows (a home may monitor more than one)."""
    return f"{model_name} monitoring"


def ensure_project(path: Path, name: str) -> ProjectModel:
    """The workspace's project called ``name``: the existing one, else a new one with panels.

    Read and written through the file store ``Workspace`` itself uses, without opening a
    ``Workspace``: that parses every snapshot already stored, seconds once a year of windows
    has accumulated, for each command.
    """
    state = LocalState(str(path))
    for project_id in state.list_projects():
        project = state.read_project(project_id)
        if project.name == name:
            return project
    project = state.write_project(
        ProjectModel(
            name=name,
            description=(
                "One snapshot per monitoring window (drift, score drift, data quality, PR-AUC on "
                "matured labels), written by `lifecycle monitor` and `lifecycle demo`."
            ),
        )
    )
    state.write_dashboard(project.id, dashboard())
    return project


def dashboard() -> DashboardModel:
    """The project's panels: the latest figures, then each figure window by window."""
    panels = [
        counter_panel(
            "Latest drift share",
            [PanelMetric(metric=DRIFT_SHARE, legend="drift share")],
            size="half",
        ),
        counter_panel("Latest PR-AUC", [PanelMetric(metric=PR_AUC, legend="PR-AUC")], size="half"),
        line_plot_panel(
            PANEL_DRIFT_SHARE,
            [
                PanelMetric(metric=DRIFT_SHARE, legend="drifted features / features"),
                PanelMetric(metric=DRIFT_SHARE_THRESHOLD, legend="flag at (drift_share_threshold)"),
            ],
            description="Share of contract features whose drift test failed, per window.",
        ),
        line_plot_panel(
            PANEL_SCORE_DRIFT,
            [
                PanelMetric(metric=SCORE_DRIFT, legend="{{method}}"),
                PanelMetric(metric=SCORE_DRIFT_THRESHOLD, legend="threshold"),
            ],
            description="Drift of the model's score against the champion's reference.",
        ),
        line_plot_panel(
            PANEL_PR_AUC,
            [
                PanelMetric(metric=PR_AUC, legend="window"),
                PanelMetric(metric=REFERENCE_PR_AUC, legend="champion at training"),
            ],
            description=(
                "Over the trailing performance days' predictions whose labels had matured; "
                "no point when too few positives had."
            ),
        ),
        line_plot_panel(
            PANEL_MISSING,
            [PanelMetric(metric=MISSING_SHARE, legend="{{column}}")],
            description="Share of the window's rows missing each feature.",
        ),
    ]
    tab = DashboardTabModel(title=DASHBOARD_TAB, panels=[panel.id for panel in panels])
    return DashboardModel(tabs=[tab], panels=panels)


def summary_figures(summary: WindowSummary) -> dict[str, SingleValue]:
    """The summary's figures as Evidently single values, keyed by their metric ids.

    A figure the window does not have (PR-AUC without enough matured labels, a score with no
    drift score) is left out rather than stored as a gap.
    """
    drift = summary.prediction_drift
    performance = summary.performance
    figures: list[tuple[str, dict[str, str], float | None, str]] = [
        (DRIFT_SHARE, {}, summary.drift_share, "Drift share"),
        (DRIFT_SHARE_THRESHOLD, {}, summary.drift_share_threshold, "Drift share threshold"),
        (DRIFTED_FEATURES, {}, summary.n_drifted_features, "Drifted features"),
        (SCORE_DRIFT, {"column": drift.column, "method": drift.method}, drift.score, "Score drift"),
        (SCORE_DRIFT_THRESHOLD, {"column": drift.column}, drift.threshold, "Score drift threshold"),
        (ROWS, {}, summary.n_rows, "Predictions"),
        (MATURED_LABELS, {}, summary.n_labelled, "Matured labels"),
        (PR_AUC, {}, None if performance is None else performance.pr_auc, "PR-AUC"),
        (
            REFERENCE_PR_AUC,
            {},
            None if performance is None else performance.reference_pr_auc,
            "Reference PR-AUC",
        ),
        *[
            (MISSING_SHARE, {"column": column}, share, f"Missing share of {column}")
            for column, share in summary.quality.missing_share.items()
        ],
    ]
    values: dict[str, SingleValue] = {}
    for kind, labels, value, title in figures:
        if value is None:
            continue
        metric_id = "-".join([kind.removeprefix(TYPE_PREFIX), *labels.values()])
        config = MetricConfig(metric_id=metric_id, params={"type": kind, **labels})
        values[metric_id] = SingleValue(
            display_name=title,
            value=value,
            metric_value_location=MetricValueLocation(config, {}),
        )
    return values


def window_snapshot(snapshot: Any, summary: WindowSummary) -> SnapshotModel:
    """Evidently's run of the window with the summary's figures, tags and metadata added.

    Each metric result's own copy of its widgets is left out: the UI draws the snapshot's
    widget list, which holds the same widgets (keeping both doubles the file and its time).
    """
    model = snapshot.to_snapshot_model()
    results = {
        key: result.copy(update={"widget": None}) for key, result in model.metric_results.items()
    }
    metadata = {
        **model.metadata,
        "window_id": summary.window_id,
        "window_end": summary.window_end,
        "champion_version": summary.champion_version or "",
        "data_drift_detected": str(summary.data_drift_detected).lower(),
    }
    tags = [*model.tags, WINDOW_TAG, *([DRIFT_TAG] if summary.data_drift_detected else [])]
    return model.copy(
        update={
            "metric_results": {**results, **summary_figures(summary)},
            "metadata": metadata,
            "tags": tags,
        }
    )


def snapshot_id(project: ProjectModel, window_id: str) -> uuid.UUID:
    """The window's snapshot id in ``project``: the same for every run of that window."""
    return uuid.uuid5(uuid.UUID(str(project.id)), window_id)


def add_window(path: Path, model_name: str, snapshot: Any, summary: WindowSummary) -> uuid.UUID:
    """Store the window as a snapshot of the model's project in the workspace at ``path``.

    ``snapshot`` is the window's Evidently run (``WindowResult.snapshot``). The file is the one
    ``Workspace.add_run`` writes, with two differences: its id is the window's own (a re-run
    replaces it), and it is encoded in one call (Evidently streams it through the pure-Python
    JSON encoder, five times slower). Returns the snapshot id.
    """
    path.mkdir(parents=True, exist_ok=True)
    project = ensure_project(path, project_name(model_name))
    found = snapshot_id(project, summary.window_id)
    folder = path / str(project.id) / SNAPSHOTS_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(window_snapshot(snapshot, summary).dict(), cls=NumpyEncoder)
    (folder / f"{found}.json").write_text(text, encoding="utf-8")
    return found
