"""The inference-api kit is fair: the untouched starter scores low, a plausible wrong fix in
between, the reference solution full marks, and grading a repository twice gives the same report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.exercises.catalog import exercise_named
from pipelines.exercises.scaffold import create_exercise
from pipelines.settings import REPO_ROOT
from tests.pipelines.cli_runner import lifecycle

pytestmark = pytest.mark.e2e

#: A first attempt that scores and answers health checks but never validates its input.
UNVALIDATED_APP = '''\
"""A scoring app without contract validation."""

import contextlib
from typing import Any

import pandas as pd
from fastapi import Body, FastAPI, Request

from serving.mlflow_source import MlflowModelSource
from serving.model_store import ModelStore, utc_now


def create_app(config, source=None, clock=utc_now):
    contract = config.contract

    @contextlib.asynccontextmanager
    async def lifespan(app):
        chosen = source or MlflowModelSource(config.tracking_uri, config.model_name, config.alias)
        app.state.store = ModelStore(chosen, contract, clock)
        app.state.store.refresh()
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/ready")
    def ready(request: Request):
        loaded = request.app.state.store.current
        return {"status": "ready", "model_name": loaded.name, "model_version": loaded.version}

    @app.post("/v1/predict")
    def predict(request: Request, body: Any = Body(...)):
        loaded = request.app.state.store.current
        rows = body if isinstance(body, list) else [body]
        scores = loaded.model.predict_proba(pd.DataFrame(rows)[list(contract.features)])[:, 1]
        answers = [
            {
                "request_id": "r",
                contract.id_column: row[contract.id_column],
                contract.score_name: float(score),
                "decision": int(score >= loaded.threshold),
                "threshold": loaded.threshold,
                "model_name": loaded.name,
                "model_version": loaded.version,
            }
            for row, score in zip(rows, scores)
        ]
        return answers if isinstance(body, list) else answers[0]

    return app
'''


def new_starter(parent: Path) -> Path:
    return create_exercise(exercise_named("inference-api"), REPO_ROOT, parent / "starter")


def graded(repo: Path) -> dict:
    run = lifecycle(repo.parent, "exercise", "grade", str(repo), "--json")
    assert run.code == 0, run
    return json.loads(run.stdout)


def points(report: dict) -> dict[str, float]:
    return {line["key"]: line["points"] for line in report["lines"]}


def test_the_untouched_starter_scores_low_and_the_same_each_time(tmp_path):
    starter = new_starter(tmp_path)
    first, second = graded(starter), graded(starter)
    assert first["score"] <= 10, first
    assert first["max_score"] == 100
    assert (first["score"], points(first)) == (second["score"], points(second))


def test_the_reference_solution_scores_full_marks(tmp_path):
    exercise = exercise_named("inference-api")
    starter = new_starter(tmp_path)
    exercise.restore(REPO_ROOT, starter, 0)
    report = graded(starter)
    assert report["score"] == report["max_score"] == 100, json.dumps(report, indent=1)


def test_an_unvalidated_app_scores_in_between(tmp_path):
    starter = new_starter(tmp_path)
    (starter / "serving" / "app.py").write_text(UNVALIDATED_APP, encoding="utf-8")
    report = graded(starter)
    lines = points(report)
    assert 20 <= report["score"] <= 80, report
    assert lines["predict"] == 30, "it does score rows right"
    assert lines["validation"] < 20, "it does not validate"
    assert lines["fuzz"] < 15, "bad input crashes it"
