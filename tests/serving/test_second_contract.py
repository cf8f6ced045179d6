"""The API on a differently shaped contract: text labels, int ids, a score name, an extra segment.

The contract (``SUBSCRIPTION_CONTRACT`` in conftest) has integer ids, a "yes"/"no" label known
after a constant delay, the score name ``cancel_score`` and a segment (``region``) that is not a
feature. Everything the API says or writes must follow it, and nothing may speak of the
card-fraud use case.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tests.serving.conftest import (
    THRESHOLD,
    FakeSource,
    RecordingModel,
    make_config,
    synthetic_frame,
    valid_item,
)

SCORE = 0.8
#: The app's clock: the label times these tests send (April 2024) lie around it.
NOW = dt.datetime(2024, 4, 2, 12, 0)
CARD_FRAUD_WORDS = re.compile(r"fraud|transaction|chargeback|card|amount|merchant|txn", re.I)


@pytest.fixture
def model(renewal_contract) -> RecordingModel:
    return RecordingModel(SCORE)


@pytest.fixture
def renewal_client(tmp_path, renewal_contract, model) -> Iterator[TestClient]:
    source = FakeSource(contract=renewal_contract)
    example = synthetic_frame(renewal_contract, 5, seed=3)[list(renewal_contract.features)]
    source.add("1", model, example)
    source.alias = "1"
    config = make_config(tmp_path, renewal_contract, "unused://")
    app = create_app(config, source=source, clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def logged_records(tmp_path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted((tmp_path / "predictions").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_answer_names_id_and_score_as_the_contract_does(renewal_client, renewal_contract):
    response = renewal_client.post("/v1/predict", json=valid_item(renewal_contract, 4711))
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == [
        "request_id",
        "account_id",
        "cancel_score",
        "decision",
        "threshold",
        "model_name",
        "model_version",
    ], "id under the contract's id column, score under its score_name"
    assert body["account_id"] == 4711, "an integer id is echoed as an integer"
    assert body["cancel_score"] == pytest.approx(SCORE), "the model's score"
    assert body["decision"] == int(SCORE >= THRESHOLD), "decision = score >= threshold"
    assert body["model_name"] == renewal_contract.model_name, "model named by the contract"


def test_a_text_id_is_echoed_as_text_for_an_int_id_contract(renewal_client, renewal_contract):
    items = [valid_item(renewal_contract, "00123"), valid_item(renewal_contract, 123)]
    body = renewal_client.post("/v1/predict", json=items).json()
    assert [p["account_id"] for p in body] == ["00123", 123], "each id echoed as given"


@pytest.mark.parametrize("bad_id", [True, 1.5, "", None])
def test_ids_that_are_neither_text_nor_integer_are_rejected(
    renewal_client, renewal_contract, bad_id
):
    response = renewal_client.post("/v1/predict", json=valid_item(renewal_contract, bad_id))
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.account_id"}, f"only the id is named: {fields}"


@pytest.mark.parametrize("region", ["south", None, "omitted"])
def test_extra_segment_is_optional_logged_and_never_given_to_the_model(
    tmp_path, renewal_client, renewal_contract, model, region
):
    item = valid_item(renewal_contract, 7)
    if region != "omitted":
        item["region"] = region
    response = renewal_client.post("/v1/predict", json=item)
    assert response.status_code == 200, response.text
    renewal_client.app.state.services.prediction_log.flush()  # type: ignore[attr-defined]
    (record,) = logged_records(tmp_path)
    expected_region = None if region == "omitted" else region
    assert record["region"] == expected_region, "the segment is logged (null when left out)"
    assert record["cancel_score"] == pytest.approx(SCORE), "the score under score_name"
    assert record["account_id"] == 7, "the id as sent"
    assert list(record)[-len(renewal_contract.input_columns) :] == list(
        renewal_contract.input_columns
    ), "features then extra segments end the record"
    features = list(renewal_contract.features)
    assert model.columns, "the model was called"
    assert all(cols == features for cols in model.columns), f"the model saw {model.columns}"


def test_extra_segment_is_validated_against_its_categories(renewal_client, renewal_contract):
    item = valid_item(renewal_contract, 7, region="atlantis")
    response = renewal_client.post("/v1/predict", json=item)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["body.region"], "the segment is named"
    assert "'north', 'south' or 'east'" in errors[0]["message"], errors[0]["message"]


def test_text_labels_are_accepted_and_written_raw(tmp_path, renewal_client):
    labels = [
        {"account_id": 1, "cancelled": "yes", "label_available_at": "2024-04-01T00:00:00Z"},
        {"account_id": "a-2", "cancelled": "no"},
    ]
    response = renewal_client.post("/v1/labels", json=labels)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2, "both accepted"
    lines = [json.loads(x) for x in (tmp_path / "labels" / "labels.jsonl").read_text().splitlines()]
    assert [x["cancelled"] for x in lines] == ["yes", "no"], "labels written as sent"
    assert [x["account_id"] for x in lines] == [1, "a-2"], "ids written as sent"
    assert lines[0]["label_available_at"] == "2024-04-01T00:00:00", "time as naive UTC"
    assert "label_available_at" not in lines[1], "an absent time is omitted"


@pytest.mark.parametrize("bad", ["1", 1, True, "YES", "maybe", None])
def test_labels_outside_the_contract_values_are_422(tmp_path, renewal_client, bad):
    response = renewal_client.post("/v1/labels", json=[{"account_id": 1, "cancelled": bad}])
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body[0].cancelled"], f"the label is named: {fields}"
    assert not (tmp_path / "labels" / "labels.jsonl").exists(), "nothing written"


def test_label_time_field_is_named_label_available_at_without_a_label_column(renewal_client):
    response = renewal_client.post(
        "/v1/labels", json=[{"account_id": 1, "cancelled": "no", "labelled_at": "2024-04-01"}]
    )
    assert response.status_code == 422, "only label_available_at is accepted"
    assert response.json()["errors"][0]["field"] == "body[0].labelled_at", "names the field"


def test_openapi_and_metrics_speak_the_contracts_words(renewal_client):
    spec = renewal_client.get("/openapi.json").json()
    assert spec["info"]["title"] == "subscription_renewal scoring API", spec["info"]["title"]
    schemas = spec["components"]["schemas"]
    assert {"Row", "Prediction", "LabelRecord"} <= set(schemas), sorted(schemas)
    assert "cancel_score" in schemas["Prediction"]["properties"], "score named by the contract"
    text = json.dumps(spec)
    found = sorted({m.lower() for m in CARD_FRAUD_WORDS.findall(text)})
    assert found == [], f"the OpenAPI document speaks of {found}"
    metrics = renewal_client.get("/metrics").text
    assert "serving_score_bucket" in metrics, "scores histogram under a generic name"
    found = sorted({m.lower() for m in CARD_FRAUD_WORDS.findall(metrics)})
    assert found == [], f"the metrics speak of {found}"
