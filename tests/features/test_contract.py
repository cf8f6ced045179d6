from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from features.contract import ContractError, load_contract, parse_contract

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
        (lambda d: d["columns"]["is_fraud"].update(categories=[0, 1, 2]), "categories [0, 1]"),
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
