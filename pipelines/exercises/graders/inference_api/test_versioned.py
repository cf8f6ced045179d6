"""Versioned answers: every prediction and /v1/model name the version that scored."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from pipelines.exercises.graders.inference_api.conftest import Kit


def test_every_prediction_names_the_model_and_its_version(client: TestClient, kit: Kit) -> None:
    body = client.post("/v1/predict", json=kit.rows(3)).json()
    assert {(p["model_name"], p["model_version"]) for p in body} == {(kit.contract.model_name, "3")}


def test_the_version_reported_is_the_one_the_alias_names(kit: Kit) -> None:
    with kit.client(alias="17") as client:
        body = client.post("/v1/predict", json=kit.row()).json()
        model = client.get("/v1/model").json()
    assert body["model_version"] == "17"
    assert model["version"] == "17"


def test_v1_model_describes_the_serving_version(client: TestClient, kit: Kit) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["version"], body["threshold"]) == (kit.contract.model_name, "3", 0.3)
