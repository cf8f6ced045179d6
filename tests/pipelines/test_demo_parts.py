"""The demo's pure parts: story checks, the run's index page, label maturity, archiving."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from features.contract import load_contract
from pipelines.demo import (
    DayRow,
    DemoSummary,
    PendingLabels,
    archive_home,
    bootstrap_days_for,
    render_index,
    story_checks,
)
from pipelines.settings import DEFAULT_CONTRACT


def summary_with(rows: list[DayRow], retrains: list[dict[str, object]]) -> DemoSummary:
    summary = DemoSummary("default", 10, 1, 100, 3, ground_truth={"onset_day": 5})
    summary.timeline = rows
    summary.retrains = retrains
    summary.batches_validated = ["2026-01-01", "2026-01-02"]
    summary.batches_quarantined = ["2026-01-04"]
    return summary


def test_story_checks_read_the_timeline() -> None:
    rows = [
        DayRow(3, "2026-01-04", 100, True),
        DayRow(4, "2026-01-05", 100, False, 0.0, False, 0.50, served_version="1"),
        DayRow(5, "2026-01-06", 100, False, 0.4, True, 0.40, served_version="1"),
        DayRow(6, "2026-01-07", 100, False, 0.4, True, 0.30, served_version="1,2"),
        DayRow(
            7, "2026-01-08", 100, False, 0.0, False, 0.45, served_version="2", failed_requests=1
        ),
    ]
    checks = story_checks(summary_with(rows, [{"day": 6, "verdict": "promote"}]))
    assert checks["first_drift_day"] == 5, checks
    assert checks["drift_days_before_onset"] == [], checks
    assert checks["served_versions"] == ["1", "2"], "versions split from a mixed day"
    assert checks["served_new_version_without_restart"], checks
    assert (checks["matured_pr_auc_trough"], checks["matured_pr_auc_trough_day"]) == (0.30, 6)
    assert checks["performance_recovered"], "0.45 >= 0.30 + 0.05 after a promotion"
    assert checks["failed_requests"] == 1, "failures are summed"
    assert checks["blocked_batches_never_trained_on"], checks


def test_recovery_day_is_the_first_after_the_trough_back_at_90_percent() -> None:
    rows = [
        DayRow(3, "2026-01-04", 100, False, 0.0, False, 0.50),
        DayRow(4, "2026-01-05", 100, False, 0.0, False, 0.40),
        DayRow(5, "2026-01-06", 100, False, 0.4, True, 0.41),  # onset: after, not before
        DayRow(6, "2026-01-07", 100, False, 0.4, True, 0.30),
        DayRow(7, "2026-01-08", 100, False, 0.0, False, 0.40),
        DayRow(8, "2026-01-09", 100, False, 0.0, False, 0.41),
        DayRow(9, "2026-01-10", 100, False, 0.0, False, 0.30),
    ]
    checks = story_checks(summary_with(rows, [{"day": 6, "verdict": "promote"}]))
    assert checks["matured_pr_auc_before_onset"] == 0.45, "mean of the days before the onset"
    assert checks["matured_pr_auc_trough_day"] == 6, checks
    assert checks["matured_pr_auc_recovered_day"] == 8, "0.41 >= 0.9 * 0.45; 0.40 is not"
    assert (checks["retrain_days"], checks["promotion_days"]) == ([6], [6]), checks
    never = story_checks(summary_with(rows[:4], []))
    assert never["matured_pr_auc_recovered_day"] is None, "not back yet"
    no_onset = summary_with(rows, [])
    no_onset.ground_truth = {}
    assert story_checks(no_onset)["matured_pr_auc_recovered_day"] is None, "nothing to recover"


def test_no_recovery_without_a_promotion_and_early_drift_is_reported() -> None:
    rows = [
        DayRow(4, "2026-01-05", 100, False, 0.5, True, 0.50, served_version="1"),
        DayRow(6, "2026-01-07", 100, False, 0.5, True, 0.30, served_version="1"),
        DayRow(7, "2026-01-08", 100, False, 0.0, False, 0.45, served_version="1"),
    ]
    checks = story_checks(summary_with(rows, [{"day": 6, "verdict": "reject"}]))
    assert checks["drift_days_before_onset"] == [4], "a false alarm before the onset is named"
    assert not checks["performance_recovered"], "no promoted model, no recovery claimed"
    assert not checks["served_new_version_without_restart"], checks


def test_index_links_reports_and_quarantine(tmp_path: Path) -> None:
    rows = [
        DayRow(3, "2026-01-04", 100, True),
        DayRow(4, "2026-01-05", 100, False, 0.1, False, window_id="2026-01-05"),
        DayRow(5, "2026-01-06", 100, False, 0.1, False),
    ]
    page = render_index(summary_with(rows, []), tmp_path)
    assert 'href="../data/quarantine/2026-01-04/data_docs.html"' in page, "blocked day links GX"
    assert 'href="../monitoring/2026-01-05/report.html"' in page, "a closed window links Evidently"
    assert "2026-01-06/report.html" not in page, "a day inside a window has no report of its own"
    assert str(tmp_path) not in page, "links are relative, so the folder can be moved"


def test_labels_are_delivered_only_once_matured() -> None:
    contract = load_contract(DEFAULT_CONTRACT)
    batch = pd.DataFrame(
        {
            "transaction_id": ["a", "b"],
            "is_fraud": [1, 0],
            "label_available_at": pd.to_datetime(["2026-01-05", "2026-01-09"]),
        }
    )
    pending = PendingLabels()
    pending.add(batch, contract)
    first = pending.pop_matured(datetime(2026, 1, 6), contract)
    assert first["transaction_id"].tolist() == ["a"], "only the matured label"
    assert pending.pop_matured(datetime(2026, 1, 6), contract).empty, "never delivered twice"
    assert pending.pop_matured(datetime(2026, 1, 10), contract)["transaction_id"].tolist() == ["b"]


def test_archive_moves_a_previous_run_and_keeps_prefect(tmp_path: Path) -> None:
    assert archive_home(tmp_path / "absent", datetime(2026, 1, 1)) is None, "nothing to move"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.parquet").write_text("x")
    (tmp_path / "prefect").mkdir()
    target = archive_home(tmp_path, datetime(2026, 1, 1, 12))
    assert target == tmp_path / "archive" / "20260101T120000", target
    assert (target / "data" / "x.parquet").read_text() == "x", "moved, not deleted"
    assert (tmp_path / "prefect").exists(), "Prefect's database stays"
    assert not (tmp_path / "data").exists(), "the home starts clean"


def test_bootstrap_leaves_room_for_the_story() -> None:
    assert bootstrap_days_for(60) == 21, "a third of a 60-day run"
    assert bootstrap_days_for(20) == 14, "at least two weeks of history"
