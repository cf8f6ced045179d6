from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract
from monitoring.errors import EmptyWindowError
from monitoring.window import MonitorOutput, monitor_window, read_summaries
from tests.monitoring.frames import day_list, make_frame

WINDOW = date(2026, 3, 8)


def write_prediction_log(frame: pd.DataFrame, directory: Path, contract: DatasetContract) -> None:
    """One JSON-lines file per event date, keys as the serving stage logs them."""
    directory.mkdir(parents=True, exist_ok=True)
    logged = frame.drop(columns=[contract.label_column, contract.label_available_time_column])
    logged = logged.assign(
        request_id=logged["transaction_id"],
        logged_at=logged["event_time"],
        model_name="card-fraud",
        model_version="1",
        decision=(logged["score"] >= 0.2).astype(int),
        threshold=0.2,
    )
    for day, rows in logged.groupby(logged["event_time"].dt.date):
        rows.to_json(
            directory / f"{day.isoformat()}.jsonl", orient="records", lines=True, date_format="iso"
        )


def write_labels(frame: pd.DataFrame, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    labels = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"],
            "is_fraud": frame["is_fraud"],
            "received_at": frame["label_available_at"],
            "label_available_at": frame["label_available_at"],
        }
    )
    labels.to_json(directory / "labels.jsonl", orient="records", lines=True, date_format="iso")


@pytest.fixture(scope="module")
def monitored(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> MonitorOutput:
    home = tmp_path_factory.mktemp("home")
    traffic = pd.concat(
        [
            make_frame(contract, 400, seed=10 + i, day=d)
            for i, d in enumerate(day_list(date(2026, 3, 1), 8))
        ],
        ignore_index=True,
    )
    write_prediction_log(traffic, home / "predictions", contract)
    with (home / "predictions" / f"{WINDOW.isoformat()}.jsonl").open("a") as log:
        log.write('{"request_id": "half-writ')  # a writer still appending
    write_labels(traffic, home / "labels")  # every label, even future ones: as_of must filter
    return monitor_window(
        reference,
        contract,
        predictions_dir=home / "predictions",
        labels_dir=home / "labels",
        monitoring_dir=home / "monitoring",
        window=WINDOW,
        threshold=0.2,
        drift_share_threshold=0.3,
        performance_days=7,
        min_labelled_rows=100,
    )


def test_monitor_window_writes_report_and_summary(monitored: MonitorOutput) -> None:
    assert monitored.directory.name == "2026-03-08", "one folder per window id"
    assert monitored.report_path is not None, "HTML requested"
    assert monitored.report_path.name == "report.html", monitored.report_path
    html = monitored.report_path.read_text(encoding="utf-8")
    assert len(html) > 10_000, "an Evidently report, not a stub"
    assert "distance_from_home_km" in html, "the report names the contract features"
    stored = json.loads(monitored.summary_path.read_text(encoding="utf-8"))
    assert stored == monitored.summary.to_dict(), "summary.json is the returned summary"
    assert monitored.performance_report_path is not None, monitored.summary.performance_note
    assert monitored.performance_report_path.is_file(), "performance.html written"


def test_monitor_window_summary_covers_the_window_and_matured_labels(
    monitored: MonitorOutput,
) -> None:
    summary = monitored.summary
    assert summary.window_id == "2026-03-08", summary.window_id
    assert summary.n_rows == 400, "the truncated line is not a row"
    assert not summary.data_drift_detected, f"stationary traffic: {summary.drifted_features}"
    assert any("skipped 1 truncated" in w for w in summary.warnings), summary.warnings
    performance = summary.performance
    assert performance is not None, summary.performance_note
    assert performance.n_predictions == 7 * 400, "trailing 7 days of predictions"
    assert 0.05 < performance.label_coverage < 0.6, (
        f"labels mature 3-10 days later, so only part is known on 03-09: "
        f"{performance.label_coverage}"
    )
    assert performance.reference_pr_auc is not None, "computed from the reference frame"


def test_summaries_read_back_in_window_order(monitored: MonitorOutput) -> None:
    history = read_summaries(monitored.directory.parent)
    assert history == [monitored.summary], "the one window written"


def test_empty_window_names_the_window_and_where_it_looked(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(EmptyWindowError) as caught:
        monitor_window(
            reference,
            contract,
            predictions_dir=tmp_path / "predictions",
            labels_dir=tmp_path / "labels",
            monitoring_dir=tmp_path / "monitoring",
            window=(date(2026, 4, 1), date(2026, 4, 2)),
            threshold=0.2,
            drift_share_threshold=0.3,
        )
    message = str(caught.value)
    assert "2026-04-01_2026-04-02" in message, message
    assert str(tmp_path / "predictions") in message, message
    assert "2026-04-02.jsonl" in message, message
    assert not (tmp_path / "monitoring").exists(), "nothing written for an empty window"


def test_without_labels_performance_is_skipped_and_the_reason_kept(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path: Path
) -> None:
    write_prediction_log(make_frame(contract, 300, seed=20, day=WINDOW), tmp_path / "p", contract)
    output = monitor_window(
        reference,
        contract,
        predictions_dir=tmp_path / "p",
        labels_dir=tmp_path / "labels",
        monitoring_dir=tmp_path / "monitoring",
        window=WINDOW,
        threshold=0.2,
        drift_share_threshold=0.3,
        write_html=False,
    )
    summary = output.summary
    assert summary.performance is None, "no label has arrived"
    assert "only 0 of 300 predictions" in summary.performance_note, summary.performance_note
    assert any("no label log at" in w for w in summary.warnings), summary.warnings
    assert output.report_path is None, "HTML not requested"
    assert not (output.directory / "report.html").exists(), "no HTML written"
    assert output.summary_path.is_file(), "summary.json always written"
