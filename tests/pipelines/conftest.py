"""Fixtures of the pipeline tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def prefect_api(prefect_harness: None) -> str:
    """URL of the session's temporary Prefect API, for commands that run a flow."""
    import prefect.settings

    return str(prefect.settings.PREFECT_API_URL.value())
