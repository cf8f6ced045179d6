"""Each monitored window becomes a snapshot of one Evidently workspace project, read back as
`evidently ui` reads it: through Evidently's own workspace and data-series storage."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from evidently.ui.service.base import SeriesFilter
from evidently.ui.service.storage.local import create_local_project_manager
from evidently.ui.workspace import Workspace

from features.contract import DatasetContract
from monitoring import workspace as ws
from monitoring.config import MonitoringConfig
from monitoring.window import MonitorOutput, monitor_window
from tests.monitoring.frames import daily_traffic
from tests.monitoring.test_window import write_labels, write_prediction_log

WINDOWS = [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8)]
#: As in test_window: a few hundred matured labels hold about 15 positives.
CONFIG = MonitoringConfig(performance_days=7, min_labelled_positives=10, write_html=False)


def _monitor(
    home: Path, contract: DatasetContract, reference: pd.DataFrame, day: date
) -> MonitorOutput:
    return monitor_window(
        reference,
        contract,
        predictions_dir=home / "predictions",
        labels_dir=home / "labels",
        monitoring_dir=home / "monitoring",
        window=day,
        threshold=0.2,
        config=CONFIG,
    )


@pytest.fixture(scope="module")
def home(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("workspace-home")
    traffic = daily_traffic(contract, date(2026, 3, 1), 8)
    write_prediction_log(traffic, folder / "predictions", contract)
    available = traffic["label_available_at"]
    write_labels(traffic, folder / "labels", contract, available, available)
    return folder


@pytest.fixture(scope="module")
def outputs(home: Path, contract: DatasetContract, reference: pd.DataFrame) -> list[MonitorOutput]:
    """Three windows, then the last one again (a re-run must not add a fourth point)."""
    done = [_monitor(home, contract, reference, day) for day in WINDOWS]
    done[-1] = _monitor(home, contract, reference, WINDOWS[-1])
    return done


def _workspace(home: Path) -> Workspace:
    return Workspace(str(ws.workspace_dir(home / "monitoring")))


def _series(home: Path, project_id: uuid.UUID, metric: str) -> dict[str, list[float | None]]:
    """One metric's series as the UI's dashboard gets them, by their labels."""
    manager = create_local_project_manager(str(ws.workspace_dir(home / "monitoring")), False)
    wanted = [SeriesFilter(tags=[], metadata={}, metric=metric, metric_labels={})]
    found = asyncio.run(manager.data_storage.get_data_series(project_id, wanted, None, None))
    return {",".join(s.params.values()): list(s.values) for s in found.series}


def test_one_project_one_snapshot_per_window(home: Path, outputs: list[MonitorOutput]) -> None:
    workspace = _workspace(home)
    projects = workspace.list_projects()
    assert [p.name for p in projects] == ["card-fraud monitoring"], "created once, by name"
    runs = workspace.list_runs(projects[0].id)
    assert len(runs) == len(WINDOWS), f"a re-run replaces its window's snapshot: {runs}"
    assert {str(r) for r in runs} == {str(o.workspace_snapshot) for o in outputs}
    stored = workspace.get_run(projects[0].id, outputs[-1].workspace_snapshot)
    assert stored is not None
    assert stored.metadata["window_id"] == "2026-03-08", stored.metadata
    assert stored.widgets, "Evidently's own report is what the UI opens"


def test_the_dashboard_has_the_four_panels(home: Path, outputs: list[MonitorOutput]) -> None:
    workspace = _workspace(home)
    project = workspace.list_projects()[0]
    titles = {panel.title for panel in workspace.get_dashboard(project.id).panels}
    assert {ws.PANEL_DRIFT_SHARE, ws.PANEL_SCORE_DRIFT, ws.PANEL_PR_AUC, ws.PANEL_MISSING} <= (
        titles
    ), titles


def test_the_panels_plot_the_summary_figures(home: Path, outputs: list[MonitorOutput]) -> None:
    project = _workspace(home).list_projects()[0]
    summaries = [o.summary for o in outputs]
    drift = _series(home, project.id, ws.DRIFT_SHARE)
    assert drift == {"": [s.drift_share for s in summaries]}, drift
    score = _series(home, project.id, ws.SCORE_DRIFT)
    (values,) = score.values()
    assert values == [s.prediction_drift.score for s in summaries], score
    missing = _series(home, project.id, ws.MISSING_SHARE)
    for column, share in summaries[-1].quality.missing_share.items():
        assert missing[column][-1] == share, (column, missing.get(column))
    pr_auc = _series(home, project.id, ws.PR_AUC)
    performance = summaries[-1].performance
    assert performance is not None, summaries[-1].performance_note
    (points,) = pr_auc.values()
    assert points[-1] == performance.pr_auc, pr_auc


def test_switched_off_no_workspace_is_written(
    home: Path, contract: DatasetContract, reference: pd.DataFrame, tmp_path: Path
) -> None:
    output = monitor_window(
        reference,
        contract,
        predictions_dir=home / "predictions",
        labels_dir=home / "labels",
        monitoring_dir=tmp_path / "monitoring",
        window=WINDOWS[0],
        threshold=0.2,
        config=CONFIG.model_copy(update={"workspace_snapshots": False}),
    )
    assert output.workspace_snapshot is None
    assert not ws.workspace_dir(tmp_path / "monitoring").exists(), "nothing written"
