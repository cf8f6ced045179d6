"""The run report: gathering on hand-made records, the page it draws, and a real demo home."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from features.contract import Costs
from pipelines.report import (
    DayPoint,
    Event,
    HomeRecords,
    Quarantined,
    VersionRecord,
    assemble,
    calibration_curve,
    cost_curve,
    dated_audit,
    day_points,
    drift_incidents,
    events_from_audit,
    quarantine_incidents,
    recall_interval,
    render_report,
)

# One worker builds the session demo for every module of this group (tests/conftest.py).
pytestmark = pytest.mark.xdist_group("default-demo")


def row(day: int, when: str, **changes: Any) -> dict[str, Any]:
    base = {
        "day": day,
        "date": when,
        "rows": 100,
        "blocked": False,
        "champion_version": "1",
        "failed_requests": 0,
        "window_id": when,
        "action": "-",
    }
    return {**base, **changes}


def window(when: str, drift: float, **changes: Any) -> dict[str, Any]:
    base = {
        "window_id": when,
        "n_rows": 100,
        "drift_share": drift,
        "drift_share_threshold": 0.3,
        "data_drift_detected": drift >= 0.3,
        "prediction_drift": {"score": drift / 2, "threshold": 0.1},
        "performance": {"pr_auc": 0.5, "recall_at_threshold": 0.7},
        "performance_by_version": {"1": {"pr_auc": 0.5, "evaluated": True}},
        "champion_version": "1",
    }
    return {**base, **changes}


AUDIT = [
    {"at": "t0", "kind": "batch_passed", "batch": "2026-01-01", "reason": "ok"},
    {"at": "t1", "kind": "promote", "challenger_version": "1", "reason": "floor <cleared>"},
    {"at": "t2", "kind": "batch_blocked", "batch": "2026-01-03", "reason": "bad"},
    {"at": "t3", "kind": "retrain", "window_id": "2026-01-05", "trigger": "drift", "reason": "r"},
    {"at": "t4", "kind": "promote", "challenger_version": "2", "reason": "beats"},
    {"at": "t5", "kind": "hold", "window_id": "2026-01-06", "reason": "cool-down"},
    {"at": "t6", "kind": "rollback", "from_version": "2", "to_version": "1", "reason": "oops"},
]


def summary() -> dict[str, Any]:
    return {
        "use_case": "visits",
        "scenario": "default",
        "days": 7,
        "seed": 1,
        "ground_truth": {"incident_day": 2, "onset_day": 3},
        "timeline": [
            row(2, "2026-01-03", blocked=True, window_id=None),
            row(3, "2026-01-04"),
            row(4, "2026-01-05", action="retrain (drift) -> v2 promoted"),
            row(5, "2026-01-06", champion_version="2"),
        ],
        "champion_version": "1",
        "checks": {"retrains": 1, "matured_pr_auc_trough": 0.123456, "served_versions": ["1"]},
    }


def records(**changes: Any) -> HomeRecords:
    base: dict[str, Any] = {
        "summary": summary(),
        "windows": [
            window("2026-01-04", 0.4),
            window("2026-01-05", 0.5),
            window("2026-01-06", 0.0, champion_version="2"),
        ],
        "audit": AUDIT,
        "quarantine": [
            Quarantined(
                "2026-01-03", 100, [{"expectation_type": "expect_column_values_to_be_between"}]
            )
        ],
        "versions": [],
        "model_name": "visits-model",
    }
    base.update(changes)
    return HomeRecords(**base)


def test_audit_records_are_dated_by_the_window_or_batch_they_follow() -> None:
    dated = dated_audit(AUDIT)
    days = [r["day_date"] for r in dated]
    assert days[1] == "2026-01-01", "the bootstrap promotion follows the batches it trained on"
    assert days[4] == "2026-01-05", "a promotion belongs to the retrain before it"
    assert days[6] == "2026-01-06", "a rollback is dated by the last window seen"
    events = events_from_audit(dated)
    assert [(e.kind, e.version) for e in events] == [
        ("promote", "1"),
        ("retrain", None),
        ("promote", "2"),
        ("rollback", "1"),
    ], "batches and holds are not markers"
    assert events[3].text == "rollback v2 -> v1", events[3]


def test_day_points_merge_the_timeline_and_the_windows() -> None:
    events = events_from_audit(dated_audit(AUDIT))
    points = {
        p.date: p for p in day_points(summary(), records().windows, records().quarantine, events)
    }
    assert points["2026-01-01"].champion == "1", "the bootstrap promotion names the champion"
    assert points["2026-01-01"].day == 0, "day numbers extend back from the timeline"
    assert points["2026-01-03"].blocked_rows == 100, "the quarantined batch's rows are blocked"
    assert points["2026-01-03"].champion == "1", "a day without a window keeps the champion"
    assert points["2026-01-05"].drift_share == 0.5, "the window closing that day gives drift"
    assert points["2026-01-05"].score_drift == 0.25, "the prediction drift is the score shift"
    assert points["2026-01-05"].pr_auc_by_version == {"1": 0.5}, "per-version matured PR-AUC"
    assert points["2026-01-05"].action.startswith("retrain"), "the demo's action is kept"


def test_a_quarantined_batch_is_a_schema_or_quality_incident() -> None:
    points = [
        DayPoint("2026-01-03", 2, rows=100, blocked_rows=100),
        DayPoint("2026-01-04", 3, rows=100),
    ]
    quality = Quarantined("2026-01-03", 100, [{"expectation_type": "expect_column_median"}])
    schema = Quarantined("2026-01-03", 100, [{"expectation_type": "expect_column_to_exist"}])
    found = quarantine_incidents([quality, schema], points, "2026-01-03")
    assert [i.kind for i in found] == ["data quality", "schema"], found
    assert "scenario ground truth" in found[0].began, "the scenario's incident day is named"
    assert found[0].days_to_recovery == 1, "recovered when the next batch passes"
    assert "never trained on" in found[0].action, found[0].action


def test_drift_is_timed_from_the_onset_to_the_promotion() -> None:
    points = [
        DayPoint("2026-01-02", 1, drift_detected=True, drift_share=0.4),
        DayPoint("2026-01-03", 2, drift_detected=False),
        DayPoint("2026-01-05", 4, drift_detected=True, drift_share=0.5),
        DayPoint("2026-01-06", 5, drift_detected=True, drift_share=0.4),
        DayPoint("2026-01-09", 8, drift_detected=False),
    ]
    events = [
        Event("2026-01-06", "retrain", None, "retrain (drift)"),
        Event("2026-01-06", "reject", "2", "reject v2"),
        Event("2026-01-08", "promote", "3", "promote v3"),
    ]
    found = drift_incidents(points, events, "2026-01-04", [], 0.05)
    assert [i.kind for i in found] == ["covariate drift", "covariate drift"], found
    alarm, real = found
    assert "false alarm" in alarm.began, "drift that ended before the onset is a false alarm"
    assert real.began == "2026-01-04 (scenario ground truth)", "an onset without a point: date"
    assert real.detected.startswith("day 4 (2026-01-05)"), real.detected
    assert "reject v2" in real.action, real.action
    assert "promote v3" in real.action, real.action
    assert real.days_to_recovery == 4, "from the onset (01-04) to the promotion (01-08)"


def test_concept_drift_is_read_off_the_gate_comparison() -> None:
    old = VersionRecord("1", "r1", "run-1", {"pr_auc": 0.40}, {})
    tags = {
        "gate.compared_with": "1",
        "gate.numbers": json.dumps({"metric": "pr_auc", "champion": 0.30}),
    }
    new = VersionRecord("2", "r2", "run-2", {"pr_auc": 0.5}, tags)
    points = [DayPoint("2026-01-05", 4), DayPoint("2026-01-08", 7)]
    events = [Event("2026-01-08", "promote", "2", "promote v2")]
    found = drift_incidents(points, events, "2026-01-05", [old, new], 0.05)
    assert [i.kind for i in found] == ["concept drift"], found
    assert found[0].days_to_recovery == 3, found[0]
    assert "0.400" in found[0].evidence, found[0].evidence
    assert "0.300" in found[0].evidence, found[0].evidence
    assert drift_incidents(points, events, None, [old, new], 0.2) == [], "a small drop is not one"


def test_holdout_curves() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(1000)
    y = (rng.random(1000) < scores).astype(np.int64)
    calibration = calibration_curve(y, scores, bins=5)
    assert len(calibration) == 5, calibration
    assert sum(n for _, _, n in calibration) == 1000, "every row in one bin"
    assert all(abs(mean - rate) < 0.1 for mean, rate, _ in calibration), "calibrated scores"
    curve = cost_curve(y, scores, Costs(false_negative=10, false_positive=1), points=20)
    shares = [share for share, _ in curve]
    assert shares == sorted(shares), "ordered by the share flagged"
    assert shares[-1] == 1.0, "flagging everything is the last point"
    recall = recall_interval(y, scores, 0.5, resamples=200, confidence=0.9, seed=0)
    assert recall is not None, "both classes: recall is defined"
    assert recall.low <= recall.estimate <= recall.high, recall
    assert (
        recall_interval(
            np.zeros(5, np.int64), scores[:5], 0.5, resamples=200, confidence=0.9, seed=0
        )
        is None
    )


def test_the_page_is_self_contained_and_every_chart_has_data() -> None:
    page = render_report(assemble(records()))
    assert not re.search(
        r"""(src|href)=["']?(https?:)?//""", page.replace('href="http://127.0.0.1', "")
    ), "no asset from the network: the page reads offline"
    assert "<script src" not in page, "scripts are inline"
    assert "<link" not in page, "styles are inline"
    charts = dict(re.findall(r'data-chart="([a-z_0-9]+)" data-points="(\d+)"', page))
    assert set(charts) == {"pr_auc", "recall", "drift_share", "score_drift", "blocked", "champion"}
    assert all(int(n) > 0 for n in charts.values()), charts
    assert page.count('class="marker"') == 4, "retrain, two promotions and the rollback"
    assert "floor &lt;cleared&gt;" in page, "audit reasons are escaped"
    assert 'href="../data/quarantine/2026-01-03/data_docs.html"' in page, "quarantine linked"
    assert 'href="../monitoring/2026-01-05/report.html"' in page, "Evidently report linked"
    assert "0.123" in page, "checks are shown"
    assert "0.123456" not in page, "checks are shown rounded"


