"""`lifecycle score`: batch scoring on Dask gives the server's scores, and accounts for every row.

One home holds a registered model with two versions (version 1 the champion, version 2 a
differently trained model), built in seconds from a small synthetic frame; the input is two
Parquet files with a few rows the request schema refuses.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from features.contract import DatasetContract, load_contract
from features.model_io import SKOPS_TRUSTED_TYPES
from features.vocabulary import CHAMPION, DECISION, MODEL_VERSION
from pipelines.settings import Settings, load_settings
from serving.scoring import feature_frame, positive_probabilities
from tests.pipelines.cli_runner import assert_user_error, lifecycle
from tests.serving.conftest import CONTRACT_PATH, fit_pipeline, synthetic_frame, version_tags

pytestmark = pytest.mark.e2e

#: (row id, column, bad value, a word the reason must hold)
BAD_ROWS = [
    ("bad-amount", "amount", -5.0, "greater than or equal"),
    ("bad-category", "merchant_category", "casino", "grocery"),
    ("bad-age", "customer_age", None, "customer_age"),
]


@dataclass(frozen=True)
class Home:
    """A home with two versions of the contract's model and an input folder of two files."""

    path: Path
    settings: Settings
    contract: DatasetContract
    models: dict[str, Pipeline]
    inputs: Path
    rows: pd.DataFrame


def _log_version(
    client: MlflowClient,
    experiment: str,
    contract: DatasetContract,
    model: Pipeline,
    example: pd.DataFrame,
) -> str:
    with mlflow.start_run(experiment_id=experiment), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Integer columns in Python cannot")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            signature=infer_signature(example, model.predict_proba(example)[:, 1]),
            input_example=example,
            registered_model_name=contract.model_name,
            pip_requirements=["scikit-learn"],
        )
    version = str(info.registered_model_version)
    for key, value in version_tags(contract).items():
        client.set_model_version_tag(contract.model_name, version, key, value)
    return version


def _with_bad_rows(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """``frame`` plus one row per entry of BAD_ROWS (a copy of a good row with one bad value)."""
    bad = []
    for record, (row_id, column, value, _) in zip(
        frame.head(len(BAD_ROWS)).to_dict(orient="records"), BAD_ROWS, strict=True
    ):
        bad.append({**record, contract.id_column: row_id, column: value})
    return pd.concat([frame.astype(object), pd.DataFrame(bad)], ignore_index=True).infer_objects()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Home:
    path = tmp_path_factory.mktemp("batch-home")
    settings = load_settings(home=path, contract=CONTRACT_PATH)
    contract = load_contract(settings.contract)
    settings.paths.mlflow.mkdir(parents=True)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "batch-tests", artifact_location=settings.paths.mlflow_artifacts.as_uri()
    )
    training = synthetic_frame(contract, 900, seed=1)
    example = training[list(contract.features)].head(5)
    models = {"1": fit_pipeline(contract, training)}
    models["2"] = fit_pipeline(contract, synthetic_frame(contract, 900, seed=2))
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        for expected, model in models.items():
            assert _log_version(client, experiment, contract, model, example) == expected
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    client.set_registered_model_alias(contract.model_name, CHAMPION, "1")
    rows = synthetic_frame(contract, 3000, seed=7)
    inputs = path / "input"
    inputs.mkdir()
    rows.iloc[:1800].to_parquet(inputs / "a.parquet", index=False, row_group_size=500)
    _with_bad_rows(rows.iloc[1800:], contract).to_parquet(inputs / "b.parquet", index=False)
    return Home(path, settings, contract, models, inputs, rows)


