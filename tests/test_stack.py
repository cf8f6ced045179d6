"""The pinned stack works together: each core library imported and exercised once."""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = [
    "scikit-learn",
    "pandas",
    "mlflow",
    "great-expectations",
    "fastapi",
    "uvicorn",
    "prefect",
    "evidently",
]


def _pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["dependencies"]:
        name, _, version = spec.partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


@pytest.mark.parametrize("package", CORE)
def test_core_library_pinned_and_installed(package: str) -> None:
    pins = _pins()
    assert package in pins, f"{package} must be pinned exactly in pyproject.toml"
    assert md.version(package) == pins[package], f"installed {package} differs from its pin"


def test_pandas_stays_below_3_for_evidently() -> None:
    assert int(pd.__version__.split(".")[0]) < 3, "evidently 0.7 fails to import with pandas 3"


def _frame(n: int = 300, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(shift, 1.0, n)
    return pd.DataFrame(
        {"x": x, "c": rng.choice(["a", "b"], n), "y": (x + rng.normal(0, 1, n) > 0).astype(int)}
    )


def test_sklearn_mlflow_skops_roundtrip(tmp_path: Path) -> None:
    import mlflow
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from features.model_io import SKOPS_TRUSTED_TYPES

    frame = _frame()
    pipe = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])],
                    remainder="passthrough",
                ),
            ),
            ("model", HistGradientBoostingClassifier(max_iter=10)),
        ]
    ).fit(frame[["x", "c"]], frame["y"])
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = mlflow.create_experiment("stack", artifact_location=(tmp_path / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            registered_model_name="stack-model",
            pip_requirements=["scikit-learn"],
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("stack-model", "champion", info.registered_model_version)
    loaded = mlflow.sklearn.load_model("models:/stack-model@champion")
    expected = pipe.predict_proba(frame[["x", "c"]])
    np.testing.assert_allclose(loaded.predict_proba(frame[["x", "c"]]), expected)


def test_great_expectations_blocks_a_bad_frame() -> None:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
    )
    suite = context.suites.add(gx.ExpectationSuite("s"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="x", max_value=10))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="v", data=batch, suite=suite)
    )
    frame = _frame()
    assert definition.run(batch_parameters={"dataframe": frame}).success, "clean frame passes"
    bad = frame.assign(x=frame["x"] * 100)
    assert not definition.run(batch_parameters={"dataframe": bad}).success, "bad frame blocked"


def test_evidently_detects_a_shift() -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=["x"], categorical_columns=["c"])
    snapshot = Report([DataDriftPreset()]).run(
        reference_data=Dataset.from_pandas(_frame(), data_definition=definition),
        current_data=Dataset.from_pandas(_frame(shift=2.0), data_definition=definition),
    )
    metrics = {m["metric_name"]: m["value"] for m in snapshot.dict()["metrics"]}
    drifted = next(v for k, v in metrics.items() if k.startswith("DriftedColumnsCount"))
    assert drifted["count"] >= 1, f"a 2-sigma shift is detected, got {drifted}"


def test_fastapi_app_served_by_uvicorn_over_a_socket() -> None:
    import socket
    import threading
    import time

    import httpx
    import uvicorn
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "ok"}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/ping", timeout=5)
        assert response.json() == {"pong": "ok"}, "uvicorn serves the FastAPI app"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_prefect_runs_a_flow_with_a_retrying_task(prefect_harness: None) -> None:
    from prefect import flow, task

    calls: list[int] = []

    @task(retries=1, retry_delay_seconds=0)
    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return 42

    @flow
    def wrapper() -> int:
        return flaky()

    assert wrapper() == 42, "the retried task's value comes back through the flow"
    assert len(calls) == 2, "the task ran twice: once failing, once retried"
