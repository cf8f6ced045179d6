"""The HTTP API against a real (SQLite) MLflow registry, through TestClient (lifespan included)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.model_store import RefreshResult
from tests.serving.conftest import THRESHOLD, make_config, valid_item

API_KEY = "s3cret-key"
#: The app's clock in these tests: the event times they send (March 2024) lie around it.
NOW = dt.datetime(2024, 3, 10, 12, 0)


@contextmanager
def serving(
    tmp_path, contract, registry, model_name, clock=lambda: NOW, **overrides
) -> Iterator[TestClient]:
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name, **overrides)
    with TestClient(create_app(config, clock=clock), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(tmp_path, contract, registry, model_name) -> Iterator[TestClient]:
    with serving(tmp_path, contract, registry, model_name) as test_client:
        yield test_client


def services_of(client: TestClient):
    return client.app.state.services  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ predict


def test_predict_one_object_returns_one_prediction(client, contract):
    response = client.post("/v1/predict", json=valid_item(contract, "t-42"))
    assert response.status_code == 200, response.text
    body = response.json()
    score = contract.score_name
    assert list(body) == [
        "request_id",
        contract.id_column,
        score,
        "decision",
        "threshold",
        "model_name",
        "model_version",
    ], "documented prediction fields, named by the contract"
    assert body[contract.id_column] == "t-42", "id echoed"
    assert 0.0 <= body[score] <= 1.0, "a probability"
    assert body["decision"] == int(body[score] >= THRESHOLD), "decision rule"
    assert (body["threshold"], body["model_version"]) == (THRESHOLD, "1"), "model metadata"
    assert response.headers["X-Request-ID"] == body["request_id"], "request id in the header"


def test_predict_list_keeps_order_and_shares_the_request_id(client, contract):
    items = [valid_item(contract, f"t-{i}", amount=10.0 ** (i % 4)) for i in range(7)]
    response = client.post("/v1/predict", json=items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p[contract.id_column] for p in body] == [f"t-{i}" for i in range(7)], "order kept"
    assert {p["request_id"] for p in body} == {response.headers["X-Request-ID"]}, "one id"


def test_each_request_gets_its_own_id(client, contract):
    ids = {
        client.post("/v1/predict", json=valid_item(contract)).json()["request_id"] for _ in range(3)
    }
    assert len(ids) == 3, "request ids are unique"


def test_batch_scores_equal_single_scores(client, contract):
    items = [valid_item(contract, f"t-{i}", amount=50.0 * (i + 1)) for i in range(4)]
    score = contract.score_name
    batch = [p[score] for p in client.post("/v1/predict", json=items).json()]
    singles = [client.post("/v1/predict", json=i).json()[score] for i in items]
    assert batch == pytest.approx(singles), "batching does not change scores"


# ---------------------------------------------------------------------------- client errors

BAD_BODIES = {
    "malformed json": (b'{"transaction_id": "t-1", "amount": ', "body"),
    "wrong type": ({"amount": "a lot"}, "body.amount"),
    "out of range": ({"customer_age": 7}, "body.customer_age"),
    "unknown category": ({"channel": "carrier-pigeon"}, "body.channel"),
    "extra field": ({"favourite_colour": "blue"}, "body.favourite_colour"),
    "null not allowed": ({"amount": None}, "body.amount"),
    "bad item in list": ([{}, {"country": "XX"}], "body[1].country"),
    "empty list": ([], "body"),
    "not an object": ("just a string", "body"),
    "json null": (None, "body"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_invalid_bodies_get_422_naming_the_field(client, contract, case):
    payload, field = BAD_BODIES[case]
    if isinstance(payload, bytes):
        response = client.post(
            "/v1/predict", content=payload, headers={"Content-Type": "application/json"}
        )
    elif payload == [{}, {"country": "XX"}]:
        response = client.post(
            "/v1/predict", json=[valid_item(contract), valid_item(contract, country="XX")]
        )
    elif isinstance(payload, dict):
        response = client.post("/v1/predict", json=valid_item(contract, **payload))
    else:
        response = client.post("/v1/predict", json=payload)
    assert response.status_code == 422, f"{case}: {response.status_code} {response.text}"
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], f"{case}: names {field}: {body}"
    assert body["request_id"] == response.headers["X-Request-ID"], "error carries the id"
    assert body["detail"].startswith("Invalid request"), body["detail"]


def test_missing_field_is_named(client, contract):
    item = valid_item(contract)
    del item["amount"]
    body = client.post("/v1/predict", json=item).json()
    assert [(e["field"], e["type"]) for e in body["errors"]] == [("body.amount", "missing")], body


def test_too_many_items_is_422(client, contract):
    items = [valid_item(contract, f"t-{i}") for i in range(1001)]
    response = client.post("/v1/predict", json=items)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["type"] == "too_long", "names the length limit"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/vnd.evil+json", "application/json; charset=latin-1"]
)
def test_wrong_content_type_is_415_and_explained(client, contract, content_type):
    response = client.post(
        "/v1/predict",
        content=json.dumps(valid_item(contract)),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415, response.text
    assert "Content-Type: application/json" in response.json()["detail"], "says what to send"
    assert response.json()["request_id"] == response.headers["X-Request-ID"], "JSON error body"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/predict", 405), ("GET", "/nowhere", 404), ("DELETE", "/v1/model", 405)],
)
def test_unknown_routes_and_methods_are_json_4xx(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status, response.text
    assert response.json()["request_id"] == response.headers["X-Request-ID"], "JSON error body"


# ------------------------------------------------------------------------ probes and model


def test_model_endpoint_reports_version_window_metrics(client, contract, registry):
    body = client.get("/v1/model").json()
    assert (body["version"], body["alias"], body["alias_version"]) == ("1", "champion", "1"), body
    assert body["run_id"] == registry.run_id, "run of the version"
    assert (body["train_start"], body["train_end"]) == ("2024-01-01", "2024-01-28"), "window"
    assert body["cutoff"] == "2024-02-05T00:00:00", "cutoff tag"
    assert body["metrics"]["pr_auc"] == pytest.approx(0.61), "run metrics"
    assert body["threshold"] == THRESHOLD, "threshold"
    served = services_of(client).config.contract
    assert body["contract_hash"] == served.content_hash(), "contract hash"
    assert body["warnings"] == [], "no training caveats recorded"
    assert body["loaded_at"], "loaded_at set"
    assert body["last_swap_error"] is None, "no failure"
    assert body["scored_by"] == "predict_proba", "the test Pipeline has no fast path"


def test_without_champion_health_is_up_but_not_ready(tmp_path, contract, registry):
    name = "no-champion-yet"
    with serving(tmp_path, contract, registry, name) as client:
        health = client.get("/health")
        ready = client.get("/ready")
        predict = client.post("/v1/predict", json=valid_item(contract))
        model = client.get("/v1/model")
        assert health.status_code == 200, "liveness is independent of the model"
        assert ready.status_code == 503, "not ready without a model"
        assert "alias 'champion'" in ready.json()["detail"], ready.json()
        assert predict.status_code == 503, "predict refuses without a model"
        assert model.status_code == 503, "/v1/model refuses without a model"
        registry.champion(name, registry.register(name))
        outcome = services_of(client).refresh()
        assert outcome.result is RefreshResult.SWAPPED, "picked up when the alias appears"
        assert client.get("/ready").json()["model_version"] == "1", "ready afterwards"


def test_champion_appearing_later_is_picked_up_by_the_poller(tmp_path, contract, registry):
    name = "late-champion"
    with serving(tmp_path, contract, registry, name, poll_seconds=0.05) as client:
        assert client.get("/ready").status_code == 503, "starts without a model"
        registry.champion(name, registry.register(name))
        deadline = time.monotonic() + 10
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/ready").status_code == 200, "the poller loaded the new champion"


# --------------------------------------------------------------------------------- auth


def test_api_key_guards_v1_and_metrics_but_not_probes(tmp_path, contract, registry, model_name):
    with serving(tmp_path, contract, registry, model_name, api_key=API_KEY) as client:
        item = valid_item(contract)
        missing = client.post("/v1/predict", json=item)
        wrong = client.post("/v1/predict", json=item, headers={"X-API-Key": "nope"})
        right = client.post("/v1/predict", json=item, headers={"X-API-Key": API_KEY})
        assert missing.status_code == 401, "no key -> 401"
        assert "X-API-Key" in missing.json()["detail"], "says which header"
        assert wrong.status_code == 401, "wrong key -> 401"
        assert right.status_code == 200, "right key -> 200"
        for path in ("/v1/model", "/metrics"):
            assert client.get(path).status_code == 401, f"{path} is guarded"
            assert client.get(path, headers={"X-API-Key": API_KEY}).status_code == 200, path
        assert client.post("/v1/labels", json=[]).status_code == 401, "labels guarded"
        for path in ("/health", "/ready"):
            assert client.get(path).status_code == 200, f"{path} stays open"


def test_without_api_key_everything_is_open(client):
    assert client.get("/metrics").status_code == 200, "no key configured -> open"
    assert client.get("/v1/model").status_code == 200, "no key configured -> open"


# ------------------------------------------------------------------------------- metrics


def test_metrics_expose_requests_decisions_model_and_swaps(client, contract, model_name):
    client.post("/v1/predict", json=[valid_item(contract, f"t-{i}") for i in range(3)])
    client.post("/v1/predict", json={"bad": 1})
    text = client.get("/metrics").text
    expected = [
        'serving_http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0',
        'serving_http_requests_total{method="POST",route="/v1/predict",status="422"} 1.0',
        f'serving_model_info{{model_name="{model_name}",model_version="1"}} 1.0',
        'serving_model_swaps_total{result="swapped"} 1.0',
        "serving_model_loaded 1.0",
        "serving_score_count 3.0",
        'serving_http_request_duration_seconds_count{method="POST",route="/v1/predict",'
        'status="200"} 1.0',
    ]
    for line in expected:
        assert line in text, f"missing metric line: {line}"
    decisions = [ln for ln in text.splitlines() if ln.startswith("serving_predictions_total{")]
    assert sum(float(ln.split()[-1]) for ln in decisions) == 3.0, "every item counted once"


def test_each_app_has_its_own_metrics(tmp_path, contract, registry, model_name):
    with serving(tmp_path / "a", contract, registry, model_name) as first:
        first.post("/v1/predict", json=valid_item(contract))
        with serving(tmp_path / "b", contract, registry, model_name) as second:
            text = second.get("/metrics").text
    assert 'route="/v1/predict"' not in text, "the second app did not see the first's request"


# ------------------------------------------------------------------------ logs and labels


def test_every_prediction_is_logged_by_shutdown(tmp_path, contract, registry, model_name):
    n_requests = 40
    with serving(tmp_path, contract, registry, model_name) as client:
        for i in range(n_requests):
            day = "2024-03-01" if i % 2 else "2024-03-02"
            items = [
                valid_item(contract, f"t-{i}-{j}", event_time=f"{day}T12:00:00Z") for j in range(3)
            ]
            assert client.post("/v1/predict", json=items).status_code == 200, "scored"
        client.post("/v1/predict", json=valid_item(contract, "no-time"))
    folder = tmp_path / "predictions"
    records = [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert len(records) == n_requests * 3 + 1, "one line per scored item, none lost"
    by_day = {p.name: len(p.read_text().splitlines()) for p in folder.glob("2024-03-0*.jsonl")}
    assert by_day == {"2024-03-01.jsonl": 60, "2024-03-02.jsonl": 60}, "file per event date"
    first = records[0]
    assert first["event_time"] == "2024-03-01T12:00:00", "event time naive UTC"
    assert first["model_version"] == "1", "version logged"
    assert set(contract.features) <= set(first), "features logged"


def test_labels_are_appended(client, tmp_path, contract):
    labels = [
        {"transaction_id": "t-1", "is_fraud": 1, "label_available_at": "2024-03-09T00:00:00"},
        {"transaction_id": "t-2", "is_fraud": 0},
    ]
    response = client.post("/v1/labels", json=labels)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2, "both accepted"
    lines = (tmp_path / "labels" / "labels.jsonl").read_text().splitlines()
    assert [json.loads(x)["is_fraud"] for x in lines] == [1, 0], "labels on disk when answered"


@pytest.mark.parametrize(
    "payload",
    [[{"transaction_id": "t-1", "is_fraud": 2}], [{"transaction_id": "t-1"}], [], {"x": 1}],
)
def test_invalid_labels_get_422(client, payload):
    response = client.post("/v1/labels", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["errors"], "errors listed"


# ------------------------------------------------------------------------------- hot swap


def test_new_champion_is_swapped_in_without_restart(client, contract, registry, model_name):
    before = client.post("/v1/predict", json=valid_item(contract)).json()
    version = registry.register(model_name, threshold="0.7")
    registry.champion(model_name, version)
    outcome = services_of(client).refresh()
    after = client.post("/v1/predict", json=valid_item(contract)).json()
    assert outcome.result is RefreshResult.SWAPPED, "swapped"
    assert (before["model_version"], after["model_version"]) == ("1", "2"), "now version 2"
    assert after["threshold"] == 0.7, "threshold of version 2"
    assert client.get("/v1/model").json()["version"] == "2", "/v1/model follows"


@pytest.mark.parametrize("breakage", ["missing artifact", "corrupted artifact", "bad threshold"])
def test_broken_champion_is_not_swapped_in(client, contract, registry, model_name, breakage):
    if breakage == "missing artifact":
        version = registry.register(model_name, source=registry.missing_source())
    elif breakage == "corrupted artifact":
        version = registry.register(model_name, source=registry.corrupted_source())
    else:
        version = registry.register(model_name, threshold="high")
    registry.champion(model_name, version)
    outcome = services_of(client).refresh()
    again = services_of(client).refresh()
    predicted = client.post("/v1/predict", json=valid_item(contract))
    info = client.get("/v1/model").json()
    assert outcome.result is RefreshResult.REJECTED, f"{breakage}: rejected"
    assert again.result is RefreshResult.SKIPPED_REJECTED, "not retried every poll"
    assert predicted.json()["model_version"] == "1", "version 1 keeps serving"
    assert info["version"] == "1", "/v1/model still shows version 1"
    assert info["alias_version"] == version, "and where the alias points"
    failure = info["last_swap_error"]
    assert failure["version"] == version, "failure names the version"
    assert failure["reason"], "failure has a reason"
    metrics = client.get("/metrics").text
    assert 'serving_model_swaps_total{result="rejected"} 1.0' in metrics, "rejection counted"


def test_broken_champion_at_startup_means_not_ready_with_reason(tmp_path, contract, registry):
    name = "broken-from-start"
    registry.champion(name, registry.register(name, source=registry.missing_source()))
    with serving(tmp_path, contract, registry, name) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503, "not ready"
        assert "was rejected: load failed" in ready.json()["detail"], ready.json()


def test_openapi_documents_both_request_shapes_and_errors(client):
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/v1/predict"]["post"]
    shapes = predict["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"$ref": "#/components/schemas/Row"} in shapes, "one object"
    batch = next(s for s in shapes if s.get("type") == "array")
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000), "array of 1..1000"
    examples = predict["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"one", "batch"}, "both shapes have an example"
    assert "ErrorBody" in json.dumps(predict["responses"]["422"]), "422 body documented"
    assert {"413", "415"} <= set(predict["responses"]), "size and media-type errors documented"
    assert "securitySchemes" not in spec.get("components", {}), "no key set: no scheme declared"
    assert "401" not in predict["responses"], "no key set: no 401"


def test_openapi_description_is_for_api_users_with_this_servers_limits(client):
    description = client.get("/openapi.json").json()["info"]["description"]
    assert ":func:" not in description, "no docstring markup"
    assert ":class:" not in description, "no docstring markup"
    assert "1 to 1000 rows" in description, "the batch limit is stated"
    assert "413 above 2,097,152 bytes" in description, "the body limit is stated"
    assert "X-API-Key" not in description, "no key set: no key mentioned"


def test_openapi_declares_the_api_key_scheme_when_a_key_is_set(
    tmp_path, contract, registry, model_name
):
    with serving(tmp_path, contract, registry, model_name, api_key=API_KEY) as client:
        spec = client.get("/openapi.json").json()
    assert "APIKeyHeader" in spec["components"]["securitySchemes"], "API key scheme documented"
    assert "401" in spec["paths"]["/v1/predict"]["post"]["responses"], "401 documented"


def test_docs_page_loads_every_asset_from_the_server_itself(client):
    page = client.get("/docs")
    assert page.status_code == 200, page.text
    assert "cdn" not in page.text.lower(), "no asset from a CDN: /docs works offline"
    assets = re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', page.text)
    assert len(assets) >= 2, f"script and stylesheet are local: {assets}"
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content, f"{asset} has content"
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert len(script.content) > 100_000, "the real Swagger UI bundle"
    assert client.get("/redoc").status_code == 404, "no CDN-only ReDoc page"
