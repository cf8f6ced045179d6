"""A cloudpickle version with a payload is refused, in-process and by a live server, and never runs.

MLflow's default (``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` unset, i.e. pickle allowed) is left in
force on purpose: the refusal must come from the project's loader, not from the flag.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import httpx
import mlflow
import pytest

from features.model_io import REFUSED, UntrustedModelError, load_trusted_pipeline
from serving.app import create_app
from serving.mlflow_source import MlflowModelSource
from serving.model_store import ModelLoadError
from serving.runner import run_in_thread
from tests.serving.conftest import Registry, make_config, valid_item
from tests.untrusted import log_payload_model


@pytest.fixture(scope="module")
def payload_experiment(registry: Registry) -> str:
    location = (registry.workdir / "payload-artifacts").as_uri()
    return str(registry.client.create_experiment("payloads", artifact_location=location))


def payload_version(registry: Registry, payload_experiment: str, name: str, marker: Path) -> str:
    """Register a cloudpickle payload model as a new version of ``name`` (tags as usual)."""
    source = log_payload_model(registry.client, payload_experiment, marker)
    return registry.register(name, source=source)


def test_the_payload_is_live_when_unpickled(tmp_path, registry, payload_experiment):
    marker = tmp_path / "pwned"
    source = log_payload_model(registry.client, payload_experiment, marker)
    local = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path / "dl")))
    pickle.loads((local / "model.pkl").read_bytes())  # what MLflow's loader would do
    assert marker.exists(), "control: the payload really runs when its file is unpickled"


def test_load_trusted_pipeline_refuses_the_payload(tmp_path, registry, payload_experiment):
    marker = tmp_path / "pwned"
    source = log_payload_model(registry.client, payload_experiment, marker)
    local = Path(mlflow.artifacts.download_artifacts(source, dst_path=str(tmp_path / "dl")))
    with pytest.raises(UntrustedModelError, match="serialization_format 'cloudpickle'") as caught:
        load_trusted_pipeline(local)
    assert str(caught.value).startswith(REFUSED), str(caught.value)
    assert not marker.exists(), "the payload never ran"


def test_source_refuses_the_payload_version(tmp_path, registry, payload_experiment, model_name):
    marker = tmp_path / "pwned"
    version = payload_version(registry, payload_experiment, model_name, marker)
    source = MlflowModelSource(registry.tracking_uri, model_name, "champion")
    with pytest.raises(ModelLoadError) as caught:
        source.fetch(version)
    message = str(caught.value)
    assert message.startswith("refused: untrusted serialization"), message
    assert "cloudpickle" in message, f"names what the artifact declared: {message}"
    assert f"version {version}" in message, f"names the version: {message}"
    assert "serving-model-" not in message, f"no temporary folder in the reason: {message}"
    assert not marker.exists(), "the payload never ran"
    good = source.fetch("1")
    assert good.input_example is not None, "a skops version still loads, with its example"


def test_source_hides_its_download_folder_in_reasons(registry, model_name):
    source = MlflowModelSource(registry.tracking_uri, model_name, "champion")
    version = registry.register(model_name, source=registry.corrupted_source())
    with pytest.raises(ModelLoadError) as caught:
        source.fetch(version)
    assert "serving-model-" not in str(caught.value), str(caught.value)


@pytest.mark.e2e
def test_live_server_keeps_serving_and_reports_the_refusal(
    tmp_path, contract, registry, payload_experiment, model_name
):
    marker = tmp_path / "pwned"
    version = payload_version(registry, payload_experiment, model_name, marker)
    config = make_config(tmp_path, contract, registry.tracking_uri, model_name, poll_seconds=0.05)
    with run_in_thread(create_app(config)) as base_url, httpx.Client(base_url=base_url) as http:
        assert http.get("/v1/model").json()["version"] == "1", "version 1 serves first"
        registry.champion(model_name, version)  # the attacker's "promotion"
        deadline = time.monotonic() + 20
        info = http.get("/v1/model").json()
        while info["last_swap_error"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
            info = http.get("/v1/model").json()
        predicted = http.post("/v1/predict", json=valid_item(contract))
        ready = http.get("/ready")
    failure = info["last_swap_error"]
    assert failure is not None, f"the refusal is reported in /v1/model: {info}"
    assert failure["version"] == version, "the refused version is named"
    assert "refused: untrusted serialization" in failure["reason"], failure["reason"]
    assert "serving-model-" not in failure["reason"], "no temporary server path in the reason"
    assert info["version"] == "1", "version 1 keeps serving"
    assert info["alias_version"] == version, "while the alias points at the payload"
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["model_version"] == "1", "requests are scored by version 1"
    assert ready.status_code == 200, "still ready"
    assert not marker.exists(), "the payload never ran in the server process"
