"""The API's edges: unparseable, oversized and mistyped bodies, control characters, time bounds,
offsets on response datetimes, the OpenAPI security scheme and label matching (issue 7), and
what the schemathesis fuzz suite (test_fuzz.py) found: integral numbers, timestamps taken for
dates, lone surrogates, windows beyond the calendar, unbounded ints, undeclared 413/422."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from features.contract import parse_contract
from serving.app import (
    RecentIds,
    TimeWindow,
    create_app,
    duration_text,
    json_content_type_problem,
)
from serving.config import ServingSettings
from serving.schemas import INT64_MAX, INT64_MIN, build_row_model
from tests.serving.conftest import SUBSCRIPTION_CONTRACT, make_config, valid_item
from tests.serving.test_app import NOW, services_of, serving


@pytest.fixture
def client(tmp_path, contract, registry, model_name):
    with serving(tmp_path, contract, registry, model_name) as test_client:
        yield test_client


def post_raw(client, content: bytes, content_type: str | None = "application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post("/v1/predict", content=content, headers=headers)


def assert_error_body(response, status: int) -> dict:
    assert response.status_code == status, f"{status} expected: {response.text}"
    body = response.json()
    assert set(body) == {"detail", "request_id", "errors"}, f"ErrorBody shape: {body}"
    assert body["request_id"] == response.headers["X-Request-ID"], "error carries the id"
    return body


# ------------------------------------------------------------------------- unparseable bodies


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"transaction_id": "\xff"}', "not UTF-8"),
        (b'{"transaction_id": "t-1",', "Malformed JSON body"),
        (b"[" * 100_000 + b"]" * 100_000, "Malformed JSON body"),
    ],
    ids=["not utf-8", "truncated", "nested too deep"],
)
def test_unparseable_body_is_422_naming_the_reason(client, content, reason):
    body = assert_error_body(post_raw(client, content), 422)
    assert [e["field"] for e in body["errors"]] == ["body"], f"names the body: {body}"
    assert reason in body["errors"][0]["message"], f"says why: {body}"


def test_empty_body_is_422_missing(client):
    body = assert_error_body(post_raw(client, b"", content_type=None), 422)
    assert body["errors"][0]["type"] == "missing", f"names the missing body: {body}"


def test_body_without_content_type_is_415(client, contract):
    body = assert_error_body(post_raw(client, json.dumps(valid_item(contract)).encode(), None), 415)
    assert "application/json" in body["detail"], "says what to send"


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/vnd.evil+json", False),
        ("application/json; charset=utf-16", False),
        ("application/json; boundary=x", False),
        ("text/json", False),
        ("", False),
    ],
)
def test_only_application_json_is_json(content_type, accepted):
    assert (json_content_type_problem(content_type) is None) is accepted, content_type


# ---------------------------------------------------------------------------- body size limit


def test_settings_have_a_body_limit_that_fits_a_full_batch():
    settings = ServingSettings()
    assert settings.max_body_bytes >= settings.max_batch * 1024, "≥ 1 KB per row of a full batch"


def test_body_over_the_limit_is_413_by_content_length(tmp_path, contract, registry, model_name):
    items = [valid_item(contract, f"t-{i}") for i in range(200)]
    with serving(tmp_path, contract, registry, model_name, max_body_bytes=4096) as client:
        response = client.post("/v1/predict", json=items)
        small = client.post("/v1/predict", json=valid_item(contract))
    body = assert_error_body(response, 413)
    assert "4096 bytes" in body["detail"], f"names the limit: {body}"
    assert small.status_code == 200, f"a small body still passes: {small.text}"


def test_body_over_the_limit_is_413_when_streamed(tmp_path, contract, registry, model_name):
    payload = json.dumps([valid_item(contract, f"t-{i}") for i in range(200)]).encode()

    def chunks():  # no Content-Length: the guard must count what it receives
        for start in range(0, len(payload), 1000):
            yield payload[start : start + 1000]

    with serving(tmp_path, contract, registry, model_name, max_body_bytes=4096) as client:
        response = client.post(
            "/v1/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert_error_body(response, 413)


# ------------------------------------------------------------------------- control characters


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\n", "\x7f", "\x85"])
def test_control_character_in_an_id_is_422_naming_it(client, contract, char):
    response = client.post("/v1/predict", json=valid_item(contract, f"t{char}1"))
    body = assert_error_body(response, 422)
    errors = [(e["field"], e["type"]) for e in body["errors"]]
    assert errors == [("body.transaction_id", "control_character")], f"names the id: {body}"


def test_control_character_in_a_label_id_is_422(client):
    response = client.post("/v1/labels", json=[{"transaction_id": "a\x00", "is_fraud": 1}])
    body = assert_error_body(response, 422)
    assert body["errors"][0]["field"] == "body[0].transaction_id", body


def test_control_character_in_an_int_contract_id_is_422(
    tmp_path, renewal_contract, registry, model_name
):
    from serving.schemas import build_api_schemas

    schemas = build_api_schemas(renewal_contract, 10)
    with pytest.raises(Exception, match="control characters"):
        schemas.label.model_validate({"account_id": "7\x00", "cancelled": "no"})
    assert schemas.label.model_validate({"account_id": 7, "cancelled": "no"}), "ints still pass"


def test_openapi_declares_the_no_control_pattern_on_ids(client):
    spec = client.get("/openapi.json").json()
    row_id = spec["components"]["schemas"]["Row"]["properties"]["transaction_id"]
    assert "x00" in row_id.get("pattern", ""), f"pattern documented: {row_id}"


# ------------------------------------------------------------------------------ event times


@pytest.mark.parametrize(
    "event_time",
    [
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+01:00",
        "2024-03-20T00:00:00Z",
        "2022-01-01T00:00:00Z",
    ],
)
def test_event_time_outside_the_window_is_422_naming_it(client, contract, event_time):
    response = client.post(
        "/v1/predict", json=[valid_item(contract), valid_item(contract, event_time=event_time)]
    )
    body = assert_error_body(response, 422)
    errors = [(e["field"], e["type"]) for e in body["errors"]]
    assert errors == [("body[1].event_time", "time_out_of_window")], f"names the row: {body}"


def test_event_time_inside_the_window_passes_and_the_clock_decides(
    tmp_path, contract, registry, model_name
):
    late = valid_item(contract, event_time="2030-01-01T00:00:00Z")
    with serving(tmp_path, contract, registry, model_name) as client:
        refused = client.post("/v1/predict", json=late)
        near = client.post("/v1/predict", json=valid_item(contract, event_time="2024-03-08T00:00"))
    with serving(
        tmp_path, contract, registry, model_name, clock=lambda: dt.datetime(2029, 12, 30)
    ) as client:
        accepted = client.post("/v1/predict", json=late)
    assert refused.status_code == 422, "2030 is far after the 2024 clock"
    assert near.status_code == 200, f"3 days ahead is inside the window: {near.text}"
    assert accepted.status_code == 200, f"the app's clock moves the window: {accepted.text}"


def test_window_is_configurable(tmp_path, contract, registry, model_name):
    old = valid_item(contract, event_time="2020-01-01T00:00:00Z")
    with serving(
        tmp_path, contract, registry, model_name, max_event_time_past=dt.timedelta(days=3650)
    ) as client:
        response = client.post("/v1/predict", json=old)
    assert response.status_code == 200, f"a wider past window accepts 2020: {response.text}"


def test_label_time_outside_the_window_is_422(client):
    labels = [{"transaction_id": "t-1", "is_fraud": 1, "label_available_at": "9999-01-01T00:00"}]
    body = assert_error_body(client.post("/v1/labels", json=labels), 422)
    assert body["errors"][0]["field"] == "body[0].label_available_at", body


# ------------------------------------------------------------------- datetimes with offsets


def test_model_info_datetimes_carry_their_offset(client, contract, registry, model_name):
    version = registry.register(model_name, threshold="high")
    registry.champion(model_name, version)
    services_of(client).refresh()
    info = client.get("/v1/model").json()
    for value in (info["loaded_at"], info["last_swap_error"]["at"]):
        parsed = dt.datetime.fromisoformat(value)
        assert parsed.utcoffset() == dt.timedelta(0), f"UTC offset present: {value}"
    assert info["loaded_at"].startswith(NOW.isoformat()), "the app's clock, in UTC"


# -------------------------------------------------------------------------- label matching


def test_labels_answer_how_many_matched_a_scored_row(client, contract):
    scored = client.post("/v1/predict", json=[valid_item(contract, f"s-{i}") for i in range(4)])
    labels = [{"transaction_id": f"s-{i}", "is_fraud": 0} for i in range(6)]
    answer = client.post("/v1/labels", json=labels).json()
    assert scored.status_code == 200, scored.text
    assert (answer["accepted"], answer["matched"]) == (6, 4), f"6 written, 4 matched: {answer}"


def test_recent_ids_forget_the_oldest_beyond_capacity():
    ids = RecentIds(capacity=3)
    ids.add(["a", "b", "c"])
    ids.add(["a", "d"])  # "a" becomes recent again; "b" is the oldest and goes
    assert ids.count_known(["a", "b", "c", "d", "d"]) == 4, "b forgotten, d counted twice"
    assert RecentIds(capacity=0).count_known(["a"]) == 0, "capacity 0 remembers nothing"


# ------------------------------------------------------------------ found by the fuzz suite


def test_an_integral_number_is_an_integer(client, contract):
    accepted = client.post("/v1/predict", json=valid_item(contract, customer_age=30.0))
    refused = client.post("/v1/predict", json=valid_item(contract, customer_age=30.5))
    assert accepted.status_code == 200, f"30.0 is the integer 30 in JSON: {accepted.text}"
    body = assert_error_body(refused, 422)
    assert [e["field"] for e in body["errors"]] == ["body.customer_age"], body


@pytest.mark.parametrize("event_time", [0, 1709900000, "1709900000", "2024-03-08", True])
def test_event_time_is_iso_text_never_a_timestamp(client, contract, event_time):
    response = client.post("/v1/predict", json=valid_item(contract, event_time=event_time))
    body = assert_error_body(response, 422)
    errors = [(e["field"], e["type"]) for e in body["errors"]]
    assert errors == [("body.event_time", "datetime_type")], f"names the field: {body}"


def test_lone_surrogate_in_an_id_is_422_naming_it(client, contract):
    content = json.dumps(valid_item(contract, "t\ud800")).encode()  # escaped: ASCII JSON
    body = assert_error_body(post_raw(client, content), 422)
    errors = [(e["field"], e["type"]) for e in body["errors"]]
    assert errors == [("body.transaction_id", "lone_surrogate")], f"names the id: {body}"


def test_a_window_wider_than_the_calendar_stops_at_its_ends(
    tmp_path, contract, registry, model_name
):
    endless = dt.timedelta.max
    assert TimeWindow(endless, endless).bounds(NOW) == (dt.datetime.min, dt.datetime.max)
    old = valid_item(contract, event_time="1970-01-01T00:00:00Z")
    with serving(
        tmp_path,
        contract,
        registry,
        model_name,
        max_event_time_past=endless,
        max_event_time_future=endless,
    ) as client:
        response = client.post("/v1/predict", json=old)
    assert response.status_code == 200, f"no overflow, 1970 is inside: {response.text}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.timedelta(days=400), "400 days"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(hours=36), "1 day, 12:00:00"),
    ],
)
def test_durations_read_as_days(value, text):
    assert duration_text(value) == text


def test_an_int_column_without_bounds_is_bounded_to_int64():
    columns = {**SUBSCRIPTION_CONTRACT["columns"], "tenure_months": {"dtype": "int"}}
    contract = parse_contract({**SUBSCRIPTION_CONTRACT, "columns": columns}, source="test")
    model = build_row_model(contract)
    declared = model.model_json_schema()["properties"]["tenure_months"]
    assert (declared["minimum"], declared["maximum"]) == (INT64_MIN, INT64_MAX), declared
    assert model.model_validate(valid_item(contract, 1, tenure_months=INT64_MAX)), "int64 fits"
    with pytest.raises(ValidationError):
        model.model_validate(valid_item(contract, 1, tenure_months=INT64_MAX + 1))


def test_only_the_json_routes_declare_body_errors(client):
    spec = client.get("/openapi.json").json()
    body_errors = {"413", "415", "422"}
    declared = {
        f"{method} {path}": body_errors & set(operation["responses"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    expected = {key: body_errors if key.startswith("post ") else set() for key in declared}
    assert declared == expected, "GET routes take no body: no 413, 415 or 422 declared"


def test_a_body_sent_to_a_get_route_is_ignored_not_413(tmp_path, contract, registry, model_name):
    with serving(tmp_path, contract, registry, model_name, max_body_bytes=1024) as client:
        response = client.request("GET", "/health", content=b"x" * 4096)
    assert response.status_code == 200, f"the route never reads it: {response.text}"


def test_model_info_leaves_out_metrics_json_cannot_hold(
    tmp_path, contract, fake_source, pipeline, example_frame
):
    fake_source.add("1", pipeline, example_frame)
    fake_source.versions["1"] = dataclasses.replace(
        fake_source.versions["1"],
        metrics={"pr_auc": 0.5, "roc_auc": float("nan"), "brier": float("inf")},
    )
    fake_source.alias = "1"
    config = make_config(tmp_path, contract, "unused://", fake_source.model_name)
    with TestClient(create_app(config, source=fake_source, clock=lambda: NOW)) as client:
        response = client.get("/v1/model")
    assert response.status_code == 200, f"no 500 on NaN: {response.text}"
    assert response.json()["metrics"] == {"pr_auc": 0.5}, "finite metrics only"
