from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.contract import DatasetContract
from features.vocabulary import (
    DECISION,
    LOGGED_AT,
    MODEL_NAME,
    MODEL_VERSION,
    RECEIVED_AT,
    REQUEST_ID,
    THRESHOLD,
)
from monitoring.config import MonitoringConfig
from monitoring.errors import EmptyWindowError
from monitoring.summary import WindowSummary
from monitoring.window import MonitorOutput, monitor_window, read_summaries
from tests.monitoring.frames import daily_traffic, day_list, make_churn_frame, make_frame

WINDOW = date(2026, 3, 8)


def write_prediction_log(
    frame: pd.DataFrame,
    directory: Path,
    contract: DatasetContract,
    threshold: float = 0.2,
    version: str | pd.Series = "1",
) -> None:
    """One JSON-lines file per event date, the record as the serving stage logs it.

    ``version`` is the model version that scored every row, or each row's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    event, score = contract.event_time_column, contract.score_name
    logged = pd.DataFrame(
        {
            REQUEST_ID: frame[contract.id_column],
            contract.id_column: frame[contract.id_column],
            event: frame[event],
            LOGGED_AT: frame[event],
            MODEL_NAME: contract.model_name,
            MODEL_VERSION: version,
            score: frame[score],
            DECISION: (frame[score] >= threshold).astype(int),
            THRESHOLD: threshold,
        }
    )
    logged = pd.concat([logged, frame[contract.input_columns]], axis=1)
    for day, rows in logged.groupby(logged[event].dt.date):
        rows.to_json(
            directory / f"{day.isoformat()}.jsonl", orient="records", lines=True, date_format="iso"
        )


def write_labels(
    frame: pd.DataFrame,
    directory: Path,
    contract: DatasetContract,
    received_at: pd.Series,
    available: pd.Series | None = None,
) -> None:
    """The label log: id, raw label, when it was received and, if given, when it was known."""
    directory.mkdir(parents=True, exist_ok=True)
    labels = pd.DataFrame(
        {
            contract.id_column: frame[contract.id_column],
            contract.label_column: frame[contract.label_column],
            RECEIVED_AT: received_at,
        }
    )
    if available is not None:
        labels[contract.label_available_field] = available
    labels.to_json(directory / "labels.jsonl", orient="records", lines=True, date_format="iso")


@pytest.fixture(scope="module")
def monitored(
    contract: DatasetContract, reference: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> MonitorOutput:
    home = tmp_path_factory.mktemp("home")
    traffic = daily_traffic(contract, date(2026, 3, 1), 8)
    write_prediction_log(traffic, home / "predictions", contract)
    with (home / "predictions" / f"{WINDOW.isoformat()}.jsonl").open("a") as log:
        log.write('{"request_id": "half-writ')  # a writer still appending
    # every label, even future ones: as_of must filter
    available = traffic["label_available_at"]
    write_labels(traffic, home / "labels", contract, available, available)
    return monitor_window(
        reference,
        contract,
        predictions_dir=home / "predictions",
        labels_dir=home / "labels",
        monitoring_dir=home / "monitoring",
        window=WINDOW,
        threshold=0.2,
        # 3 % positives, a few hundred matured labels: about 15 positives, not the default 30.
        config=MonitoringConfig(performance_days=7, min_labelled_positives=10),
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
    assert performance.reference_expected_cost_per_row is not None, "cost per row too"
    assert set(performance.segments) == {"channel", "merchant_category"}, "contract segments"


def test_summaries_read_back_in_window_order(monitored: MonitorOutput) -> None:
    history = read_summaries(monitored.directory.parent)
    assert history == [monitored.summary], "the one window written"


def test_empty_window_names_the_window_and_where_it_looked(
    contract: DatasetContract, reference: pd.DataFrame, config: MonitoringConfig, tmp_path: Path
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
            config=config,
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
        config=MonitoringConfig(write_html=False),
    )
    summary = output.summary
    assert summary.performance is None, "no label has arrived"
    note = summary.performance_note
    assert "only 0 positive label(s) among the 0 matured labels of 300" in note, note
    assert any("no label log at" in w for w in summary.warnings), summary.warnings
    assert note in summary.warnings, "the reader is warned, not only told in a note"
    assert output.report_path is None, "HTML not requested"
    assert not (output.directory / "report.html").exists(), "no HTML written"
    assert output.summary_path.is_file(), "summary.json always written"


def test_a_text_label_contract_with_a_label_delay_is_monitored(
    churn: DatasetContract, churn_reference: pd.DataFrame, tmp_path: Path
) -> None:
    traffic = pd.concat(
        [
            make_churn_frame(churn, 300, seed=30 + i, day=d)
            for i, d in enumerate(day_list(date(2026, 3, 1), 14))
        ],
        ignore_index=True,
    )
    traffic.loc[traffic.index[::10], "region"] = None  # an optional segment left out
    write_prediction_log(traffic, tmp_path / "predictions", churn, threshold=0.5)
    # The label feed delivered every label on 03-20 (a backfill): the 7-day delay alone says
    # which had matured by the window's end, so re-running a past window gives the same figures.
    received = pd.Series(pd.Timestamp("2026-03-20"), index=traffic.index)
    write_labels(traffic, tmp_path / "labels", churn, received)
    output = monitor_window(
        churn_reference,
        churn,
        predictions_dir=tmp_path / "predictions",
        labels_dir=tmp_path / "labels",
        monitoring_dir=tmp_path / "monitoring",
        window=date(2026, 3, 14),
        threshold=0.5,
        config=MonitoringConfig(write_html=False),
    )
    summary = output.summary
    assert summary.n_rows == 300, "the window's day, read by the contract's event-time column"
    performance = summary.performance
    assert performance is not None, summary.performance_note
    assert performance.n_predictions == 14 * 300, "14 trailing days (the default)"
    assert performance.n_labelled == 7 * 300, (
        "as of the end of 03-14, events up to 03-07 are 7 days old: 7 of the 14 days matured"
    )
    region = performance.segments["region"]
    assert list(region) == ["north", "south", "(missing)"], region
    assert region["(missing)"].n_labelled == pytest.approx(210, abs=20), "a tenth left out"
    stored = json.loads(output.summary_path.read_text(encoding="utf-8"))
    assert stored["performance"]["segments"]["region"]["north"]["n_labelled"] == (
        region["north"].n_labelled
    ), "per-segment figures are in summary.json"


def test_each_version_is_judged_on_its_own_predictions(
    churn: DatasetContract, churn_reference: pd.DataFrame, tmp_path: Path
) -> None:
    """v3 scored 03-01..03-05, then v4 (worse in the north) took over: kept apart."""
    days = day_list(date(2026, 3, 1), 14)
    traffic = pd.concat(
        [
            make_churn_frame(
                churn, 300, seed=50 + i, day=d, concept_drift_region="north" if i >= 5 else None
            )
            for i, d in enumerate(days)
        ],
        ignore_index=True,
    )
    version = pd.Series(
        ["3" if t.date() <= date(2026, 3, 5) else "4" for t in traffic["snapshot_time"]],
        index=traffic.index,
    )
    write_prediction_log(traffic, tmp_path / "predictions", churn, threshold=0.5, version=version)
    received = pd.Series(pd.Timestamp("2026-03-20"), index=traffic.index)
    write_labels(traffic, tmp_path / "labels", churn, received)
    output = monitor_window(
        churn_reference,
        churn,
        predictions_dir=tmp_path / "predictions",
        labels_dir=tmp_path / "labels",
        monitoring_dir=tmp_path / "monitoring",
        window=date(2026, 3, 14),
        threshold=0.5,
        config=MonitoringConfig(write_html=False),
        champion_version="4",
        version_references={"3": {"pr_auc": 0.7}, "4": {"pr_auc": 0.9}},
    )
    summary = output.summary
    by_version = summary.performance_by_version
    assert list(by_version) == ["3", "4"], by_version
    old, new = by_version["3"], by_version["4"]
    assert (old.n_predictions, old.n_labelled) == (1500, 1500), "v3's five days all matured"
    assert (old.first_day, old.last_day) == ("2026-03-01", "2026-03-05"), old
    assert (new.n_predictions, new.n_labelled) == (2700, 600), "7-day delay: 03-06, 03-07 only"
    assert old.reference_pr_auc == 0.7, "each version against its own training figure"
    assert new.reference_pr_auc == 0.9, new
    assert old.pr_auc is not None, old
    assert new.pr_auc is not None, new
    assert new.pr_auc < old.pr_auc - 0.1, "v4's own rows show its weakness"
    assert new.pr_auc_drop == pytest.approx(0.9 - new.pr_auc), new
    assert new.evaluated, f"{new.n_positives} positives, 30 needed"
    assert summary.champion_version == "4", summary.champion_version
    assert summary.champion_performance == new, "the champion's own figures"
    performance = summary.performance
    assert performance is not None, summary.performance_note
    assert performance.n_labelled == old.n_labelled + new.n_labelled, "the mix holds both"
    matured = summary.matured_by_day
    assert sorted(matured) == [d.isoformat() for d in days[:7]], "days with matured labels"
    assert all(c.n_labelled == 300 for c in matured.values()), matured
    assert sum(c.n_positives for c in matured.values()) == performance.n_positives, matured
    assert summary.matured_since("2026-03-06").n_labelled == 600, "from a given day on"
    stored = json.loads(output.summary_path.read_text(encoding="utf-8"))
    assert stored["performance_by_version"]["4"]["n_labelled"] == 600, "in summary.json"
    assert WindowSummary.from_dict(stored) == summary, "round-trips"


def test_a_summary_written_before_versions_were_kept_still_reads(
    monitored: MonitorOutput,
) -> None:
    old = monitored.summary.to_dict()
    for key in ("min_drifted_features", "champion_version", "performance_by_version"):
        old.pop(key)
    old.pop("matured_by_day")
    summary = WindowSummary.from_dict(old)
    assert summary.min_drifted_features == 1, "the share-only rule of that time"
    assert summary.champion_performance is None, "no version named"
    assert summary.matured_since("2026-03-01").n_labelled == 0, "no counts kept"
