"""Fuzzing: seeded malformed requests never get a 5xx, and every error answer is JSON."""

# ruff: noqa: D103  (grader tests, like the project's tests, are named for what they check)

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from pipelines.exercises.graders.inference_api.conftest import Kit

CASES = 80
JUNK: list[Any] = [
    None,
    "",
    "x" * 5000,
    "\u0000",
    -1,
    10**30,
    -1e308,
    1.5,
    True,
    [],
    {},
    [1, 2],
    {"nested": {"deeper": [None]}},
    "1e309",
    "2024-13-45T99:00:00",
]


def mutate(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``row`` with one to three keys dropped, set to junk, or added."""
    out = dict(row)
    for _ in range(rng.randint(1, 3)):
        action = rng.choice(["drop", "junk", "add"])
        key = rng.choice(sorted(out)) if out else "k"
        if action == "drop":
            out.pop(key, None)
        elif action == "junk":
            out[key] = rng.choice(JUNK)
        else:
            out[f"extra_{rng.randint(0, 9)}"] = rng.choice(JUNK)
    return out


def raw_body(rng: random.Random, row: dict[str, Any]) -> bytes:
    """A body that is not a valid request: broken JSON, wrong shapes, NaN, deep nesting."""
    text = json.dumps(row)
    choices = [
        text[: rng.randint(0, len(text))],
        "[" * 2000 + "]" * 2000,
        text.replace("}", ', "x": NaN}'),
        json.dumps([row] * 100_000)[:200],
        json.dumps({"rows": [row]}),
        json.dumps([[row]]),
        '"just a string"',
        "\ufeff" + text,
        json.dumps([None, row]),
    ]
    return rng.choice(choices).encode("utf-8", "surrogatepass")


def assert_clean(response: Any, what: object) -> None:
    """Not a 5xx; an error answer is a JSON object with a detail."""
    assert response.status_code < 500, f"{response.status_code} for {what!r}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), f"an error body is a JSON object: {body!r}"
        assert isinstance(body.get("detail"), str), f"an error body has a detail: {body!r}"


def test_mutated_rows_never_get_a_5xx(client: TestClient, kit: Kit) -> None:
    rng = random.Random(101)
    for _ in range(CASES):
        row = mutate(kit.row(), rng)
        assert_clean(client.post("/v1/predict", json=row), row)


def test_mutated_batches_never_get_a_5xx(client: TestClient, kit: Kit) -> None:
    rng = random.Random(202)
    for _ in range(CASES // 2):
        rows = [mutate(r, rng) if rng.random() < 0.5 else r for r in kit.rows(4, seed=13)]
        assert_clean(client.post("/v1/predict", json=rows), rows)


def test_raw_bodies_never_get_a_5xx(client: TestClient, kit: Kit) -> None:
    rng = random.Random(303)
    for _ in range(CASES // 2):
        body = raw_body(rng, kit.row())
        headers = {"Content-Type": rng.choice(["application/json", "text/plain"])}
        assert_clean(client.post("/v1/predict", content=body, headers=headers), body[:80])


def test_other_routes_and_methods_never_get_a_5xx(client: TestClient) -> None:
    for method, path in [
        ("GET", "/v1/predict"),
        ("PUT", "/v1/predict"),
        ("GET", "/nope"),
        ("POST", "/health"),
        ("DELETE", "/v1/model"),
    ]:
        response = client.request(method, path)
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
