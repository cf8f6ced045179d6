"""kill -9 of `lifecycle train` at each step, then what the next run and `promote` make of it.

Each killed run dies by SIGKILL at a named checkpoint (``LIFECYCLE_FAULT``, never timing luck),
one after another in the same home. Afterwards every MLflow run is ended, every version is either
complete or tagged abandoned with the reason, the challenger is a complete version, and an
abandoned version cannot be promoted.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
from mlflow import MlflowClient

from data.batches import write_batches
from data.generator import DEFAULT_START
from data.usecases import use_case
from features import vocabulary as vocab
from pipelines.settings import load_settings
from tests.pipelines.cli_runner import killed_at, lifecycle

MODEL = "card-fraud"
DAYS = 30
ROWS = 400
#: Where a training run can die, and what becomes of the version it registered, if any.
TRAIN_CHECKPOINTS = [
    ("train:after_version_registered", "abandoned"),
    ("train:after_run_finished", "abandoned"),
    ("train:after_model_card", "abandoned"),
    ("train:after_complete_tag", "complete"),
    ("train:after_challenger_alias", "complete"),
    ("train:after_run_started", None),  # last: the clean run below must end its run
]


@pytest.fixture(scope="module")
def validated_home(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    """A home with a month of validated batches and no model yet."""
    from pipelines.flows import validate_flow

    home = tmp_path_factory.mktemp("kill-train")
    settings = load_settings(home=home)
    case = use_case("card_fraud")
    days = (
        (
            DEFAULT_START + timedelta(days=i),
            case.generate_day(i, "none", seed=5, days=DAYS, rows=ROWS),
        )
        for i in range(DAYS)
    )
    write_batches(days, settings.paths.raw)
    assert all(outcome.success for outcome in validate_flow(settings)), "clean batches pass"
    return home


def version_state(tags: dict[str, str]) -> str:
    """'complete', 'abandoned', or 'neither' (which must never be left after a run)."""
    if vocab.ABANDONED_TAG in tags:
        return "abandoned"
    return "complete" if tags.get(vocab.TRAINING_COMPLETE_TAG) == "true" else "neither"


@pytest.mark.e2e
def test_train_killed_at_each_step_leaves_a_consistent_registry(
    validated_home: Path, prefect_api: str
) -> None:
    home = validated_home
    cutoff = (DEFAULT_START + timedelta(days=DAYS)).isoformat()
    expected: dict[str, str] = {}
    for fault, state in TRAIN_CHECKPOINTS:
        killed = killed_at(home, fault, "train", "--cutoff", cutoff, prefect_api=prefect_api)
        assert killed.code == -signal.SIGKILL, f"the process died by SIGKILL at {fault}\n{killed}"
        if state is not None:
            expected[str(len(expected) + 1)] = state

    rerun = lifecycle(home, "train", "--cutoff", cutoff, prefect_api=prefect_api)
    assert rerun.code == 0, f"a clean run after six killed ones\n{rerun}"
    final = str(len(expected) + 1)
    expected[final] = "complete"
    assert f"version {final} as challenger" in rerun.stdout, str(rerun)
    assert "marked FAILED" in rerun.stdout, f"the clean run says what it repaired\n{rerun}"
    assert "Registered model" not in rerun.stderr, f"no MLflow chatter\n{rerun}"

    settings = load_settings(home=home)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{MODEL}'")}
    states = {number: version_state(dict(v.tags)) for number, v in versions.items()}
    assert states == expected, f"each version is complete or abandoned: {states}"
    assert str(client.get_model_version_by_alias(MODEL, vocab.CHALLENGER).version) == final
    for number, state in states.items():
        if state == "abandoned":
            reason = versions[number].tags[vocab.ABANDONED_TAG]
            assert "interrupted" in reason, reason
            assert "train again" in reason, reason

    experiment = client.get_experiment_by_name(MODEL)
    assert experiment is not None
    statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
    assert "RUNNING" not in statuses, f"no run is left RUNNING: {statuses}"
    assert statuses.count("FAILED") == 2, f"the two runs killed while open failed: {statuses}"

    refused = lifecycle(home, "promote", "--version", "1", prefect_api=prefect_api)
    assert refused.code == 2, str(refused)
    assert "version 1 cannot be promoted" in refused.stderr, str(refused)
    doctor = lifecycle(home, "doctor", prefect_api=prefect_api)
    assert "nothing to repair" in doctor.stdout, f"nothing is left for the doctor\n{doctor}"
