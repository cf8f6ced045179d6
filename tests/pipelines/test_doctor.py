"""`lifecycle doctor`: what a killed command leaves behind is finished or closed."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from mlflow import MlflowClient

from features import vocabulary as vocab
from features.contract import load_contract
from pipelines.faults import this_process
from pipelines.flows import fail_stale_runs, repair
from pipelines.settings import load_settings
from tests.pipelines.cli_runner import lifecycle
from training import registry


def test_doctor_in_a_clean_home_has_nothing_to_repair(tmp_path: Path) -> None:
    run = lifecycle(tmp_path, "doctor")
    assert run.code == 0, str(run)
    assert "nothing to repair" in run.stdout, str(run)


def test_a_run_left_running_by_a_killed_process_is_marked_failed(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    contract = load_contract(settings.contract)
    client = registry.connect(settings.resolved_tracking_uri)
    experiment = registry.ensure_experiment(
        client, contract.experiment_name, settings.paths.mlflow_artifacts
    )
    left = client.create_run(experiment).info.run_id
    assert fail_stale_runs(settings, timedelta(hours=1)) == [], "a fresh run is not stale"
    done = fail_stale_runs(settings, timedelta(0))
    assert done == [
        f"MLflow run {left} was left RUNNING (started more than 0:00:00 ago): marked FAILED"
    ], done
    reader = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    assert reader.get_run(left).info.status == "FAILED", "the run is closed"
    assert fail_stale_runs(settings, timedelta(0)) == [], "a second pass finds nothing"
    assert repair(settings) == [], "no interrupted promotion in this home"


def test_a_run_whose_process_is_gone_is_failed_without_waiting(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    contract = load_contract(settings.contract)
    client = registry.connect(settings.resolved_tracking_uri)
    experiment = registry.ensure_experiment(
        client, contract.experiment_name, settings.paths.mlflow_artifacts
    )
    dead = f"{socket.gethostname()}:{_pid_of_finished_child()}"
    gone = client.create_run(experiment, tags={vocab.RUN_PROCESS_TAG: dead}).info.run_id
    alive = client.create_run(experiment, tags={vocab.RUN_PROCESS_TAG: this_process()})
    done = fail_stale_runs(settings)
    assert done == [
        f"MLflow run {gone} was left RUNNING (its process {dead} is gone): marked FAILED"
    ], done
    reader = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    assert reader.get_run(gone).info.status == "FAILED", "the dead process's run is closed"
    assert reader.get_run(alive.info.run_id).info.status == "RUNNING", "a live one is not"


def _pid_of_finished_child() -> int:
    """The PID of a process that has exited and been reaped (so it names no live process)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
