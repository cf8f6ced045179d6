"""`lifecycle serve --workers 2` end to end: a real CLI process, two uvicorn workers, one port."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from features.contract import DatasetContract, load_contract
from monitoring.labels import scored_ids
from tests.pipelines.cli_runner import LIFECYCLE, cli_env
from tests.serving.conftest import CONTRACT_PATH, Registry, contract_named, valid_item

REQUESTS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metric(text: str, pattern: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if re.fullmatch(pattern, line.rsplit(" ", 1)[0]):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.e2e
def test_two_workers_answer_and_metrics_and_log_count_every_request(
    tmp_path: Path, contract: DatasetContract, registry: Registry, model_name: str
) -> None:
    own = tmp_path / "contract.yaml"
    own.write_text(
        re.sub(r"(?m)^model_name:.*$", f"model_name: {model_name}", CONTRACT_PATH.read_text())
    )
    served = load_contract(own)
    assert served.content_hash() == contract_named(contract, model_name).content_hash()
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    env = {**cli_env(home), "LIFECYCLE_TRACKING_URI": registry.tracking_uri}
    args = ["serve", "--workers", "2", "--port", str(port), "--contract", str(own)]
    server = subprocess.Popen(
        [str(LIFECYCLE), *args],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    output = ""
    try:
        deadline = time.monotonic() + 90
        folders: list[Path] = []
        while time.monotonic() < deadline and server.poll() is None:
            folders = list((home / "serving").glob("metrics-*"))
            try:
                ready = httpx.get(f"{base}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                ready = False
            # Both workers up: each wrote its metrics file (at app build) and is ready.
            if ready and folders and len(list(folders[0].glob("counter_*.db"))) == 2:
                text = httpx.get(f"{base}/metrics", timeout=5).text
                if _metric(text, "serving_model_loaded") == 1:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("lifecycle serve --workers 2 did not become ready")
        assert len(folders) == 1, "one metrics folder for this server"

        def predict(number: int) -> int:
            item = valid_item(served, f"w-{number}")
            with httpx.Client(base_url=base, timeout=30) as client:
                return client.post("/v1/predict", json=item).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(predict, range(REQUESTS)))
        assert codes == [200] * REQUESTS, codes

        text = httpx.get(f"{base}/metrics", timeout=5).text
        route = r'serving_http_requests_total\{method="POST",route="/v1/predict",status="200"\}'
        assert _metric(text, route) == REQUESTS, "/metrics counts every worker's requests"
        assert _metric(text, r"serving_predictions_total\{.*\}") == REQUESTS
        assert _metric(text, r"serving_batch_rows_sum") == REQUESTS
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output
    assert "Application startup complete" in output, "uvicorn's own lines are printed"
    assert "POST /v1/predict" not in output, "serving.access_log (off) reached every worker"
    # Both workers shut down cleanly: every scored row reached the shared log, once.
    ids = scored_ids(home / "predictions", served.id_column)
    lines = sum(len(p.read_text().splitlines()) for p in (home / "predictions").glob("*.jsonl"))
    assert ids == {f"w-{n}" for n in range(REQUESTS)}
    assert lines == REQUESTS
    assert not list((home / "serving").glob("metrics-*")), "the metrics folder is removed"
