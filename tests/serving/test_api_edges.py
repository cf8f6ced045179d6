"""The API's edges: unparseable, oversized and mistyped bodies, control characters, time bounds,
offsets on response datetimes, the OpenAPI security scheme and label matching (issue 7)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from serving.app import RecentIds, json_content_type_problem
from serving.config import ServingSettings
from tests.serving.conftest import valid_item
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
