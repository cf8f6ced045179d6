"""Micro-batching through the HTTP API: concurrent requests share model calls, answers don't.

A gated model holds one call in flight while other requests queue behind it, so the tests know
which requests were batched together; the pool of client threads sends them concurrently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from features.contract import DatasetContract
from serving.app import Services, create_app
from serving.scoring import feature_frame, positive_probabilities
from tests.serving.conftest import (
    ConstantModel,
    FakeSource,
    GatedModel,
    make_config,
    synthetic_frame,
    valid_item,
)


class CountingModel:
    """Wraps a model and records the number of rows of every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        self.calls.append(len(frame))
        return self.inner.predict_proba(frame)


@contextmanager
def serving(tmp_path, contract, source: FakeSource, **settings: Any) -> Iterator[TestClient]:
    config = make_config(tmp_path, contract, "unused://", source.model_name, **settings)
    app = create_app(config, source=source)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def wait_queued(client: TestClient, rows: int) -> None:
    deadline = time.monotonic() + 20
    while services_of(client).batcher.queued_rows < rows:
        assert time.monotonic() < deadline, f"{rows} rows never queued"
        time.sleep(0.005)


def post(client: TestClient, body: Any) -> httpx.Response:
    return client.post("/v1/predict", json=body)


def api_items(contract: DatasetContract, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Request items (id + features) of a frame; NaN sent as null."""
    rows = frame[[contract.id_column, *contract.features]].astype(object)
    return [
        {k: (None if v != v else v) for k, v in row.items()}
        for row in rows.to_dict(orient="records")
    ]


def scores_of(answer: Any, score_name: str) -> list[float]:
    items = answer if isinstance(answer, list) else [answer]
    return [item[score_name] for item in items]


def test_concurrent_requests_share_one_call_and_get_their_lone_scores(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    gated = GatedModel(pipeline)
    counting = CountingModel(gated)
    fake_source.add("1", counting, example_frame)
    fake_source.alias = "1"
    items = api_items(contract, synthetic_frame(contract, 40, seed=21))
    bodies: list[Any] = [items[0], items[1:4], items[4], items[5:13], items[13], items[14:15]]
    with serving(tmp_path, contract, fake_source) as client, ThreadPoolExecutor(8) as pool:
        counting.calls.clear()  # the smoke test's call
        gated.armed = True
        first = pool.submit(post, client, items[20])
        gated.entered.wait(10)
        gated.armed = False
        futures = [pool.submit(post, client, body) for body in bodies]
        wait_queued(client, 15)
        gated.release.set()
        responses = [f.result(timeout=20) for f in [first, *futures]]
        metrics = client.get("/metrics").text
    assert counting.calls == [1, 15], f"the 6 queued requests were scored in one call: {counting}"
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    for body, response in zip([items[20], *bodies], responses, strict=True):
        rows = body if isinstance(body, list) else [body]
        alone = positive_probabilities(pipeline, feature_frame(rows, contract)).tolist()
        answer = response.json()
        assert isinstance(answer, list) == isinstance(body, list), "same shape as the request"
        assert scores_of(answer, contract.score_name) == alone, "bit-identical to alone"
        ids = [
            item[contract.id_column] for item in (answer if isinstance(answer, list) else [answer])
        ]
        assert ids == [row[contract.id_column] for row in rows], "answers in request order"
        request_ids = {a["request_id"] for a in (answer if isinstance(answer, list) else [answer])}
        assert request_ids == {response.headers["X-Request-ID"]}, "each answer its own request id"
    assert "serving_batch_rows_count 2.0" in metrics, "two model calls recorded"
    assert "serving_batch_rows_sum 16.0" in metrics, "16 rows scored"
    assert "serving_batch_queue_wait_seconds_count 7.0" in metrics, "one wait per request"
    assert "serving_score_count 16.0" in metrics, "scores still recorded per row"
    lines = [
        json.loads(line)
        for path in sorted((tmp_path / "predictions").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    by_request = {r.headers["X-Request-ID"]: r for r in responses}
    assert len(lines) == 16, "every scored row is logged once"
    for line in lines:
        answer = by_request[line["request_id"]].json()
        answers = answer if isinstance(answer, list) else [answer]
        mine = next(a for a in answers if a[contract.id_column] == line[contract.id_column])
        assert line[contract.score_name] == mine[contract.score_name], "log = answer"
        assert line["model_version"] == "1", "log names the version"


def test_an_invalid_request_is_refused_alone_before_the_queue(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    gated = GatedModel(pipeline)
    counting = CountingModel(gated)
    fake_source.add("1", counting, example_frame)
    fake_source.alias = "1"
    bad = valid_item(contract, "bad", amount=-5.0)
    with serving(tmp_path, contract, fake_source) as client, ThreadPoolExecutor(4) as pool:
        counting.calls.clear()
        gated.armed = True
        first = pool.submit(post, client, valid_item(contract, "first"))
        gated.entered.wait(10)
        gated.armed = False
        good = [pool.submit(post, client, valid_item(contract, f"g{i}")) for i in range(2)]
        refused = pool.submit(post, client, [valid_item(contract, "ok-in-bad"), bad])
        assert refused.result(timeout=10).status_code == 422, "refused while the model is busy"
        wait_queued(client, 2)
        gated.release.set()
        answers = [f.result(timeout=20) for f in [first, *good]]
    assert [r.status_code for r in answers] == [200, 200, 200], "batch-mates are unaffected"
    assert counting.calls == [1, 2], f"the refused rows never reached the model: {counting.calls}"


def test_a_full_queue_answers_503_with_retry_after_and_recovers(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    gated = GatedModel(pipeline)
    fake_source.add("1", gated, example_frame)
    fake_source.alias = "1"
    with (
        serving(tmp_path, contract, fake_source, max_queue_rows=3) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        gated.armed = True
        first = pool.submit(post, client, valid_item(contract, "first"))
        gated.entered.wait(10)
        gated.armed = False
        queued = pool.submit(post, client, [valid_item(contract, f"q{i}") for i in range(3)])
        wait_queued(client, 3)
        refused = post(client, valid_item(contract, "one-too-many"))
        gated.release.set()
        done = [f.result(timeout=20) for f in (first, queued)]
        after = post(client, valid_item(contract, "after"))
        metrics = client.get("/metrics").text
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) >= 1, "tells when to retry"
    body = refused.json()
    assert "max_queue_rows 3" in body["detail"], f"names the bound: {body['detail']}"
    assert body["request_id"] == refused.headers["X-Request-ID"], "JSON error with the id"
    assert [r.status_code for r in done] == [200, 200], "the queued requests were scored"
    assert after.status_code == 200, "the server takes requests again once the queue drains"
    assert "serving_batch_queue_full_total 1.0" in metrics, "the refusal is counted"
    assert "serving_batch_queue_rows 0.0" in metrics, "queue depth exported"


def test_swaps_during_a_burst_never_mix_versions_and_fail_nothing(
    tmp_path, contract, fake_source, example_frame
):
    scores = {"1": 0.125, "2": 0.875}
    for version, value in scores.items():
        fake_source.add(version, ConstantModel(value), example_frame)
    fake_source.alias = "1"
    with serving(tmp_path, contract, fake_source) as client, ThreadPoolExecutor(8) as pool:
        services = services_of(client)

        def burst(worker: int) -> list[httpx.Response]:
            return [post(client, [valid_item(contract, f"w{worker}-{i}")] * 2) for i in range(25)]

        futures: list[Future[list[httpx.Response]]] = [pool.submit(burst, w) for w in range(6)]
        for step in range(20):  # swap back and forth while the burst runs
            fake_source.alias = "2" if step % 2 == 0 else "1"
            services.refresh()
            time.sleep(0.005)
        responses = [r for f in futures for r in f.result(timeout=60)]
    assert all(r.status_code == 200 for r in responses), "no request failed during swaps"
    versions = set()
    for response in responses:
        for answer in response.json():
            version = answer["model_version"]
            versions.add(version)
            assert answer[contract.score_name] == scores[version], "scored by the named version"
    assert versions == {"1", "2"}, f"both versions served during the burst: {versions}"
    flagged = np.array([r.json()[0]["decision"] for r in responses])
    assert set(flagged.tolist()) <= {0, 1}, "decisions are 0/1"
