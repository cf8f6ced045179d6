"""Batch scoring throughput: the `lifecycle score` flow on Dask vs raw in-process predict_proba.

``python -m benchmarks.scoring [--rows 500000] [--repeats 3]`` builds, in a temporary home, a
champion like the one training registers (the project's HistGradientBoosting Pipeline fitted on
generated card-fraud rows, logged with skops and the version tags serving checks) and one
generated frame of ``--rows`` rows written as one Parquet file (two partitions by default). It
then measures, ``--repeats`` times each, medians reported:

- raw: ``predict_proba`` of the loaded Pipeline on the model frame of all rows, in process, with
  one OpenMP thread (one Dask worker has one core), the frame already built;
- flow, 1 and 2 workers: :func:`pipelines.scoring.run_batch_scoring` end to end (plan, model
  resolution, read, validation, frame, predict, write, manifest) on a warm local cluster
  (its workers started and the model loaded by one unmeasured run first), reached through
  ``dask_address`` as an existing scheduler would be. Each flow run follows one raw call, so a
  burst of load from other work on the machine hits both alike;
- cold, 1 worker: one run of the default path, which starts its own local cluster (worker
  processes importing the stack and loading the model are part of it).

The load average is printed before and after: on a shared machine it explains most variation.
Goal (issue 9): warm flow with one worker >= 80 % of raw rows/s, and near-linear in workers.
Figures go to stdout and to ``benchmarks/results/scoring-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import DatasetContract, load_contract
from features.model_io import SKOPS_TRUSTED_TYPES
from features.vocabulary import CHAMPION, CONTRACT_HASH_TAG, THRESHOLD_TAG
from pipelines.settings import Settings, load_settings

USE_CASE = "card_fraud"
SCENARIO = "none"
TRAIN_ROWS = 20_000
THRESHOLD = 0.3
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def build_home(home: Path, rows: int, seed: int) -> tuple[Settings, DatasetContract, Path]:
    """A home with a registered champion, and the input Parquet file of ``rows`` rows."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from data.usecases import use_case
    from training.fit import fit_pipeline

    case = use_case(USE_CASE)
    settings = load_settings(home=home, contract=case.contract_file)
    contract = load_contract(settings.contract)
    train = case.generate_day(0, SCENARIO, seed=seed + 1, days=2, rows=TRAIN_ROWS)
    train[contract.label_column] = contract.binary_labels(train[contract.label_column])
    model = fit_pipeline(train, contract, contract.model, threads=1)
    settings.paths.mlflow.mkdir(parents=True, exist_ok=True)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "bench-scoring", artifact_location=settings.paths.mlflow_artifacts.as_uri()
    )
    example = train[list(contract.features)].head(5)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
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
    client.set_model_version_tag(contract.model_name, version, THRESHOLD_TAG, str(THRESHOLD))
    client.set_model_version_tag(
        contract.model_name, version, CONTRACT_HASH_TAG, contract.content_hash()
    )
    client.set_registered_model_alias(contract.model_name, CHAMPION, version)
    frame = case.generate_day(1, SCENARIO, seed=seed, days=2, rows=rows)
    source = home / "input.parquet"
    frame.to_parquet(source, index=False)
    return settings, contract, source