def test_a_home_without_a_demo_still_gets_a_report() -> None:
    page = render_report(assemble(records(summary=None)))
    assert "Run report: visits-model" in page, "titled by the model"
    assert 'data-chart="drift_share" data-points="3"' in page, "days come from the windows"
    empty = render_report(assemble(records(summary=None, windows=[], audit=[], quarantine=[])))
    assert "No day to chart yet" in empty, empty
    assert "No incident" in empty, empty


# ---------------------------------------------------------------- a real demo home (e2e)


@pytest.mark.e2e
def test_the_report_of_a_demo_matches_its_summary(default_demo: Path, tmp_path: Path) -> None:
    from pipelines.report import gather
    from pipelines.settings import load_settings
    from tests.pipelines.cli_runner import lifecycle

    written = json.loads((default_demo / "demo" / "summary.json").read_text())
    checks, truth = written["checks"], written["ground_truth"]
    report = assemble(gather(load_settings(home=default_demo)))
    kinds = [i.kind for i in report.incidents]
    assert kinds.count("data quality") == len(checks["blocked_batches"]), kinds
    quality = report.incidents[kinds.index("data quality")]
    assert quality.began.startswith(f"day {truth['incident_day']} "), quality
    drift = report.incidents[kinds.index("covariate drift")]
    assert drift.began.startswith(f"day {truth['onset_day']} "), drift
    assert drift.detected.startswith(f"day {checks['first_drift_day']} "), drift
    promoted = checks["promotion_days"][0]
    assert drift.recovered is not None, drift
    assert drift.recovered.startswith(f"day {promoted} "), drift
    assert drift.days_to_recovery == promoted - truth["onset_day"], drift
    retrains = [e for e in report.events if e.kind == "retrain"]
    assert len(retrains) == checks["retrains"], "each retrain is a marker"
    assert {v.version for v in report.versions} >= {"1", written["champion_version"]}
    for version in report.versions:
        assert {"pr_auc", "recall_at_threshold"} <= set(version.intervals), version.version
        assert version.calibration, version.version
        assert version.cost_curve, version.version
        assert version.segments, version.version
        assert version.tags.get("gate.verdict"), "the gate's comparison is read from the tags"

    out = tmp_path / "elsewhere" / "report.html"
    run = lifecycle(default_demo, "report", "--out", str(out))
    assert run.code == 0, run
    page = out.read_text()
    assert 'data-chart="pr_auc"' in page, "the command writes the same report"
    link = re.search(r'href="([^"]*monitoring/[^"]*/report\.html)"', page)
    assert link, "the page links the Evidently reports"
    assert (out.parent / link.group(1)).resolve().is_file(), "links resolve from --out"


def test_holdout_figures_read_the_stored_0_1_label_of_a_text_label_contract() -> None:
    """The reference keeps the label as 0/1 even where the contract's labels are text."""
    import pandas as pd

    from features.contract import load_contract
    from pipelines.report import holdout_figures
    from pipelines.settings import load_settings

    contract = load_contract(Path("data/contracts/churn.yaml"))
    assert contract.positive not in (0, 1), "the case this guards: text labels"
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    holdout = pd.DataFrame(
        {
            contract.label_column: y,
            contract.score_name: np.clip(y * 0.4 + rng.random(400) * 0.6, 0, 1),
        }
    )
    figures = holdout_figures(holdout, contract, {}, load_settings(home=Path("unused-home")))
    assert "calibration" in figures, sorted(figures)
    assert "cost_curve" in figures, sorted(figures)
