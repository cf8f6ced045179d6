"""A team's own table, end to end through the CLI: draft a contract, ingest, replay, serve.

The data is a CSV that no generator of the project made: scikit-learn's bundled breast-cancer
table (column names with spaces), grown to a few thousand rows with jitter and label noise,
given a text label and a synthetic visit time, and no id column. The exact command shapes of
issue 6 are the interface under test:

    lifecycle contract init F --label ... --positive-label ... --event-time ... --out C
    lifecycle ingest F --contract C
    lifecycle demo --contract C --data F
    lifecycle serve --contract C
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from tests.pipelines.cli_runner import (
    LIFECYCLE,
    Run,
    assert_user_error,
    cli_env,
    files_under,
    lifecycle,
    snapshot,
)

pytestmark = pytest.mark.e2e

DAYS = 36
COPIES = 4
LABEL = "diagnosis"
POSITIVE = "malignant"


def own_table(seed: int = 0) -> pd.DataFrame:
    """The bundled table, four jittered copies with 8 % of labels flipped, over 36 days."""
    data = load_breast_cancer(as_frame=True)
    features: pd.DataFrame = data.data
    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(COPIES):
        noise = rng.normal(0.0, 0.03, features.shape) * features.std().to_numpy()
        copies.append((features + noise).clip(lower=0).round(4))
    table = pd.concat(copies, ignore_index=True)
    target = np.tile(data.target.to_numpy(), COPIES)  # 0 = malignant in scikit-learn
    flip = rng.random(len(target)) < 0.08
    table[LABEL] = np.where((target == 0) ^ flip, POSITIVE, "benign")
    order = rng.permutation(len(table))
    table = table.iloc[order].reset_index(drop=True)
    seconds = rng.integers(0, 86_400, len(table))
    day = np.arange(len(table)) % DAYS
    start = pd.Timestamp("2026-03-01")
    table["visit_time"] = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, "s")
    return table.sort_values("visit_time", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("own-data")
    own_table().to_csv(folder / "visits.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def drafted(workspace: Path) -> tuple[Path, Run]:
    """`lifecycle contract init` on the table: the contract's path and the run."""
    contract = workspace / "visits.yaml"
    run = lifecycle(
        workspace,
        "contract", "init", str(workspace / "visits.csv"),
        "--label", LABEL, "--positive-label", POSITIVE,
        "--event-time", "visit_time", "--label-delay", "3d",
        "--out", str(contract),
    )  # fmt: skip
    return contract, run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_draft_ingest_replay_and_serve_a_table_the_project_never_saw(
    workspace: Path, drafted: tuple[Path, Run], prefect_api: str
) -> None:
    home, data = workspace / "home", workspace / "visits.csv"
    home.mkdir()
    contract, draft = drafted
    assert draft.code == 0, f"contract init drafts a contract\n{draft}"
    drafted = yaml.safe_load(contract.read_text())
    assert drafted["positive_label"] == POSITIVE, drafted["positive_label"]
    assert drafted["id_generated"] is True, "no --id: ids are made at ingest"
    assert "mean radius" in drafted["features"], "source column names are kept as they are"
    assert lifecycle(workspace, "contract", "check", str(contract)).code == 0, "it loads"

    ingest = lifecycle(home, "ingest", str(data), "--contract", str(contract))
    assert ingest.code == 0, f"the file is ingested\n{ingest}"
    raw = home / "data" / "raw"
    assert len(files_under(raw)) == DAYS, f"one batch per day of event time\n{ingest}"
    before = snapshot(raw)
    again = lifecycle(home, "ingest", str(data), "--contract", str(contract))
    assert again.code == 0, f"re-ingesting succeeds\n{again}"
    assert "already ingested" in again.stdout, f"and says it was a no-op\n{again}"
    assert snapshot(raw) == before, "re-ingesting changes nothing"

    demo = lifecycle(
        home,
        "demo", "--contract", str(contract), "--data", str(data), "--scenario", "default",
        prefect_api=prefect_api,
    )  # fmt: skip
    assert demo.code == 0, f"the whole loop runs on the team's data\n{demo}"
    assert "-day windows of at least" in demo.stdout, (
        f"small days are grouped, and it says so\n{demo}"
    )
    summary = json.loads((home / "demo" / "summary.json").read_text())
    checks, truth = summary["checks"], summary["ground_truth"]
    assert summary["use_case"] == "visits", summary["use_case"]
    assert summary["window_days"] > 1, f"days grouped into windows: {summary['window_days']}"
    blocked = [row["day"] for row in summary["timeline"] if row["blocked"]]
    assert blocked == [truth["incident_day"]], f"the injected incident is blocked: {blocked}"
    assert checks["failed_requests"] == 0, checks
    assert checks["served_versions"], "the server answered"
    decisions = [
        json.loads(line)["kind"] for line in (home / "audit.jsonl").read_text().splitlines()
    ]
    assert {"batch_blocked", "promote", "hold"} <= set(decisions), f"decisions audited: {decisions}"

    port = _free_port()
    server = subprocess.Popen(
        [str(LIFECYCLE), "serve", "--contract", str(contract), "--port", str(port)],
        env=cli_env(home),
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready:
                break
            time.sleep(0.5)
        assert ready, "lifecycle serve becomes ready with the team's champion"
        row = pd.read_csv(data).drop(columns=[LABEL, "visit_time"]).iloc[0].to_dict()
        answer = httpx.post(f"{base}/v1/predict", json={"row_id": "visit-1", **row}, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["row_id"] == "visit-1", "the id is echoed under the contract's name"
        assert 0.0 <= body["probability"] <= 1.0, f"the score under its default name: {body}"
        assert body["model_name"] == "visits", body
    finally:
        server.terminate()
        server.wait(30)


def test_bad_inputs_end_with_one_line_and_change_nothing(
    workspace: Path, drafted: tuple[Path, Run], tmp_path: Path
) -> None:
    contract, draft = drafted
    assert draft.code == 0, f"contract init drafts a contract\n{draft}"
    home = tmp_path / "home"
    home.mkdir()
    good = lifecycle(home, "ingest", str(workspace / "visits.csv"), "--contract", str(contract))
    assert good.code == 0, str(good)
    before = snapshot(home / "data" / "raw")

    broken = tmp_path / "broken.csv"
    table = pd.read_csv(workspace / "visits.csv", dtype=str)
    table.loc[3, "mean radius"] = "not-a-number"
    table.loc[7, "visit_time"] = "yesterday"
    table.to_csv(broken, index=False)
    run = lifecycle(home, "ingest", str(broken), "--contract", str(contract))
    assert_user_error(run, "2 of", "mean radius", "visit_time", "--skip-bad-rows")

    missing = lifecycle(home, "ingest", str(broken), "--contract", str(tmp_path / "nope.yaml"))
    assert_user_error(missing, "nope.yaml")

    unquoted = tmp_path / "unquoted.yaml"
    unquoted.write_text(
        re.sub(r"(?m)^positive_label:.*$", "positive_label: yes", contract.read_text())
    )
    bad = lifecycle(home, "ingest", str(broken), "--contract", str(unquoted))
    assert_user_error(bad, "unquoted.yaml", "positive_label", "quote")

    assert snapshot(home / "data" / "raw") == before, "nothing already ingested was changed"
