"""Predict: the documented answer for one row and for a batch, scored by the served model."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from pipelines.exercises.graders.inference_api.conftest import Kit

THRESHOLD = 0.3


def test_one_row_gets_one_prediction_with_the_documented_fields(
    client: TestClient, kit: Kit
) -> None:
    row = kit.row()
    response = client.post("/v1/predict", json=row)
    assert response.status_code == 200, response.text
    body = response.json()
    c = kit.contract
    expected = {"request_id", c.id_column, c.score_name, "decision", "threshold"}
    assert set(body) == expected | {"model_name", "model_version"}, body
    assert body[c.id_column] == row[c.id_column], "the id is echoed as sent"


def test_a_batch_is_answered_in_request_order(client: TestClient, kit: Kit) -> None:
    rows = kit.rows(12, seed=3)
    response = client.post("/v1/predict", json=rows)
    assert response.status_code == 200, response.text
    body = response.json()
    id_column = kit.contract.id_column
    assert [p[id_column] for p in body] == [r[id_column] for r in rows]


def test_scores_are_the_models_probabilities(client: TestClient, kit: Kit) -> None:
    rows = kit.rows(20, seed=5)
    body = client.post("/v1/predict", json=rows).json()
    got = [p[kit.contract.score_name] for p in body]
    assert got == pytest.approx(kit.scores(rows), abs=1e-6)


def test_one_row_scores_as_in_a_batch(client: TestClient, kit: Kit) -> None:
    rows = kit.rows(4, seed=9)
    score = kit.contract.score_name
    alone = [client.post("/v1/predict", json=r).json()[score] for r in rows]
    together = [p[score] for p in client.post("/v1/predict", json=rows).json()]
    assert alone == pytest.approx(together, abs=1e-9)


def test_the_decision_follows_the_versions_threshold(client: TestClient, kit: Kit) -> None:
    body = client.post("/v1/predict", json=kit.rows(30, seed=11)).json()
    score = kit.contract.score_name
    assert {p["threshold"] for p in body} == {THRESHOLD}
    assert [p["decision"] for p in body] == [int(p[score] >= THRESHOLD) for p in body]
