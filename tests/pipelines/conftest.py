"""Fixtures of the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def prefect_api(prefect_harness: None) -> str:
    """URL of the session's temporary Prefect API, for commands that run a flow."""
    import prefect.settings

    return str(prefect.settings.PREFECT_API_URL.value())


#: The demo every test that needs a lived-in home shares: card fraud, the default scenario.
DEMO_DAYS = 44
DEMO_SEED = 42


@pytest.fixture(scope="session")
def default_demo(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """The home of one card-fraud demo run (blocked batch, drift, a retrain, a promotion).

    Read it as it is; a test that changes it works on a copy (a copied home relocates itself).
    """
    from pipelines.demo import run_demo
    from pipelines.settings import load_settings

    home = tmp_path_factory.mktemp("default-demo")
    run_demo(load_settings(home=home), scenario="default", days=DEMO_DAYS, seed=DEMO_SEED)
    return home
