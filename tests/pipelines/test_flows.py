"""The spine end to end: generate -> validate -> train -> promote -> rollback, in a temp home.

Real flows on Prefect's test API, a real MLflow SQLite store and registry, real GX validation.
Assertions read the registry back with MLflow's own client and the audit log from disk. The
spine runs on both built-in use cases: card fraud (int label, a label-available column) and
churn (text label, a constant label delay, a segment that is not a feature).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from features.contract import load_contract
from pipelines.audit import read_decisions
from pipelines.settings import load_settings

pytestmark = pytest.mark.e2e

DAYS = 40
ONSET = 16
INCIDENT = 8
ROWS = {"card_fraud": 800, "churn": 400}


@pytest.mark.parametrize("name", ["card_fraud", "churn"])
def test_spine(name: str, tmp_path: Path, prefect_harness: None) -> None:
    from pipelines.flows import (
        PipelineError,
        promote_flow,
        rollback_flow,
        train_flow,
        validate_flow,
    )

    case = use_case(name)
    settings = load_settings(home=tmp_path, contract=case.contract_file)
    contract = load_contract(case.contract_file)
    timeline = case.timeline("default", DAYS, incident_day=INCIDENT, onset_day=ONSET)
    days = (
        (
            DEFAULT_START + timedelta(days=i),
            case.generate_day(
                i,
                "default",
                seed=3,
                days=DAYS,
                rows=ROWS[name],
                incident_day=INCIDENT,
                onset_day=ONSET,
            ),
        )
        for i in range(DAYS)
    )
    write_batches(days, settings.paths.raw)

    # Validation: the incident day is blocked and quarantined, everything else passes.
    outcomes = validate_flow(settings)
    blocked = [o.batch_id for o in outcomes if not o.success]
    assert blocked == ["2026-01-09"], (
        f"only the incident day (day {timeline.incident_day}) is blocked"
    )
    assert (settings.paths.quarantine / "2026-01-09" / "validation.json").exists(), "result kept"
    assert not (settings.paths.validated / "2026-01-09.parquet").exists(), "never reaches training"
    assert validate_flow(settings) == [], "a second run checks nothing again"

    # v1: trained before the drift onset, promoted on the absolute floor.
    first = train_flow(settings, cutoff=datetime(2026, 1, ONSET + 1))
    assert first.version == "1", first
    assert first.cutoff.startswith("2026-01-17"), "the cutoff given is the one used"
    decision = promote_flow(settings)
    assert decision.verdict == "promote", decision.reason
    assert "floor" in decision.reason, decision.reason

    client = MlflowClient(tracking_uri=settings.resolved_tracking_uri)
    name = contract.model_name
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"

    # v2: trained after the onset on more recent labels; beats the stale v1 on the new holdout.
    # The label cutoff is the run's clock unless given: the end of the last generated day here.
    end = datetime.combine(DEFAULT_START + timedelta(days=DAYS), datetime.min.time())
    second = train_flow(settings, cutoff=end)
    assert str(client.get_model_version_by_alias(name, "challenger").version) == second.version
    tags = client.get_model_version(name, second.version).tags
    assert tags["contract_hash"], tags
    assert 0 < float(tags["threshold"]) < 1, tags
    run = client.get_run(second.run_id)
    assert "2026-01-09" not in run.data.tags["batches"].split(","), "blocked batch not in lineage"
    assert run.data.metrics["pr_auc"] > 0.3, run.data.metrics
    assert run.data.tags["contract_name"] == contract.name, "the run names its contract"
    assert run.info.run_name == f"train-{end:%Y%m%d-%H%M}", "the run is named by its cutoff"
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "holdout"}, "both frames are logged as dataset inputs"
    assert inputs["holdout"].name.startswith("holdout 2026-"), inputs["holdout"].name
    reference = client.download_artifacts(
        second.run_id, "reference/reference.parquet", str(tmp_path)
    )
    columns = list(pd.read_parquet(reference).columns)
    assert contract.score_name in columns, f"the reference holds the score by name: {columns}"
    assert set(contract.extra_segments) <= set(columns), "segments that are not features kept"
    artifacts = {a.path for a in client.list_artifacts(second.run_id)}
    assert {"model_card.md", "lineage.json", "reference", "metrics"} <= artifacts, artifacts

    decision = promote_flow(settings)
    assert decision.verdict == "promote", f"the retrained model wins after drift: {decision.reason}"
    assert decision.numbers["gain"] > 0.05, decision.numbers
    assert str(client.get_model_version_by_alias(name, "champion").version) == second.version
    assert client.get_model_version(name, second.version).tags["previous_champion"] == "1"
    with pytest.raises(Exception, match="challenger"):
        client.get_model_version_by_alias(name, "challenger")

    # v3: the same data again gives the same model: no gain, rejected, champion unchanged.
    third = train_flow(settings, cutoff=end)
    decision = promote_flow(settings)
    assert decision.verdict == "reject", decision.reason
    assert str(client.get_model_version_by_alias(name, "champion").version) == second.version
    assert client.get_model_version(name, third.version).tags["gate.verdict"] == "reject"
    description = client.get_model_version(name, third.version).description
    assert "rejected." in description, f"the version page says why: {description}"
    assert decision.reason in description, description

    # Rollback moves champion back to v1 and is recorded; there is nothing before v1.
    result = rollback_flow(settings, "test rollback")
    assert (result.from_version, result.to_version) == (second.version, "1"), result
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    with pytest.raises(PipelineError, match="nothing to roll back to"):
        rollback_flow(settings, "again")

    kinds = [r["kind"] for r in read_decisions(settings.paths.audit_log)]
    assert kinds.count("batch_blocked") == 1, kinds
    assert kinds.count("batch_passed") == DAYS - 1, kinds
    assert [k for k in kinds if not k.startswith("batch")] == [
        "promote",
        "promote",
        "reject",
        "rollback",
    ], kinds
    promotion = read_decisions(settings.paths.audit_log, {"promote"})[1]
    assert promotion["numbers"]["champion"] < promotion["numbers"]["challenger"], promotion