def timed(call: Callable[[], object]) -> float:
    """Wall time of one call of ``call()``."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def raw_call(settings: Settings, contract: DatasetContract, source: Path) -> Callable[[], object]:
    """In-process ``predict_proba`` of the champion on the model frame of ``source``, 1 thread."""
    from threadpoolctl import threadpool_limits

    from pipelines.scoring import load_version, model_input

    model = load_version(settings.resolved_tracking_uri, contract, None).model
    frame = model_input(pd.read_parquet(source), contract)

    def call() -> object:
        with threadpool_limits(limits=1, user_api="openmp"):
            return model.predict_proba(frame)

    return call


def flow_and_raw_seconds(
    settings: Settings,
    contract: DatasetContract,
    source: Path,
    work: Path,
    workers: int,
    repeats: int,
    partition_rows: int,
    raw: Callable[[], object],
) -> tuple[list[float], list[float]]:
    """Times of the whole flow on a warm local cluster of ``workers``, each after a raw call.

    Raw and flow alternate, so that load from other work on the machine hits both alike.
    """
    from distributed import LocalCluster

    from pipelines.scoring import run_batch_scoring

    runs = iter(range(repeats + 1))
    stages: dict[str, float] = {}
    flows: list[float] = []
    raws: list[float] = []
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:  # type: ignore[no-untyped-call]
        on_cluster = settings.model_copy(update={"dask_address": cluster.scheduler_address})

        def run() -> None:
            output = work / f"out-{workers}w-{next(runs)}"
            done = run_batch_scoring(
                on_cluster, contract, source, output, partition_rows=partition_rows
            )
            stages.update(done.seconds)

        run()  # warm-up: worker imports and the model load, once per worker
        for _ in range(repeats):
            raws.append(timed(raw))
            flows.append(timed(run))
    shown = ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
    print(f"    last run, seconds: {shown}")
    return flows, raws


def cold_seconds(
    settings: Settings, contract: DatasetContract, source: Path, work: Path, partition_rows: int
) -> float:
    """One run of the default path: a fresh local cluster of one worker, started and stopped."""
    from pipelines.scoring import run_batch_scoring

    started = time.perf_counter()
    run_batch_scoring(
        settings, contract, source, work / "out-cold", workers=1, partition_rows=partition_rows
    )
    return time.perf_counter() - started


def _load() -> str:
    """The 1, 5 and 15 minute load averages (the machine's other work skews every figure)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(rows: int, figures: dict[str, float]) -> dict[str, Any]:
    """Rows/s per variant and the ratios the goal is stated in."""
    rate = {name: rows / seconds for name, seconds in figures.items()}
    return {
        "rows": rows,
        "seconds": {k: round(v, 3) for k, v in figures.items()},
        "rows_per_second": {k: round(v) for k, v in rate.items()},
        "flow_1_worker_vs_raw": round(rate["flow_1_worker"] / rate["raw"], 3),
        "flow_2_workers_vs_1": round(rate["flow_2_workers"] / rate["flow_1_worker"], 3),
        "cold_1_worker_vs_raw": round(rate["cold_1_worker"] / rate["raw"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the home, measure every variant, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=500_000, help="rows in the scored frame")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--partition-rows", type=int, default=None, help="rows per partition (default: rows/2)"
    )
    args = parser.parse_args(argv)
    partition_rows = args.partition_rows or max(1, (args.rows + 1) // 2)
    from pipelines.prefect_server import local_api
    from pipelines.runtime import prefect_environment

    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        work = Path(tmp)
        settings, contract, source = build_home(work / "home", args.rows, args.seed)
        # Prefect reads its environment once: set it before anything imports Prefect.
        os.environ.update(prefect_environment(settings, os.environ))
        settings.paths.prefect.mkdir(parents=True, exist_ok=True)
        print(f"frame: {args.rows} rows in {source.name}; partitions of {partition_rows} rows")
        print(f"load average before: {_load()}")
        with local_api(settings.paths.prefect):
            raw = raw_call(settings, contract, source)
            raw_times: list[float] = []
            figures: dict[str, float] = {}
            for workers, name in ((1, "flow_1_worker"), (2, "flow_2_workers")):
                flows, raws = flow_and_raw_seconds(
                    settings, contract, source, work, workers, args.repeats, partition_rows, raw
                )
                raw_times += raws
                figures[name] = statistics.median(flows)
                print(
                    f"  flow, {workers} worker(s), warm: {figures[name]:.2f} s "
                    f"(raw beside it: {statistics.median(raws):.2f} s)"
                )
            figures["raw"] = statistics.median(raw_times)
            print(f"  raw predict_proba (1 thread), all samples: {figures['raw']:.2f} s")
            figures["cold_1_worker"] = cold_seconds(
                settings, contract, source, work, partition_rows
            )
            print(f"  flow, 1 worker, cold cluster: {figures['cold_1_worker']:.2f} s")
    result = report(args.rows, figures)
    result["load_average_after"] = _load()
    print(f"load average after: {result['load_average_after']}")
    for name, rate in result["rows_per_second"].items():
        print(f"{name:>16}: {rate:>10,} rows/s")
    print(
        f"flow 1 worker / raw: {result['flow_1_worker_vs_raw']:.2f} (goal >= 0.80); "
        f"2 workers / 1: {result['flow_2_workers_vs_1']:.2f} (linear: 2.00); "
        f"cold 1 worker / raw: {result['cold_1_worker_vs_raw']:.2f}"
    )
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"scoring-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
