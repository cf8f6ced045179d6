"""Swaps under load: in-flight requests finish on their model; a real uvicorn server swaps live."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.runner import ServerStartError, run_in_thread
from tests.serving.conftest import ConstantModel, GatedModel, make_config, valid_item


def test_in_flight_request_finishes_on_the_old_model(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    gated = GatedModel(pipeline)
    fake_source.add("1", gated, example_frame)
    fake_source.add("2", ConstantModel(0.99), example_frame)
    fake_source.alias = "1"
    config = make_config(tmp_path, contract, "unused://", fake_source.model_name)
    with (
        TestClient(create_app(config, source=fake_source)) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        services = client.app.state.services  # type: ignore[attr-defined]
        gated.armed = True  # from now on, version 1 blocks inside predict_proba
        slow = pool.submit(client.post, "/v1/predict", json=valid_item(contract, "slow"))
        assert gated.entered.wait(10), "the slow request is scoring on version 1"
        fake_source.alias = "2"
        services.refresh()
        queued = pool.submit(client.post, "/v1/predict", json=valid_item(contract, "fast"))
        deadline = time.monotonic() + 10
        while services.batcher.queued_rows == 0 and time.monotonic() < deadline:
            time.sleep(0.005)  # the fast request waits behind the model call in flight
        gated.release.set()
        finished = slow.result(timeout=10).json()
        fast = queued.result(timeout=10).json()
    assert fast["model_version"] == "2", "a request queued after the swap uses version 2"
    assert fast[contract.score_name] == pytest.approx(0.99), "scored by version 2"
    assert finished["model_version"] == "1", "the in-flight request completed on version 1"
    assert finished["threshold"] == 0.3, "with version 1's threshold"


@pytest.mark.e2e
def test_real_server_swaps_during_a_burst_without_failures(
    tmp_path, contract, registry, model_name
):
    registry.register(model_name)  # version 2, not yet champion
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name, poll_seconds=0.05)
    results: list[tuple[int, int, str]] = []  # (worker, status, version)
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer(worker: int, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    response = http.post("/v1/predict", json=valid_item(contract, f"w{worker}-{i}"))
                    version = response.json().get("model_version", "?")
                    with lock:
                        results.append((worker, response.status_code, version))
                except httpx.HTTPError as exc:  # a transport failure is a failed request too
                    with lock:
                        errors.append(repr(exc))

    with run_in_thread(create_app(config)) as base_url:
        assert httpx.get(f"{base_url}/ready").status_code == 200, "ready before the burst"
        workers = [threading.Thread(target=hammer, args=(w, base_url)) for w in range(3)]
        for thread in workers:
            thread.start()
        time.sleep(0.3)
        registry.champion(model_name, "2")  # the promotion, mid-burst
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with lock:
                done = sum(1 for r in results if r[2] == "2") >= 30
            if done:
                break
            time.sleep(0.05)
        stop.set()
        for thread in workers:
            thread.join(15)
        info = httpx.get(f"{base_url}/v1/model").json()
    assert not errors, f"transport errors: {errors[:3]}"
    assert {status for _, status, _ in results} == {200}, "every request succeeded"
    assert info["version"] == "2", "the server now serves version 2, without a restart"
    for worker in range(3):
        versions = [v for w, _, v in results if w == worker]
        assert versions[0] == "1", f"worker {worker} started on version 1"
        assert versions[-1] == "2", f"worker {worker} ended on version 2"
        first_two = versions.index("2")
        assert set(versions[first_two:]) == {"2"}, f"worker {worker}: never back to version 1"
    lines = sum(
        len(path.read_text().splitlines()) for path in (tmp_path / "predictions").glob("*.jsonl")
    )
    assert lines == len(results), "the prediction log holds every request after shutdown"
    first = json.loads(next((tmp_path / "predictions").glob("*.jsonl")).read_text().split("\n")[0])
    assert first["model_version"] in {"1", "2"}, "log lines carry the version"


def test_runner_reports_a_failed_startup(tmp_path, contract, fake_source):
    config = make_config(tmp_path, contract, "unused://", fake_source.model_name)
    with run_in_thread(create_app(config, source=fake_source)) as base_url:
        assert httpx.get(f"{base_url}/health").status_code == 200, "first server answers"
        port = int(base_url.rsplit(":", 1)[1])
        second = create_app(config, source=fake_source)
        with pytest.raises(ServerStartError), run_in_thread(second, port=port, startup_timeout=10):
            pass  # pragma: no cover - the port is taken, startup must fail


def test_model_failing_at_request_time_is_a_json_500(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    gated = GatedModel(pipeline)
    fake_source.add("1", gated, example_frame)
    fake_source.alias = "1"
    config = make_config(tmp_path, contract, "unused://", fake_source.model_name)
    with TestClient(create_app(config, source=fake_source)) as client:
        gated.inner = None  # passes the smoke test, then breaks: predict_proba raises
        response = client.post("/v1/predict", json=valid_item(contract))
        metrics = client.get("/metrics").text
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["request_id"] == response.headers["X-Request-ID"], "id in header and body"
    assert "server log" in body["detail"], "tells the client where the details are"
    assert 'route="/v1/predict",status="500"} 1.0' in metrics, "counted as a 500"
