"""The whole loop, short: a real uvicorn server, real flows, real MLflow, Evidently and GX.

Runs the demo on the `default` scenario (quality incident, then drift) of both built-in use
cases, card fraud and churn (a text label, a constant label delay, a segment that is not a
feature), and on `none` (the false-alarm check), and asserts on the timeline the demo writes to
its summary.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from data.usecases import use_case
from features.contract import load_contract
from pipelines.audit import read_decisions
from pipelines.settings import load_settings
from tests.pipelines.conftest import DEMO_DAYS, DEMO_SEED

# One worker builds the session demo for every module of this group (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("default-demo")]

DAYS, SEED = DEMO_DAYS, DEMO_SEED


def run(home: Path, scenario: str, name: str = "card_fraud") -> tuple[dict[str, Any], Any]:
    from pipelines.demo import run_demo

    settings = load_settings(home=home, contract=use_case(name).contract_file)
    summary = run_demo(settings, scenario=scenario, days=DAYS, seed=SEED)
    assert summary.path is not None, "the summary is written"
    return read_summary(settings)


def read_summary(settings: Any) -> tuple[dict[str, Any], Any]:
    written = json.loads((settings.paths.demo / "summary.json").read_text())
    assert written["timeline"], "one row per replayed day"
    return written, settings


@pytest.mark.parametrize(
    "name",
    # churn runs its own demo: a worker of its own, beside the one that builds the shared demo.
    ["card_fraud", pytest.param("churn", marks=pytest.mark.xdist_group("churn-demo"))],
)
def test_default_scenario_blocks_detects_retrains_and_swaps(
    name: str, tmp_path: Path, prefect_harness: None, request: pytest.FixtureRequest
) -> None:
    if name == "card_fraud":  # the session's shared run of exactly this demo
        summary, settings = read_summary(
            load_settings(home=request.getfixturevalue("default_demo"))
        )
    else:
        summary, settings = run(tmp_path, "default", name)
    truth, checks = summary["ground_truth"], summary["checks"]
    onset, incident = truth["onset_day"], truth["incident_day"]

    blocked = [row for row in summary["timeline"] if row["blocked"]]
    assert [row["day"] for row in blocked] == [incident], "only the incident day is blocked"
    assert checks["blocked_batches_never_trained_on"], checks
    assert blocked[0]["served_version"] is None, "a blocked batch is never scored"

    drift_days = [row["day"] for row in summary["timeline"] if row["drift_detected"]]
    assert drift_days, "the drift is detected"
    assert min(drift_days) >= onset, f"no drift before the onset (day {onset}): {drift_days}"
    assert min(drift_days) <= onset + 2, f"drift found within 2 days of onset: {drift_days}"

    assert checks["retrains"] >= 1, checks
    assert checks["promotions"] >= 1, checks
    assert summary["champion_version"] != "1", "the champion changed"
    served = checks["served_versions"]
    assert len(served) >= 2, f"the running server answered with a new version: {served}"
    assert summary["champion_version"] in served, "the final champion is what the server answers"
    assert checks["failed_requests"] == 0, "no request failed, swaps included"

    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    model_name = load_contract(settings.contract).model_name
    champion = client.get_model_version_by_alias(model_name, "champion")
    assert str(champion.version) == summary["champion_version"], "registry agrees with summary"
    kinds = [r["kind"] for r in read_decisions(settings.paths.audit_log)]
    assert "retrain" in kinds, "the retrain verdict is recorded"
    assert kinds.count("promote") == 1 + checks["promotions"], "bootstrap + retrain promotions"
    report = settings.paths.monitoring / f"{summary['timeline'][-1]['date']}" / "report.html"
    assert report.exists(), "each window writes its Evidently report"

    contract = load_contract(settings.contract)
    window = json.loads(report.with_name("summary.json").read_text())
    assert window["performance"] is not None, window["performance_note"]
    assert set(window["performance"]["segments"]) == set(contract.segments), (
        "monitoring reports performance per segment, features or not"
    )
    logged = json.loads(next(settings.paths.predictions.glob("*.jsonl")).read_text().split("\n")[0])
    assert contract.score_name in logged, f"the log names the score as the contract does: {logged}"
    for column in contract.extra_segments:
        assert logged[column] is not None, f"segment '{column}' (not a feature) is logged"


@pytest.mark.xdist_group("none-demo")  # its own demo: free to run beside the shared one
def test_none_scenario_raises_no_false_alarm(tmp_path: Path, prefect_harness: None) -> None:
    summary, _ = run(tmp_path, "none")
    checks = summary["checks"]
    assert checks["blocked_batches"] == [], "clean data is never blocked"
    assert checks["retrains"] == 0, f"no retrain without drift: {summary['retrains']}"
    drifted = [row["day"] for row in summary["timeline"] if row["drift_detected"]]
    assert drifted == [], f"no window flagged on stationary data: {drifted}"
    assert checks["served_versions"] == ["1"], "the bootstrap champion serves throughout"
    assert checks["failed_requests"] == 0, checks
