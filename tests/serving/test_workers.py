"""Several workers: a prediction log shared by processes, and /metrics summed over them.

The writers and metric owners here are real OS processes (spawned), as uvicorn's workers are.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from features.contract import load_contract
from monitoring.labels import scored_ids
from pipelines.serve import multiprocess_metrics
from serving.prediction_log import PredictionLogWriter, ScoredBatch
from tests.serving.conftest import CONTRACT_PATH

REPO = Path(__file__).resolve().parents[2]
BATCHES = 400
DAY = "2024-03-01"


def _append_many(directory: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    """Log BATCHES requests of 1..64 rows (some lines padded past PIPE_BUF) through a writer."""
    contract = load_contract(CONTRACT_PATH)
    log = PredictionLogWriter(Path(directory), contract, lambda: dt.datetime(2024, 3, 1, 12))
    log.start()
    start.wait(30)
    event_time = dt.datetime.fromisoformat(f"{DAY}T10:00:00")
    for number in range(BATCHES):
        rows = [
            {
                contract.id_column: f"{writer}-{number}-{i}",
                contract.event_time_column: event_time,
                # A long text in some rows: single lines longer than PIPE_BUF (4096 bytes).
                contract.segments[0]: "x" * (5000 if i % 7 == 0 else 3),
            }
            for i in range(number % 64 + 1)
        ]
        log.submit(
            ScoredBatch(
                request_id=f"{writer}-{number}",
                items=rows,
                scores=[0.5] * len(rows),
                decisions=[1] * len(rows),
                model_name="m",
                model_version="1",
                threshold=0.3,
                received_at=event_time,
            )
        )
    log.close()


def test_two_processes_appending_leave_only_whole_lines_and_lose_none(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [
        context.Process(target=_append_many, args=(str(tmp_path), name, start))
        for name in ("a", "b")
    ]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0, f"writer {process.name} failed"

    contract = load_contract(CONTRACT_PATH)
    lines = (tmp_path / f"{DAY}.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"", "the file ends with a whole line"
    ids = [json.loads(line)[contract.id_column] for line in lines[:-1]]  # each line parses
    expected = {
        f"{w}-{n}-{i}" for w in ("a", "b") for n in range(BATCHES) for i in range(n % 64 + 1)
    }
    assert len(ids) == len(expected), "one line per row: none lost, none doubled"
    assert set(ids) == expected
    for writer in ("a", "b"):  # each writer's lines stay in its own order
        own = [row_id for row_id in ids if row_id.startswith(f"{writer}-")]
        order = [tuple(int(part) for part in row_id.split("-")[1:]) for row_id in own]
        assert order == sorted(order)
    assert scored_ids(tmp_path, contract.id_column) == expected, "monitoring reads every line"


WORKER = textwrap.dedent(
    """
    import sys, types
    from serving.metrics import ServingMetrics
    from serving.model_store import RefreshOutcome, RefreshResult

    requests, rows, version, render = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    metrics = ServingMetrics()
    assert metrics.multiprocess
    queued = {"rows": 5}
    metrics.bind_queue_rows(lambda: queued["rows"])
    loaded = types.SimpleNamespace(name="m", version=version)
    metrics.observe_refresh(RefreshOutcome(RefreshResult.SWAPPED, version), loaded)
    if version == "2":  # this worker swapped from 1 to 2
        loaded = types.SimpleNamespace(name="m", version="3")
        metrics.observe_refresh(RefreshOutcome(RefreshResult.SWAPPED, "3"), loaded)
    for _ in range(requests):
        metrics.observe_request("/v1/predict", "POST", 200, 0.01)
    metrics.observe_predictions([0.9] * rows, [1] * rows)
    metrics.observe_batch(rows, [0.001])
    if render == "render":
        sys.stdout.write(metrics.render().decode())
    elif render == "close":
        metrics.close()  # a worker that ended cleanly: its counts stay, its live gauges go
    """
)
LIVE = "\nprint('counted', flush=True)\nimport time\ntime.sleep(60)\n"


def _run_worker(folder: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _samples(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_metrics_in_multiprocess_mode_sum_counters_over_workers(tmp_path: Path) -> None:
    with multiprocess_metrics(tmp_path) as folder:
        assert folder == tmp_path / "serving" / f"metrics-{os.getpid()}"
        assert not any(folder.iterdir()), "a fresh, empty folder"
        _run_worker(folder, "3", "4", "1", "close")
        live = subprocess.Popen(  # a worker still running while another renders
            [sys.executable, "-c", WORKER + LIVE, "2", "1", "2", "-"],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert live.stdout is not None
            assert live.stdout.readline() == "counted\n"
            text = _run_worker(folder, "5", "2", "3", "render")
        finally:
            live.kill()
            live.wait(10)
    assert not folder.exists(), "the folder goes with the server"

    samples = _samples(text)
    predict = 'method="POST",route="/v1/predict",status="200"'  # labels sorted by name
    assert samples[f"serving_http_requests_total{{{predict}}}"] == 3 + 2 + 5
    assert samples[f"serving_http_request_duration_seconds_count{{{predict}}}"] == 10
    assert samples['serving_predictions_total{decision="1"}'] == 4 + 1 + 2
    assert samples["serving_batch_rows_count"] == 3
    assert samples['serving_model_swaps_total{result="swapped"}'] == 4
    # Gauges: over live workers only (the one that closed is gone).
    assert samples["serving_batch_queue_rows"] == 5 + 5, "queue depths add up"
    assert samples["serving_model_loaded"] == 1
    assert samples['serving_model_info{model_name="m",model_version="3"}'] == 1
    assert samples['serving_model_info{model_name="m",model_version="2"}'] == 0, "swapped away"
    assert 'serving_model_info{model_name="m",model_version="1"}' not in samples


def test_stale_metrics_folders_of_dead_servers_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / "serving" / "metrics-999999999"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    with multiprocess_metrics(tmp_path):
        assert not stale.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