def _score(
    home: Home, name: str, *, workers: int = 1, version: str | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from pipelines.scoring import run_batch_scoring

    output = home.path / name
    run_batch_scoring(
        home.settings,
        home.contract,
        home.inputs,
        output,
        version=version,
        workers=workers,
        partition_rows=700,
    )
    manifest: dict[str, Any] = json.loads((output / "manifest.json").read_text())
    parts = sorted(output.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True), manifest


@pytest.fixture(scope="module")
def champion_run(home: Home) -> tuple[pd.DataFrame, dict[str, Any]]:
    return _score(home, "scored-champion", workers=2)


def _serving_scores(home: Home, version: str) -> pd.Series:
    """The scores the server computes for the good rows: its frame builder, its model call."""
    rows = home.rows[[home.contract.id_column, *home.contract.features]]
    records = [
        {str(k): None if pd.isna(v) else v for k, v in row.items()}
        for row in rows.astype(object).to_dict(orient="records")
    ]
    frame = feature_frame(records, home.contract)
    scores = positive_probabilities(home.models[version], frame)
    return pd.Series(scores, index=rows[home.contract.id_column].to_numpy())


def test_scores_are_the_servers_bit_for_bit(
    home: Home, champion_run: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    scored, _ = champion_run
    expected = _serving_scores(home, "1")
    ids = home.contract.id_column
    got = scored.set_index(ids)[home.contract.score_name]
    assert set(got.index) == set(expected.index), "every good row is scored"
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())
    assert (scored[MODEL_VERSION] == "1").all()
    threshold = float(version_tags(home.contract)["threshold"])
    assert (scored[DECISION] == (scored[home.contract.score_name] >= threshold)).all()


def test_every_good_row_is_written_once(
    home: Home, champion_run: tuple[pd.DataFrame, dict[str, Any]]
) -> None:
    scored, manifest = champion_run
    ids = scored[home.contract.id_column]
    assert ids.is_unique
    assert len(scored) == len(home.rows) == manifest["rows_out"]
    assert manifest["rows_in"] == len(home.rows) + len(BAD_ROWS)
    assert list(scored.columns) == [
        home.contract.id_column,
        home.contract.score_name,
        DECISION,
        MODEL_VERSION,
    ]


def test_bad_rows_are_in_the_manifest_with_reasons(
    champion_run: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    scored, manifest = champion_run
    rejected = {r["id"]: r for r in manifest["rejected"]}
    assert set(rejected) == {row_id for row_id, *_ in BAD_ROWS}
    for row_id, column, _, word in BAD_ROWS:
        reasons = " ".join(rejected[row_id]["reasons"])
        assert column in reasons, rejected[row_id]
        assert word in reasons, rejected[row_id]
        assert row_id not in set(scored.iloc[:, 0])
    assert manifest["model_version"] == "1"
    assert manifest["rows_rejected"] == len(BAD_ROWS)
    assert len(manifest["input_files"]) == 2


def test_command_scores_with_the_version_it_is_given(home: Home, prefect_api: str) -> None:
    output = home.path / "scored-v2"
    run = lifecycle(
        home.path,
        *("score", str(home.inputs), "--output", str(output), "--version", "2"),
        *("--partition-rows", "1000"),
        prefect_api=prefect_api,
    )
    assert run.code == 0, str(run)
    assert run.stdout.count("partition ") == 4, "one progress line per partition"
    assert "with version 2" in run.stdout
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["model_version"] == "2"
    scored = pd.concat([pd.read_parquet(p) for p in sorted(output.glob("part-*.parquet"))])
    expected = _serving_scores(home, "2")
    got = scored.set_index(home.contract.id_column)[home.contract.score_name]
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())
    assert not np.array_equal(expected.to_numpy(), _serving_scores(home, "1").to_numpy())


def test_unknown_version_is_refused(home: Home) -> None:
    from pipelines.scoring import BatchScoringError, run_batch_scoring

    with pytest.raises(BatchScoringError, match="has no version 9 \\(versions: 1, 2\\)"):
        run_batch_scoring(home.settings, home.contract, home.inputs, home.path / "v9", version="9")


def test_missing_input_is_one_line(home: Home, tmp_path: Path) -> None:
    run = lifecycle(home.path, "score", str(tmp_path / "nowhere.parquet"), "--output", "out")
    assert_user_error(run, "nowhere.parquet", "no such file")


def test_help_teaches_the_command(home: Home) -> None:
    run = lifecycle(home.path, "score", "--help")
    assert run.code == 0
    for word in ("--output", "--version", "--workers", "LIFECYCLE_DASK_ADDRESS", "manifest"):
        assert word in run.stdout, run.stdout


def test_csv_partitions_read_as_parquet_ones(home: Home, tmp_path: Path) -> None:
    from pipelines.scoring import input_files, model_input, plan_partitions, read_partition

    parquet = home.inputs / "a.parquet"
    csv = tmp_path / "a.csv"
    pd.read_parquet(parquet).to_csv(csv, index=False)
    assert input_files(tmp_path) == [csv]
    for source in (parquet, csv):
        parts = plan_partitions([source], home.contract, 700)
        assert [(p.start, p.stop) for p in parts] == [(0, 700), (700, 1400), (1400, 1800)]
    frames = {
        source.suffix: pd.concat(
            [
                model_input(read_partition(p, home.contract), home.contract)
                for p in plan_partitions([source], home.contract, 700)
            ],
            ignore_index=True,
        )
        for source in (parquet, csv)
    }
    pd.testing.assert_frame_equal(frames[".csv"], frames[".parquet"])


def test_each_worker_loads_the_model_once(
    champion_run: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    _, manifest = champion_run
    partitions = manifest["partitions"]
    loads = Counter(p["worker"] for p in partitions if p["seconds"]["load_model"] > 0.05)
    workers = {p["worker"] for p in partitions}
    assert set(loads) <= workers
    assert all(count == 1 for count in loads.values()), partitions
    assert len(loads) >= 1


def test_dask_address_setting_picks_that_scheduler(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.scoring import task_runner

    monkeypatch.setenv("LIFECYCLE_DASK_ADDRESS", "tcp://scheduler:8786")
    remote = load_settings(home=home.path)
    assert task_runner(remote, workers=4).address == "tcp://scheduler:8786"
    local = task_runner(home.settings, workers=3)
    assert local.address is None
    assert local.cluster_kwargs["n_workers"] == 3
    assert local.cluster_kwargs["threads_per_worker"] == 1
