"""The team stack, for real, as local processes: PostgreSQL, MLflow and Prefect servers, a worker.

One short loop, asserted from the outside: generate 30 days (a quality incident on day 2, drift
from day 16), validate, train a champion on the labels known before the onset and promote it
(CLI commands against the servers), register the deployments, start a worker and
``lifecycle serve --workers 2`` on the tracking server, score the drifted days and deliver their
labels over HTTP, then run the ``daily`` deployment through the worker: it monitors the last
day, its policy retrains, and the gate promotes version 2; the server swaps to it. Then:
runs and versions are rows in MLflow's PostgreSQL database; every scored row and label is a row
of the log store's tables (both API workers and the worker's flows share them; no log file is
written); the Evidently workspace holds the window's snapshot; the ``score`` deployment
scores a day's file with version 2 on a Dask cluster the worker's run starts; every flow run
is COMPLETED in the Prefect API; and no process of the stack is left.

``make stack-test`` runs it (CI too: ``.ci/run`` installs Debian's PostgreSQL when missing).
Without PostgreSQL, it is skipped with the reason.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from evidently.ui.workspace import Workspace

from monitoring.workspace import workspace_dir
from serving.log_store import DEFAULT_TABLE_PREFIX as PREFIX
from tests.postgres import PostgresServer, free_port, postgres_unavailable, running_postgres
from tests.stack.processes import BIN, Stack, alive_in_groups

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(postgres_unavailable() is not None, reason=str(postgres_unavailable())),
]

DAYS = 30
ONSET = 16
START = date(2026, 1, 1)
LAST_DAY = START + timedelta(days=DAYS - 1)
ROWS_PER_DAY = 1500
#: Retrain as soon as one window drifts: the short loop has no time for the default schedule.
POLICY = {
    "LIFECYCLE_RETRAINING__DRIFT_RESPONSE": "immediate",
    "LIFECYCLE_RETRAINING__DRIFT_WINDOWS_TO_RETRAIN": "1",
    "LIFECYCLE_SERVING__POLL_SECONDS": "1",
}
FIGURES: dict[str, object] = {}


def lifecycle(env: dict[str, str], *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run one CLI command against the stack; fail with its output on an unexpected exit."""
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "lifecycle"), *args], env=env, capture_output=True, text=True, timeout=600
    )
    FIGURES[f"lifecycle {args[0]}"] = round(time.monotonic() - started, 1)
    assert done.returncode in ok, (
        f"lifecycle {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[dict]:
    folder = tmp_path_factory.mktemp("stack")
    started = time.monotonic()
    mlflow_db = postgres.create_database("mlflow")
    prefect_db = postgres.create_database("prefect")
    logs_db = postgres.create_database("lifecycle")
    running = Stack(folder)
    mlflow_port, prefect_port, api_port = free_port(), free_port(), free_port()
    base = {
        "LIFECYCLE_HOME": str(folder / "home"),
        "LIFECYCLE_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The prediction and label logs in PostgreSQL: both API workers and the flows share them.
        "LIFECYCLE_LOG_DATABASE_URL": logs_db,
        **POLICY,
    }
    try:
        mlflow = running.start(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                mlflow_db.replace("postgresql://", "postgresql+psycopg://"),
                "--serve-artifacts",
                "--artifacts-destination",
                str(folder / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
                "--workers",
                "1",
            ],
            {},
        )
        prefect = running.start(
            "prefect-server",
            [
                str(BIN / "prefect"),
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(prefect_port),
            ],
            {
                "PREFECT_HOME": str(folder / "prefect-server"),
                "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.replace(
                    "postgresql://", "postgresql+asyncpg://"
                ),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_UI_ENABLED": "false",
            },
        )
        FIGURES["start mlflow server (s)"] = round(
            mlflow.wait_ready(f"http://127.0.0.1:{mlflow_port}/health", 180), 1
        )
        FIGURES["start prefect server (s)"] = round(
            prefect.wait_ready(f"http://127.0.0.1:{prefect_port}/api/health", 180), 1
        )
        yield {
            "folder": folder,
            "stack": running,
            "env": {**base},
            "api_port": api_port,
            "mlflow_db": mlflow_db,
            "logs_db": logs_db,
            "prefect_api": base["PREFECT_API_URL"],
            "started": started,
        }
    finally:
        groups = running.group_ids()
        running.stop()
        FIGURES["left behind"] = alive_in_groups(groups)
        (folder / "figures.json").write_text(json.dumps(FIGURES, indent=2))
        print("stack figures:", json.dumps(FIGURES))


def _flow_runs(prefect_api: str) -> list[dict]:
    response = httpx.post(f"{prefect_api}/flow_runs/filter", json={"limit": 200}, timeout=30)
    response.raise_for_status()
    return list(response.json())


def _score_days(client: httpx.Client, raw: Path, days: list[date], contract: object) -> None:
    from pipelines.demo import deliver_labels, score_batch

    for day in days:
        batch = pd.read_parquet(raw / f"{day:%Y-%m-%d}.parquet")
        _, failed = score_batch(client, batch, contract)  # type: ignore[arg-type]
        assert failed == 0, f"{failed} rows of {day} failed to score"
        assert deliver_labels(client, batch, contract) == len(batch)  # type: ignore[arg-type]


