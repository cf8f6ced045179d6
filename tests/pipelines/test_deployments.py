"""The deployed flows run as a worker runs them: settings from the environment, plain parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.deployments import daily_flow, deployment_specs
from pipelines.settings import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "sample" / "clean"


def test_each_deployment_names_a_flow_of_the_module_and_only_daily_is_scheduled() -> None:
    import pipelines.deployments as module

    specs = deployment_specs("0 6 * * *", ingest_from="/landing")
    assert [s.name for s in specs] == ["daily", "retrain", "score"]
    assert all(callable(getattr(module, s.function)) for s in specs)
    assert [s.cron for s in specs] == ["0 6 * * *", None, None]
    assert specs[0].parameters == {"ingest_from": "/landing"}
    assert deployment_specs(None)[0].parameters == {}


@pytest.mark.e2e
def test_daily_ingests_what_landed_validates_it_and_says_nothing_was_logged(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFECYCLE_HOME", str(tmp_path / "home"))
    outcome = daily_flow(ingest_from=str(SAMPLE))
    assert outcome["ingested"].startswith("ingested"), outcome
    assert outcome["validated"] == ["2026-01-01", "2026-01-02", "2026-01-03"], outcome
    assert outcome["blocked"] == []
    assert outcome["monitor"] == "no predictions logged for any day"
    again = daily_flow(ingest_from=str(SAMPLE))
    assert again["validated"] == [], "the same landing content is not ingested twice"
