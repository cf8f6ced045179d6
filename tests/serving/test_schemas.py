"""The request models derived from the contract: types, ranges, categories, nulls, extras."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import TypeAdapter, ValidationError

from features.contract import parse_contract
from serving.app import example_id, example_row
from serving.schemas import (
    build_api_schemas,
    build_label_model,
    build_prediction_model,
    build_row_model,
    dotted,
    field_errors,
    row_values,
)
from tests.serving.conftest import SUBSCRIPTION_CONTRACT, valid_item


def error_locs(exc: ValidationError) -> list[tuple[object, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_row_fields_follow_the_contract(contract):
    model = build_row_model(contract)
    expected = {contract.id_column, contract.event_time_column, *contract.features}
    assert set(model.model_fields) == expected, "fields must be id + features + event time"
    assert model.model_fields[contract.id_column].is_required(), "the id is required"
    assert not model.model_fields[contract.event_time_column].is_required(), "event time optional"
    for name in contract.features:
        required = not contract.columns[name].nullable
        assert model.model_fields[name].is_required() is required, f"{name}: required={required}"


def test_valid_item_is_accepted_and_keeps_types(contract):
    model = build_row_model(contract)
    item = model.model_validate(valid_item(contract, amount=12))
    assert item.amount == 12.0, "a JSON integer is a valid float"
    assert isinstance(item.amount, float), "floats are floats"
    assert isinstance(item.customer_age, int), "ints are ints"


def test_json_schema_carries_ranges_enums_and_nullability(contract):
    schema = build_row_model(contract).model_json_schema()
    props = schema["properties"]
    assert props["amount"]["minimum"] == 0.5, "min -> minimum"
    assert props["amount"]["maximum"] == 25000, "max -> maximum"
    assert props["customer_age"]["minimum"] == 18, "int min -> minimum"
    assert props["channel"]["enum"] == ["card_present", "contactless", "online"], "categories"
    nullable = {t.get("type") for t in props["device_trust_score"]["anyOf"]}
    assert nullable == {"number", "null"}, "nullable column accepts null"
    assert schema["additionalProperties"] is False, "extra fields are forbidden"
    assert contract.id_column in schema["required"], "id required in the schema"


@pytest.mark.parametrize(
    ("changes", "bad_field"),
    [
        ({"amount": 0.1}, "amount"),  # below min
        ({"amount": 25000.01}, "amount"),  # above max
        ({"amount": "12.5"}, "amount"),  # a string, not coerced
        ({"amount": True}, "amount"),  # a boolean, not coerced
        ({"amount": float("nan")}, "amount"),
        ({"amount": float("inf")}, "amount"),
        ({"amount": None}, "amount"),  # not nullable
        ({"customer_age": 30.5}, "customer_age"),
        ({"customer_age": 17}, "customer_age"),
        ({"customer_age": "30"}, "customer_age"),
        ({"device_trust_score": 1.5}, "device_trust_score"),
        ({"channel": "telepathy"}, "channel"),  # unknown category
        ({"country": "de"}, "country"),  # categories are case-sensitive
        ({"transaction_id": 123}, "transaction_id"),
        ({"transaction_id": ""}, "transaction_id"),
        ({"surprise": 1}, "surprise"),  # extra field
        ({"event_time": "yesterday-ish"}, "event_time"),
    ],
)
def test_invalid_values_are_rejected_on_their_field(contract, changes, bad_field):
    model = build_row_model(contract)
    with pytest.raises(ValidationError) as info:
        model.model_validate(valid_item(contract, **changes))
    assert error_locs(info.value) == [(bad_field,)], f"only {bad_field} should be reported"


def test_missing_required_feature_is_named(contract):
    item = valid_item(contract)
    del item["merchant_category"]
    with pytest.raises(ValidationError) as info:
        build_row_model(contract).model_validate(item)
    assert info.value.errors()[0]["type"] == "missing", "a missing feature is 'missing'"
    assert error_locs(info.value) == [("merchant_category",)], "the missing field is named"


def test_nullable_feature_may_be_null_or_omitted(contract):
    model = build_row_model(contract)
    explicit = model.model_validate(valid_item(contract, device_trust_score=None))
    item = valid_item(contract)
    del item["device_trust_score"]
    omitted = model.model_validate(item)
    assert explicit.device_trust_score is None, "null accepted"
    assert omitted.device_trust_score is None, "omitted means missing"


def test_event_time_keeps_its_offset(contract):
    item = build_row_model(contract).model_validate(
        valid_item(contract, event_time="2024-03-01T10:00:00+02:00")
    )
    expected = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert item.event_time == expected, "an aware time is kept (converted to UTC when logged)"


def test_label_model_accepts_only_0_and_1(contract):
    model = build_label_model(contract)
    ok = model.model_validate({"transaction_id": "t-1", "is_fraud": 1})
    assert ok.is_fraud == 1, "label 1 accepted"
    assert ok.label_available_at is None, "availability time is optional"
    for bad in (2, -1, True, "1", 0.5):
        with pytest.raises(ValidationError):
            model.model_validate({"transaction_id": "t-1", "is_fraud": bad})


def test_predict_body_is_one_object_or_a_bounded_list(contract):
    body = TypeAdapter(build_api_schemas(contract, max_batch=3).predict_body)
    single = body.validate_python(valid_item(contract))
    many = body.validate_python([valid_item(contract, f"t-{i}") for i in range(3)])
    assert not isinstance(single, list), "an object stays one item"
    assert len(many) == 3, "a list stays a list"
    with pytest.raises(ValidationError) as empty:
        body.validate_python([])
    assert empty.value.errors()[0]["type"] == "too_short", "an empty list is rejected"
    with pytest.raises(ValidationError) as too_many:
        body.validate_python([valid_item(contract, f"t-{i}") for i in range(4)])
    assert too_many.value.errors()[0]["type"] == "too_long", "more than max_batch is rejected"


def test_field_errors_drop_the_union_tag_and_render_paths(contract):
    body = TypeAdapter(build_api_schemas(contract, max_batch=3).predict_body)
    with pytest.raises(ValidationError) as info:
        body.validate_python([valid_item(contract), valid_item(contract, amount=-1)])
    errors = field_errors([{**e, "loc": ("body", *e["loc"])} for e in info.value.errors()])
    assert [e.field for e in errors] == ["body[1].amount"], "path names item and field"
    assert errors[0].loc == ["body", 1, "amount"], "loc list without the union tag"


def test_field_errors_explain_malformed_json():
    errors = field_errors(
        [
            {
                "type": "json_invalid",
                "loc": ("body", 7),
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting value"},
            }
        ]
    )
    assert errors[0].field == "body", "malformed JSON is reported on the body"
    assert errors[0].message == "Malformed JSON body: Expecting value at character 7", "reason"


def test_dotted_paths():
    assert dotted(["body", 0, "amount"]) == "body[0].amount", "index then field"
    assert dotted([]) == "request", "empty location names the request"


# ------------------------------------------------------------- a differently shaped contract


def test_row_model_holds_extra_segments_as_optional_fields(renewal_contract):
    model = build_row_model(renewal_contract)
    expected = [
        "account_id",
        *renewal_contract.features,
        *renewal_contract.extra_segments,
        "snapshot_time",
    ]
    assert list(model.model_fields) == expected, "id, features, extra segments, event time"
    assert renewal_contract.extra_segments == ["region"], "region is a segment, not a feature"
    assert not model.model_fields["region"].is_required(), "an extra segment is optional"
    item = model.model_validate(valid_item(renewal_contract, 1, region=None))
    assert row_values(item)["region"] is None, "and nullable"
    with pytest.raises(ValidationError) as info:
        model.model_validate(valid_item(renewal_contract, 1, region="North"))
    assert error_locs(info.value) == [("region",)], "validated against its categories"


@pytest.mark.parametrize(("row_id", "kind"), [(12, int), ("012", str)])
def test_int_id_contract_accepts_integers_and_text_as_given(renewal_contract, row_id, kind):
    item = build_row_model(renewal_contract).model_validate(valid_item(renewal_contract, row_id))
    value = row_values(item)["account_id"]
    assert (value, type(value)) == (row_id, kind), "the id keeps its JSON type"


def test_text_id_contract_rejects_integers(contract):
    with pytest.raises(ValidationError) as info:
        build_row_model(contract).model_validate(valid_item(contract, 12))
    assert error_locs(info.value) == [(contract.id_column,)], "a string id must be a string"


def test_label_model_takes_exactly_the_text_labels(renewal_contract):
    model = build_label_model(renewal_contract)
    assert list(model.model_fields) == ["account_id", "cancelled", "label_available_at"], (
        "without a label-available column the time field is label_available_at"
    )
    ok = row_values(model.model_validate({"account_id": 3, "cancelled": "yes"}))
    assert ok == {"account_id": 3, "cancelled": "yes", "label_available_at": None}, ok
    for bad in ("1", 1, True, "Yes", "", None):
        with pytest.raises(ValidationError) as info:
            model.model_validate({"account_id": 3, "cancelled": bad})
        assert error_locs(info.value) == [("cancelled",)], f"{bad!r} rejected on the label"


def test_label_schema_lists_the_label_values(contract, renewal_contract):
    text = build_label_model(renewal_contract).model_json_schema()["properties"]["cancelled"]
    codes = build_label_model(contract).model_json_schema()["properties"]["is_fraud"]
    assert (text["type"], text["enum"]) == ("string", ["no", "yes"]), text
    assert (codes["type"], codes["enum"]) == ("integer", [0, 1]), codes


def test_prediction_model_is_named_by_the_contract(renewal_contract):
    model = build_prediction_model(renewal_contract)
    assert list(model.model_fields) == [
        "request_id",
        "account_id",
        "cancel_score",
        "decision",
        "threshold",
        "model_name",
        "model_version",
    ], "fields in the documented order"
    answer = {
        "request_id": "r",
        "account_id": 5,
        "cancel_score": 0.4,
        "decision": 1,
        "threshold": 0.3,
        "model_name": "m",
        "model_version": "2",
    }
    assert model.model_validate(answer).model_dump()["account_id"] == 5, "int id kept"
    with pytest.raises(ValidationError):
        model.model_validate({**answer, "cancel_score": 1.2})


def test_int_column_with_codes_accepts_only_those_integers():
    contract = parse_contract(
        {
            **SUBSCRIPTION_CONTRACT,
            "columns": {
                **SUBSCRIPTION_CONTRACT["columns"],
                "tenure_months": {"dtype": "int", "categories": [1, 12, 24]},
            },
        },
        source="test",
    )
    model = build_row_model(contract)
    assert model.model_validate(valid_item(contract, 1, tenure_months=12)), "a declared code"
    for bad in (2, True, 12.0, "12"):
        with pytest.raises(ValidationError) as info:
            model.model_validate(valid_item(contract, 1, tenure_months=bad))
        assert error_locs(info.value) == [("tenure_months",)], f"{bad!r} rejected"


def test_columns_pydantic_cannot_name_are_served_under_their_own_names():
    columns = dict(SUBSCRIPTION_CONTRACT["columns"])
    columns["_id"] = columns.pop("account_id")
    columns["copy"] = columns.pop("monthly_fee")
    contract = parse_contract(
        {
            **SUBSCRIPTION_CONTRACT,
            "id_column": "_id",
            "columns": columns,
            "features": ["tenure_months", "copy", "plan", "support_calls"],
        },
        source="test",
    )
    schemas = build_api_schemas(contract, max_batch=2)
    item = schemas.row.model_validate(valid_item(contract, 9, copy=3.5))
    values = row_values(item)
    assert (values["_id"], values["copy"]) == (9, 3.5), "read back under the column names"
    assert {"_id", "copy"} <= set(schemas.row.model_json_schema()["properties"]), "documented"
    with pytest.raises(ValidationError) as info:
        schemas.row.model_validate(valid_item(contract, 9, copy="x"))
    assert error_locs(info.value) == [("copy",)], "errors name the column"
    answer = schemas.prediction.model_validate(
        {
            "request_id": "r",
            "_id": 9,
            "cancel_score": 0.1,
            "decision": 0,
            "threshold": 0.5,
            "model_name": "m",
            "model_version": "1",
        }
    )
    assert answer.model_dump(by_alias=True)["_id"] == 9, "the answer uses the column name too"


@pytest.mark.parametrize("which", ["contract", "renewal_contract"])
def test_the_docs_examples_are_valid_rows(request, which):
    contract = request.getfixturevalue(which)
    model = build_row_model(contract)
    for number in (1, 2):
        example = example_row(contract, example_id(contract, number))
        item = row_values(model.model_validate(example))
        assert set(contract.input_columns) <= set(item), "every feature and extra segment"