def test_the_loop_runs_on_the_team_stack(stack: dict) -> None:
    from features.contract import load_contract
    from pipelines.settings import DEFAULT_CONTRACT

    env = {**stack["env"]}
    folder: Path = stack["folder"]
    lifecycle(
        env,
        "generate",
        "--scenario",
        "default",
        "--days",
        str(DAYS),
        "--incident-day",
        "2",
        "--onset-day",
        str(ONSET),
        "--rows-per-day",
        str(ROWS_PER_DAY),
    )
    assert "blocked" in lifecycle(env, "validate", ok=(1,))
    cutoff = f"{START + timedelta(days=ONSET):%Y-%m-%d}"
    lifecycle(env, "train", "--cutoff", cutoff)
    assert "promote version 1" in lifecycle(env, "promote")
    lifecycle(env, "deploy", "--pool", "lifecycle", "--no-schedule")

    running: Stack = stack["stack"]
    worker = running.start(
        "worker",
        [str(BIN / "prefect"), "worker", "start", "--pool", "lifecycle", "--type", "process"],
        {**env, "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_HOME": str(folder / "worker")},
    )
    api = running.start(
        "serve",
        [str(BIN / "lifecycle"), "serve", "--workers", "2", "--port", str(stack["api_port"])],
        env,
    )
    base_url = f"http://127.0.0.1:{stack['api_port']}"
    FIGURES["start lifecycle serve --workers 2 (s)"] = round(
        api.wait_ready(f"{base_url}/ready", 180), 1
    )
    worker.wait_ready(None, 3)

    contract = load_contract(DEFAULT_CONTRACT)
    raw = folder / "home" / "data" / "raw"
    with httpx.Client(base_url=base_url, timeout=60) as client:
        assert str(client.get("/v1/model").json()["version"]) == "1"
        _score_days(client, raw, [START + timedelta(days=d) for d in range(ONSET, DAYS)], contract)

        started = time.monotonic()
        ran = _run_deployment(env, "daily/daily", {"day": f"{LAST_DAY:%Y-%m-%d}"})
        FIGURES["daily deployment through the worker (s)"] = round(time.monotonic() - started, 1)
        assert ran["state"] == "COMPLETED", ran

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if str(client.get("/v1/model").json()["version"]) == "2":
                break
            time.sleep(0.5)
        assert str(client.get("/v1/model").json()["version"]) == "2", ran

    started = time.monotonic()
    scored = folder / "scored"
    batch = raw / f"{LAST_DAY:%Y-%m-%d}.parquet"
    ran = _run_deployment(env, "score/score", {"source": str(batch), "output": str(scored)})
    FIGURES["score deployment on Dask through the worker (s)"] = round(
        time.monotonic() - started, 1
    )
    assert ran["state"] == "COMPLETED", ran
    manifest = json.loads((scored / "manifest.json").read_text())
    assert manifest["rows_out"] == ROWS_PER_DAY
    assert manifest["model_version"] == "2"

    import psycopg

    with psycopg.connect(stack["mlflow_db"]) as connection:
        versions = connection.execute(
            "SELECT version FROM model_versions ORDER BY version"
        ).fetchall()
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()
    assert [row[0] for row in versions] == [1, 2]
    assert runs is not None
    assert runs[0] >= 2
    with psycopg.connect(stack["logs_db"]) as connection:
        logged = connection.execute(f"SELECT count(*) FROM {PREFIX}predictions").fetchone()
        labelled = connection.execute(f"SELECT count(DISTINCT id) FROM {PREFIX}labels").fetchone()
    assert logged is not None
    assert logged[0] == (DAYS - ONSET) * ROWS_PER_DAY
    assert labelled is not None
    assert labelled[0] == (DAYS - ONSET) * ROWS_PER_DAY
    assert not (folder / "home" / "predictions").exists(), "the log went to files, not PostgreSQL"
    workspace = Workspace(str(workspace_dir(folder / "home" / "monitoring")))
    projects = workspace.list_projects()
    assert len(projects) == 1
    assert len(workspace.list_runs(projects[0].id)) >= 1
    states = {run["name"]: run["state_type"] for run in _flow_runs(stack["prefect_api"])}
    assert states, "no flow run reached the Prefect server"
    assert set(states.values()) == {"COMPLETED"}, states
    FIGURES["stack wall time (s)"] = round(time.monotonic() - stack["started"], 1)


def _run_deployment(env: dict[str, str], name: str, parameters: dict[str, str]) -> dict:
    """Create a run of deployment ``flow/deployment`` and wait for a final state via the API."""
    api = env["PREFECT_API_URL"]
    deployment = httpx.get(f"{api}/deployments/name/{name}", timeout=30)
    deployment.raise_for_status()
    created = httpx.post(
        f"{api}/deployments/{deployment.json()['id']}/create_flow_run",
        json={"parameters": parameters},
        timeout=30,
    )
    created.raise_for_status()
    run_id = created.json()["id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30).json()
        if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return {"state": run["state_type"], "message": run["state"]["message"]}
        time.sleep(2)
    return {"state": "TIMEOUT"}
