"""Health and readiness: liveness always, readiness only with a model loaded."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from pipelines.exercises.graders.inference_api.conftest import Kit


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_names_the_loaded_version(client: TestClient, kit: Kit) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"]) == (kit.contract.model_name, "3")


def test_without_a_model_ready_is_503_and_health_still_ok(kit: Kit) -> None:
    with kit.client(alias=None) as client:
        ready = client.get("/ready")
        health = client.get("/health")
    assert ready.status_code == 503, ready.text
    assert isinstance(ready.json().get("detail"), str), "a JSON error body with a detail"
    assert health.status_code == 200


def test_without_a_model_predict_is_503_not_a_crash(kit: Kit) -> None:
    with kit.client(alias=None) as client:
        response = client.post("/v1/predict", json=kit.row())
    assert response.status_code == 503, response.text
    assert isinstance(response.json().get("detail"), str)
