"""Contract validation: each kind of invalid row is a 422 whose JSON body names the field."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from features.contract import DatasetContract

if TYPE_CHECKING:
    from pipelines.exercises.graders.inference_api.conftest import Kit

UNKNOWN_COLUMN = "not_a_contract_column"


def bounded_feature(contract: DatasetContract) -> str:
    """A numeric feature with an upper bound."""
    return next(n for n in contract.numeric_features if contract.columns[n].max is not None)


def required_feature(contract: DatasetContract) -> str:
    """A feature that may not be null."""
    return next(n for n in contract.features if not contract.columns[n].nullable)


def invalid_row(kit: Kit, kind: str) -> tuple[dict[str, Any], str]:
    """A row broken in one way, and the column the error must name."""
    c = kit.contract
    row = kit.row()
    if kind == "missing":
        name = required_feature(c)
        del row[name]
    elif kind == "wrong_type":
        name = c.numeric_features[0]
        row[name] = "not a number"
    elif kind == "out_of_range":
        name = bounded_feature(c)
        row[name] = float(c.columns[name].max or 0) * 10 + 1000
    elif kind == "unknown_category":
        name = c.categorical_features[0]
        row[name] = "no-such-category"
    else:
        name = UNKNOWN_COLUMN
        row[name] = 1
    return row, name


def assert_names_the_field(response: Any, column: str, where: str = "") -> None:
    """422, a JSON detail, and an error entry whose field names ``column`` (and ``where``)."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body.get("detail"), str), f"a JSON error body with a detail: {body}"
    fields = [str(e.get("field", "")) for e in body.get("errors", [])]
    assert any(column in f and where in f for f in fields), f"no error names {column}: {body}"


@pytest.mark.parametrize(
    "kind", ["missing", "wrong_type", "out_of_range", "unknown_category", "extra_field"]
)
def test_an_invalid_row_is_422_naming_the_field(client: TestClient, kit: Kit, kind: str) -> None:
    row, column = invalid_row(kit, kind)
    assert_names_the_field(client.post("/v1/predict", json=row), column)


def test_a_bad_row_in_a_batch_is_named_by_its_position(client: TestClient, kit: Kit) -> None:
    rows = kit.rows(3)
    broken, column = invalid_row(kit, "unknown_category")
    rows[2] = broken
    assert_names_the_field(client.post("/v1/predict", json=rows), column, where="2")


@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b"null"])
def test_an_empty_or_malformed_body_is_a_json_4xx(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json().get("detail"), str)
