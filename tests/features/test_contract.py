from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from features.contract import (
    ContractError,
    LabelRateGuard,
    MedianGuard,
    ModelParams,
    NullShareGuard,
    NullWhenGuard,
    OrderedGuard,
    RowCountGuard,
    load_contract,
    parse_contract,
)

CONTRACT = Path(__file__).resolve().parents[2] / "data" / "contracts" / "card_fraud.yaml"


def raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text())
    return loaded


def test_shipped_contract_parses_with_roles_features_segments_and_costs() -> None:
    contract = load_contract(CONTRACT)
    assert contract.label_column == "is_fraud", "label role"
    assert contract.label_available_time_column == "label_available_at", "label time role"
    assert "amount" in contract.numeric_features, "amount is numeric"
    assert contract.categorical_features == ["merchant_category", "channel", "country"]
    assert contract.segments == ("channel", "merchant_category"), "segment columns"
    assert contract.costs.false_negative > contract.costs.false_positive, "a miss costs more"
    assert contract.columns["device_trust_score"].nullable, "device trust may be missing"


def test_hash_ignores_formatting_but_not_content() -> None:
    contract = load_contract(CONTRACT)
    same = parse_contract(raw())
    assert contract.content_hash() == same.content_hash(), "same content, same hash"
    changed = raw()
    changed["costs"]["false_positive"] = 5.0
    assert parse_contract(changed).content_hash() != contract.content_hash(), "costs count"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("label_column"), "label_column"),
        (lambda d: d.update(label_column="nope"), "label_column 'nope' is not declared"),
        (lambda d: d["features"].append("ghost"), "feature 'ghost' is not declared"),
        (lambda d: d["features"].append("is_fraud"), "is a role column"),
        (lambda d: d.update(segments=["amount"]), "segment 'amount' must be a category"),
        (lambda d: d["columns"]["amount"].update(min=10, max=1), "greater than max"),
        (lambda d: d["columns"]["channel"].pop("categories"), "non-empty 'categories'"),
        (lambda d: d["columns"]["amount"].update(dtype="money"), "columns.amount.dtype"),
        (lambda d: d["columns"]["event_time"].update(dtype="string"), "must have dtype 'datetime'"),
        (lambda d: d["costs"].update(false_positive=-1), "costs.false_positive"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["columns"]["is_fraud"].update(categories=[0, 1, 2]), "exactly two categories"),
    ],
)
def test_invalid_contracts_rejected_with_the_field_named(mutate: Any, message: str) -> None:
    data = raw()
    mutate(data)
    with pytest.raises(ContractError) as error:
        parse_contract(data, source="test.yaml")
    assert message in str(error.value), f"error names the problem: {error.value}"
    assert "test.yaml" in str(error.value), "error names the file"


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read contract"):
        load_contract(tmp_path / "missing.yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("columns: [unclosed")
    with pytest.raises(ContractError, match="not valid YAML"):
        load_contract(bad_yaml)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ContractError, match="must be a mapping"):
        load_contract(listy)


# --- the label: positive value, text labels, YAML booleans ---------------------------------


def churn_raw() -> dict[str, Any]:
    """The card-fraud contract turned into a text-label, label-delay contract."""
    data = raw()
    data["columns"]["is_fraud"] = {"dtype": "category", "categories": ["no", "yes"]}
    data["positive_label"] = "yes"
    data.pop("label_available_time_column")
    data["columns"].pop("label_available_at")
    data["label_delay"] = "7d"
    return data


def rejected(data: dict[str, Any]) -> str:
    """The message of the ContractError `data` raises, checked to name the file."""
    with pytest.raises(ContractError) as error:
        parse_contract(data, source="test.yaml")
    message = str(error.value)
    assert message.startswith("test.yaml: "), f"the error names the file: {message}"
    return message


def test_positive_label_may_be_text_or_an_int() -> None:
    text = parse_contract(churn_raw())
    assert (text.positive, text.negative_label) == ("yes", "no"), "a text positive label"
    assert text.label_values == ("no", "yes"), "the label's categories as declared"
    data = raw()
    data.pop("positive_label")
    ints = parse_contract(data)
    assert (ints.positive, ints.negative_label) == (1, 0), "1 is the default for [0, 1]"
    data["positive_label"] = 0
    assert parse_contract(data).positive == 0, "either value may be the positive one"


def test_positive_label_is_required_unless_the_label_is_0_1() -> None:
    data = churn_raw()
    data.pop("positive_label")
    message = rejected(data)
    assert "positive_label is required" in message, message
    assert "['no', 'yes']" in message, f"the error lists the categories: {message}"
    data["positive_label"] = "maybe"
    message = rejected(data)
    assert "positive_label 'maybe' is not one of" in message, message


def test_unquoted_yes_no_in_yaml_fail_with_the_quote_hint() -> None:
    categories = yaml.safe_load("categories: [no, yes]")["categories"]
    assert categories == [False, True], "YAML 1.1 reads them as booleans"
    data = churn_raw()
    data["columns"]["is_fraud"]["categories"] = categories
    message = rejected(data)
    assert "columns.is_fraud.categories" in message, f"names the key: {message}"
    assert 'quote the value (e.g. "yes")' in message, f"says to quote them: {message}"
    data = churn_raw()
    data["positive_label"] = yaml.safe_load("positive_label: yes")["positive_label"]
    message = rejected(data)
    assert "positive_label holds a boolean" in message, f"names the key: {message}"
    assert "quote the value" in message, f"says to quote it: {message}"


def test_category_values_of_a_text_column_are_text() -> None:
    data = raw()
    data["columns"]["channel"]["categories"] = ["card_present", 7]
    message = rejected(data)
    assert "columns.channel" in message, f"names the key: {message}"
    assert "quote them" in message, f"says to quote them: {message}"


# --- when a label becomes known --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delay"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_label_delay_parses_a_number_and_a_unit(text: str, delay: timedelta) -> None:
    data = churn_raw()
    data["label_delay"] = text
    contract = parse_contract(data)
    assert contract.label_delay == delay, f"{text} is {delay}"
    assert contract.label_available_time_column is None, "no label-available column"
    assert contract.label_available_field == "label_available_at", "the log's field name"
    assert contract.time_columns == ["event_time"], "only the event time is a time column"


@pytest.mark.parametrize("bad", ["7 days", "7", 7, "0d", "-1d", "P7D"])
def test_bad_label_delays_are_rejected_naming_the_key(bad: object) -> None:
    data = churn_raw()
    data["label_delay"] = bad
    message = rejected(data)
    assert "label_delay" in message, f"names the key: {message}"


def test_exactly_one_of_label_delay_and_label_available_column() -> None:
    both = raw()
    both["label_delay"] = "7d"
    message = rejected(both)
    assert "exactly one of 'label_available_time_column'" in message, message
    neither = churn_raw()
    neither.pop("label_delay")
    message = rejected(neither)
    assert "exactly one of 'label_available_time_column'" in message, message


def test_label_known_at_uses_the_column_or_the_event_time_plus_the_delay() -> None:
    events = pd.to_datetime(["2026-01-01 10:00", "2026-01-02 08:30"])
    known = pd.to_datetime(["2026-01-20", "2026-02-01"])
    frame = pd.DataFrame({"event_time": events, "label_available_at": known})
    with_column = load_contract(CONTRACT).label_known_at(frame)
    assert list(with_column) == list(known), "the label-available column as it is"
    with_delay = parse_contract(churn_raw()).label_known_at(frame[["event_time"]])
    assert list(with_delay) == list(events + timedelta(days=7)), "event time plus 7 days"


def test_binary_labels_map_the_positive_value_to_1_and_keep_missing() -> None:
    text = parse_contract(churn_raw())
    encoded = text.binary_labels(pd.Series(["yes", "no", None, "yes"], dtype=object))
    assert str(encoded.dtype) == "Int64", "a nullable integer series"
    assert encoded.tolist() == [1, 0, pd.NA, 1], "yes -> 1, no -> 0, missing stays missing"
    ints = load_contract(CONTRACT).binary_labels(pd.Series([0, 1, 1]))
    assert ints.tolist() == [0, 1, 1], "an int label keeps its meaning"
    with pytest.raises(ValueError, match=r"holds \['Yes'\]"):
        text.binary_labels(pd.Series(["yes", "Yes"]))


# --- guards -----------------------------------------------------------------------------------


def guard(data: dict[str, Any], check: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in data["guards"] if g["check"] == check)
    return found


def test_shipped_guards_parse_into_their_kinds() -> None:
    contract = load_contract(CONTRACT)
    kinds = [type(g) for g in contract.guards]
    assert kinds == [
        RowCountGuard,
        LabelRateGuard,
        MedianGuard,
        NullShareGuard,
        NullWhenGuard,
        OrderedGuard,
    ], "one guard of each kind, in file order"
    assert all(g.catches for g in contract.guards), "each says what it catches"


@pytest.mark.parametrize(
    ("check", "change", "expected"),
    [
        ("median", {"column": "ghost"}, "guards.2 (median): column 'ghost' is not declared"),
        ("null_share", {"column": "ghost"}, "guards.3 (null_share): column 'ghost'"),
        ("ordered", {"lower": "ghost"}, "guards.5 (ordered): lower 'ghost' is not declared"),
        ("ordered", {"upper": "ghost"}, "guards.5 (ordered): upper 'ghost' is not declared"),
        ("null_when", {"column": "ghost"}, "guards.4 (null_when): column 'ghost'"),
        (
            "null_when",
            {"when": {"column": "ghost", "equals": "x"}},
            "guards.4 (null_when): when.column 'ghost'",
        ),
        ("row_count", {"min": -1}, "guards.0.row_count: a row count is a whole number"),
        ("row_count", {"min": 10.5}, "guards.0.row_count: a row count is a whole number"),
        ("row_count", {"min": "many"}, "guards.0.row_count.min"),
        ("median", {"min": 600}, "guards.2.median: min (600) is greater than max (500)"),
        ("label_rate", {"min": 0.2, "max": 0.1}, "guards.1.label_rate: min (0.2) is greater"),
        ("label_rate", {"max": 1.5}, "guards.1.label_rate: a share lies in [0, 1]"),
        ("null_share", {"min": -0.1}, "guards.3.null_share: a share lies in [0, 1]"),
        ("median", {"min": None, "max": None}, "guards.2.median: give 'min', 'max' or both"),
        ("median", {"column": "channel"}, "column 'channel' must be numeric for a median"),
        ("null_share", {"column": "amount"}, "column 'amount' is not nullable"),
        ("null_when", {"column": "amount"}, "column 'amount' must be declared nullable"),
        (
            "null_when",
            {"when": {"column": "channel", "equals": "atm"}},
            "when.equals 'atm' is not one of 'channel' categories",
        ),
        (
            "null_when",
            {"when": {"column": "customer_age", "equals": "18"}},
            "when.equals '18' cannot equal a value of 'customer_age' (dtype 'int')",
        ),
        (
            "null_when",
            {"when": {"column": "channel", "equals": True}},
            "guards.4.null_when.when.equals: equals holds a boolean",
        ),
        (
            "ordered",
            {"lower": "event_time"},
            "'event_time' and 'txn_count_24h' must both be numeric or both datetime",
        ),
        ("ordered", {"catches": ""}, "guards.5.ordered.catches"),
        ("ordered", {"check": "mean"}, "guards.5: Input tag 'mean'"),
    ],
)
def test_guard_errors_name_the_guard_and_the_key(
    check: str, change: dict[str, Any], expected: str
) -> None:
    data = raw()
    guard(data, check).update(change)
    message = rejected(data)
    assert expected in message, f"expected {expected!r} in: {message}"


def test_null_when_accepts_an_int_condition_on_an_int_column() -> None:
    data = raw()
    guard(data, "null_when")["when"] = {"column": "customer_age", "equals": 18}
    (null_when,) = [g for g in parse_contract(data).guards if isinstance(g, NullWhenGuard)]
    assert null_when.when.equals == 18, "an int value for an int column"


def test_a_guard_without_catches_is_rejected() -> None:
    data = raw()
    guard(data, "row_count").pop("catches")
    message = rejected(data)
    assert "guards.0.row_count.catches: Field required" in message, message


# --- names, segments, model ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["request_id", "decision", "model_version", "received_at"])
def test_reserved_log_field_names_cannot_be_columns(name: str) -> None:
    data = raw()
    data["columns"][name] = {"dtype": "string"}
    message = rejected(data)
    assert f"['{name}'] are reserved" in message, message


@pytest.mark.parametrize(
    ("score_name", "expected"),
    [
        ("amount", "score_name 'amount' is already a column"),
        ("threshold", "score_name 'threshold' is already a column or a log field"),
        ("fraud probability", "must be a plain identifier"),
    ],
)
def test_score_name_must_not_clash(score_name: str, expected: str) -> None:
    data = raw()
    data["score_name"] = score_name
    message = rejected(data)
    assert expected in message, message


def test_score_name_defaults_to_probability() -> None:
    data = raw()
    data.pop("score_name")
    assert parse_contract(data).score_name == "probability", "a neutral default"


def test_a_segment_need_not_be_a_feature() -> None:
    data = raw()
    data["columns"]["region"] = {"dtype": "category", "categories": ["north", "south"]}
    data["columns"]["age_over_65"] = {"dtype": "int", "categories": [0, 1]}
    data["segments"] = ["channel", "region", "age_over_65"]
    contract = parse_contract(data)
    assert contract.extra_segments == ["region", "age_over_65"], "segments the model never reads"
    assert contract.input_columns == [*contract.features, "region", "age_over_65"], (
        "a request carries the features, then the extra segments"
    )
    assert "region" not in contract.features, "and the model does not read them"


def test_a_segment_needs_categories() -> None:
    data = raw()
    data["segments"] = ["customer_age"]
    message = rejected(data)
    assert "segment 'customer_age' must be a category column" in message, message
    data["segments"] = ["ghost"]
    assert "segment 'ghost' is not declared" in rejected(data), "an unknown segment"


def test_model_params_have_defaults_and_take_overrides() -> None:
    data = raw()
    data.pop("model")
    assert parse_contract(data).model == ModelParams(), "defaults when the section is omitted"
    data["model"] = {"max_iter": 50, "max_depth": 4}
    params = parse_contract(data).model
    assert (params.max_iter, params.max_depth) == (50, 4), "overrides are read"
    assert params.learning_rate == ModelParams().learning_rate, "others keep their default"
    assert params.to_dict()["max_iter"] == 50, "logged as plain values"
    data["model"] = {"max_iter": 0}
    assert "model.max_iter" in rejected(data), "a bad hyper-parameter names its key"
    data["model"] = {"trees": 10}
    assert "model.trees" in rejected(data), "an unknown hyper-parameter names its key"


def test_model_and_experiment_names_default_to_the_contract_name() -> None:
    data = raw()
    data.pop("model_name")
    data.pop("experiment_name")
    contract = parse_contract(data)
    assert (contract.model_name, contract.experiment_name) == ("card_fraud", "card_fraud"), (
        "both default to name"
    )
    data["model_name"] = "my-model"
    assert parse_contract(data).model_name == "my-model", "an explicit name wins"
    data["name"] = "bad name!"
    assert "name 'bad name!' must start with a letter" in rejected(data), "a usable name"
