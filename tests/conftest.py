"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _quiet_mlflow() -> Iterator[None]:
    """The same MLflow environment the CLI sets (no uv.lock copy per model, no progress bars)."""
    keys = {"MLFLOW_LOG_UV_FILES": "false", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(keys)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    # The test server must not try to send usage telemetry (there is no network to send to).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    from pipelines.runtime import without_heartbeats

    with prefect_test_harness(server_startup_timeout=180), without_heartbeats():
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), keep each module whole.

    A module's tests go to one worker, so its module-scoped fixtures (a trained model, a served
    app) are built once; modules that mark themselves ``xdist_group("default-demo")`` share one
    worker and so one session demo. A long test with no module fixture to share may name a group
    of its own, so that another worker can take it. Without xdist the mark does nothing.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None and item.module is not None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
