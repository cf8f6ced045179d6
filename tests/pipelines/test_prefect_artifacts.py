"""Flow runs leave what they decided in the Prefect API: artifacts and log lines.

Read back with Prefect's own client from the session's test API, as the Prefect UI reads them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from pipelines.runtime import prefect_environment
from pipelines.settings import load_settings
from training.gate import PromotionDecision

pytestmark = pytest.mark.e2e

DAYS = 2
INCIDENT = 1  # the second day's batch is blocked


def _read(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST a filter to the Prefect API, as the UI does.

    Prefect 3.8.8's client sends nulls for the unset limit and sort, which its server rejects.
    """
    import prefect.settings

    api = str(prefect.settings.PREFECT_API_URL.value())
    answer = httpx.post(f"{api}{path}", json={"offset": 0, **body}, timeout=30)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def _artifacts(flow_run_id: UUID) -> list[dict[str, Any]]:
    only_this_run = {"flow_run_id": {"any_": [str(flow_run_id)]}}
    body = {"artifacts": only_this_run, "limit": 50, "sort": "CREATED_DESC"}
    return _read("/artifacts/filter", body)


def _log_lines(flow_run_id: UUID) -> list[str]:
    """The run's log lines in the API, once this process has sent what it queued."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    only_this_run = {"flow_run_id": {"any_": [str(flow_run_id)]}}
    body = {"logs": only_this_run, "limit": 200, "sort": "TIMESTAMP_ASC"}
    return [str(log["message"]) for log in _read("/logs/filter", body)]


def test_validate_leaves_a_table_of_each_batch(tmp_path: Path, prefect_harness: None) -> None:
    from pipelines.artifacts import VALIDATE_KEY
    from pipelines.flows import validate_flow

    case = use_case("card_fraud")
    settings = load_settings(home=tmp_path, contract=case.contract_file)
    days = [
        (
            DEFAULT_START + timedelta(days=i),
            case.generate_day(
                i, "quality_incident", seed=3, days=DAYS, rows=200, incident_day=INCIDENT
            ),
        )
        for i in range(DAYS)
    ]
    write_batches(days, settings.paths.raw)
    state = validate_flow(settings, return_state=True)
    assert state.is_completed(), state
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    (artifact,) = _artifacts(flow_run_id)
    assert artifact["key"] == VALIDATE_KEY, artifact
    assert artifact["type"] == "table", artifact
    assert "1 passed, 1 blocked (2026-01-02)" in str(artifact["description"]), artifact
    text = str(artifact["data"])
    assert "blocked" in text, text
    assert "passed" in text, text
    assert any("1 blocked" in line for line in _log_lines(flow_run_id)), "the run's log says so"


def test_promotion_decision_is_an_artifact_and_never_fails_the_run(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    from pipelines import artifacts

    decision = PromotionDecision(
        verdict="reject",
        reason="PR-AUC gain 0.004 is below the 0.01 margin",
        challenger_version="3",
        champion_version="2",
        numbers={"challenger_pr_auc": 0.412, "champion_pr_auc": 0.408},
    )

    @flow(name="gate-report")
    def gate_report() -> str:
        artifacts.promotion(decision)
        return decision.verdict

    artifacts.promotion(decision)  # outside a run: nothing to attach it to, and no error
    state = gate_report(return_state=True)
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    (artifact,) = _artifacts(flow_run_id)
    assert artifact["key"] == artifacts.PROMOTE_KEY, artifact
    text = str(artifact["data"])
    assert "Gate: reject" in text, text
    assert "below the 0.01 margin" in text, text
    assert "challenger_pr_auc | 0.412" in text, text

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("the Prefect API is gone")

    monkeypatch.setattr(artifacts, "create_markdown_artifact", unavailable)
    assert gate_report() == "reject", "a failed artifact does not fail the flow"


def test_logs_reach_the_api_and_not_the_console(tmp_path: Path, prefect_harness: None) -> None:
    """The CLI's environment: a run's INFO lines in the API, nothing printed."""
    import prefect.settings

    environment = {
        **os.environ,
        **prefect_environment(load_settings(home=tmp_path), {}),
        "PREFECT_API_URL": str(prefect.settings.PREFECT_API_URL.value()),
    }
    script = textwrap.dedent(
        """
        import logging
        from prefect import flow, get_run_logger

        @flow(name="quiet")
        def quiet() -> None:
            get_run_logger().info("from the flow")
            logging.getLogger("pipelines.example").info("from a project logger")

        print(quiet(return_state=True).state_details.flow_run_id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stderr == "", f"the console stays quiet: {done.stderr}"
    lines = _log_lines(UUID(done.stdout.strip().splitlines()[-1]))
    assert "from the flow" in lines, lines
    assert "from a project logger" in lines, lines


def test_the_ui_server_points_the_browser_at_itself(tmp_path: Path) -> None:
    """`make prefect-ui`: the home's database, and no PREFECT_UI_API_URL to set by hand."""
    from pipelines.prefect_server import ui_environment

    caller = {"PREFECT_API_URL": "http://elsewhere:4200/api", "PATH": "/bin"}
    env = ui_environment(tmp_path / "prefect", "127.0.0.1", 4201, caller)
    assert env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4201/api", env
    assert "PREFECT_API_URL" not in env, "the UI would call the caller's server instead"
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect"), "the run home's database"
    assert env["PATH"] == "/bin", "the rest of the environment is kept"
