"""Batch scoring: a Prefect flow that scores Parquet (or CSV) partitions on Dask workers.

The rows go through the same checks and the same model input as a request to the server:

- every row is checked against the request schema derived from the contract
  (:func:`serving.schemas.build_row_model`). A vectorised pre-check passes the rows that are
  plainly valid; every other row is validated by the schema itself, which decides and gives the
  reasons, so a rejected row carries the server's own messages and is never silently dropped;
- the model input has the contract's features in contract order with the training dtypes, as
  :func:`serving.scoring.feature_frame` builds it, and the scores come from
  :func:`serving.scoring.positive_probabilities`;
- the model is the registered skops Pipeline of the champion alias (or of one version), fetched
  and smoke-tested as the server does (:class:`serving.mlflow_source.MlflowModelSource`,
  :func:`serving.model_store.smoke_test`). Each Dask worker loads it once per version and keeps
  it for every partition it scores.

A partition is a range of rows of one input file (``partition_rows`` at most). Each partition
writes ``part-NNNNN.parquet`` with the id, the score under the contract's ``score_name``, the
decision at the version's threshold and the model version; the driver then writes
``manifest.json`` (rows in and out, the rejected rows with their reasons, version, threshold,
timings, input files). Workers read the input and write the output themselves, so with an
external scheduler (``dask_address``) both paths must be visible to the workers, and the workers
must reach the MLflow store and the Prefect API.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from features import vocabulary as vocab
from features.contract import DatasetContract
from pipelines.settings import Settings
from serving.schemas import ID_MAX_LENGTH
from serving.scoring import checked_scores, decisions, positive_probabilities

if TYPE_CHECKING:
    from serving.model_store import LoadedModel

Progress = Callable[[str], None]

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
DEFAULT_PARTITION_ROWS = 250_000
MANIFEST_FILE = "manifest.json"
#: Where the flow reports finished partitions. Not a flow parameter: Prefect ships the flow run's
#: parameters to every Dask worker with each task, and a printer holding a console cannot go.
_progress: ContextVar[Progress | None] = ContextVar("batch_scoring_progress", default=None)
#: Text the server refuses anywhere in a request (see :mod:`serving.schemas`).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class BatchScoringError(ValueError):
    """The input, the output folder or the model cannot be used; the message says which."""


@dataclass(frozen=True)
class Partition:
    """Rows ``start`` (inclusive) to ``stop`` (exclusive) of one input file."""

    index: int
    file: str
    start: int
    stop: int

    @property
    def rows(self) -> int:
        """Number of rows in the partition."""
        return self.stop - self.start


@dataclass(frozen=True)
class ModelRef:
    """Which registered version scores, where it lives, and its decision threshold."""

    tracking_uri: str
    model_name: str
    version: str
    threshold: float


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not scored: its id (as text, None if unusable), where it was, and why."""

    id: str | None
    file: str
    row: int
    reasons: list[str]


@dataclass(frozen=True)
class PartitionResult:
    """What one partition task did, and which worker process (host:pid) did it.

    ``seconds`` holds the time to read, validate, load the model (0 once the worker has it),
    predict (frame and ``predict_proba``) and write.
    """

    index: int
    file: str
    start: int
    rows_in: int
    rows_out: int
    output: str
    rejected: list[RejectedRow]
    seconds: dict[str, float]
    worker: str = ""


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one scoring run, as written to the manifest."""

    output: Path
    manifest: Path
    model: ModelRef
    rows_in: int
    rows_out: int
    rejected: list[RejectedRow]
    partitions: list[PartitionResult]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        """Rows in per second of the whole flow (planning excluded)."""
        elapsed = self.seconds.get("flow", 0.0)
        return self.rows_in / elapsed if elapsed > 0 else 0.0


# ------------------------------------------------------------------------------ input


def input_files(source: Path) -> list[Path]:
    """The files to score: ``source`` itself, or the Parquet (else CSV) files in the folder.

    Raises:
        BatchScoringError: Nothing there, an unsupported suffix, or a folder without data files.
    """
    if source.is_file():
        if source.suffix.lower() not in PARQUET_SUFFIXES + CSV_SUFFIXES:
            raise BatchScoringError(f"{source}: not a Parquet (.parquet) or CSV (.csv) file")
        return [source]
    if not source.exists():
        raise BatchScoringError(f"{source}: no such file or folder")
    for suffixes in (PARQUET_SUFFIXES, CSV_SUFFIXES):
        found = sorted(p for p in source.rglob("*") if p.suffix.lower() in suffixes)
        if found:
            return found
    raise BatchScoringError(f"{source}: the folder holds no .parquet or .csv file")


def _columns_and_rows(path: Path, contract: DatasetContract) -> tuple[list[str], int]:
    if path.suffix.lower() in CSV_SUFFIXES:
        head = pd.read_csv(path, nrows=0)
        ids = pd.read_csv(path, usecols=[0])
        return [str(c) for c in head.columns], len(ids)
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path)
    return list(meta.schema_arrow.names), int(meta.metadata.num_rows)


def plan_partitions(
    files: Sequence[Path], contract: DatasetContract, partition_rows: int
) -> list[Partition]:
    """Cut every file into row ranges of at most ``partition_rows`` rows.

    Raises:
        BatchScoringError: A file lacks the id column or a feature, or cannot be read.
    """
    needed = [contract.id_column, *contract.features]
    partitions: list[Partition] = []
    for path in files:
        try:
            columns, rows = _columns_and_rows(path, contract)
        except Exception as exc:  # a corrupt or foreign file: one line naming it
            raise BatchScoringError(
                f"{path}: cannot read it ({type(exc).__name__}: {exc})"
            ) from None
        missing = [c for c in needed if c not in columns]
        if missing:
            raise BatchScoringError(
                f"{path}: lacks column(s) {', '.join(missing)} of contract '{contract.name}'"
            )
        for start in range(0, rows, partition_rows):
            stop = min(rows, start + partition_rows)
            partitions.append(Partition(len(partitions), str(path), start, stop))
    return partitions


def read_partition(part: Partition, contract: DatasetContract) -> pd.DataFrame:
    """The id and feature columns of the partition's rows (only the row groups it spans)."""
    columns = [contract.id_column, *contract.features]
    path = Path(part.file)
    if path.suffix.lower() in CSV_SUFFIXES:
        text = [n for n in columns if contract.columns[n].dtype in ("string", "category")]
        return pd.read_csv(
            path,
            usecols=columns,
            dtype=dict.fromkeys(text, str),
            float_precision="round_trip",  # the exact float the text spells, as JSON parsing
            skiprows=range(1, part.start + 1),
            nrows=part.rows,
        )[columns]
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    groups, first, offset = [], None, 0
    for group in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        if offset < part.stop and offset + size > part.start:
            groups.append(group)
            first = offset if first is None else first
        offset += size
    table = parquet.read_row_groups(groups, columns=columns)
    table = table.slice(part.start - (first or 0), part.rows)
    frame: pd.DataFrame = table.to_pandas()
    return frame


# ------------------------------------------------------------------------- validation


def _plainly_valid(column: pd.Series, name: str, contract: DatasetContract) -> np.ndarray:
    """True where the value surely passes the request schema (False: let the schema decide)."""
    spec = contract.columns[name]
    present = column.notna().to_numpy()
    absent_ok = spec.nullable and name != contract.id_column
    if spec.categories:
        if spec.dtype == "int" and not pd.api.types.is_integer_dtype(column):
            return np.zeros(len(column), dtype=bool)  # 1.0 or True is no int code: ask the schema
        # Text categories: only a str equals a str, so membership proves the type too.
        ok = column.isin(list(spec.categories)).to_numpy()
    elif spec.dtype in ("float", "int"):
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            return np.zeros(len(column), dtype=bool)
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(numbers)
        if spec.dtype == "int":
            ok &= (numbers == np.round(numbers)) & (np.abs(numbers) < 2.0**53)
        if spec.min is not None:
            ok &= numbers >= spec.min
        if spec.max is not None:
            ok &= numbers <= spec.max
    elif spec.dtype == "string":
        if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
            return np.zeros(len(column), dtype=bool)  # not all text: the schema decides
        text = column.astype(object).where(present, "")
        ok = ~text.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool)
        if name == contract.id_column:
            lengths = text.str.len().to_numpy()
            ok &= (lengths > 0) & (lengths <= ID_MAX_LENGTH)
    else:  # datetime features and anything else: the schema decides every row
        return np.zeros(len(column), dtype=bool)
    return np.where(present, ok, absent_ok)


def _plain(value: object) -> object:
    """A cell as the JSON value a request would carry (NaN and NA become None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _reasons(error: Exception) -> list[str]:
    from serving.schemas import dotted

    listed = getattr(error, "errors", None)
    if not callable(listed):
        return [str(error)]
    return [f"{dotted(e['loc'])}: {e['msg']}" for e in listed()]


def _row_id(value: object) -> str | None:
    plain = _plain(value)
    return None if plain is None else str(plain)


def check_rows(
    frame: pd.DataFrame, contract: DatasetContract, row_model: Any
) -> dict[int, list[str]]:
    """Reasons per rejected row (positional index in ``frame``), from the request schema.

    Rows the vectorised pre-check cannot vouch for are validated one by one with ``row_model``
    (the server's ``Row``); only those it refuses are rejected.
    """
    names = [contract.id_column, *contract.features]
    plain = np.ones(len(frame), dtype=bool)
    for name in names:
        plain &= _plainly_valid(frame[name], name, contract)
    rejected: dict[int, list[str]] = {}
    for position in np.flatnonzero(~plain):
        row = {name: _plain(frame[name].iat[int(position)]) for name in names}
        try:
            row_model.model_validate(row)
        except ValueError as exc:
            rejected[int(position)] = _reasons(exc)
    return rejected


def model_input(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """The model's frame of (valid) rows, column by column, as ``feature_frame`` builds it.

    Floats float64 with NaN for missing; ints int64 (float64 when nullable); categories
    ``object`` arrays of the values with None for missing.
    """
    data: dict[str, Any] = {}
    for name in contract.features:
        spec = contract.columns[name]
        column = frame[name]
        if spec.dtype == "float" or (spec.dtype == "int" and spec.nullable):
            data[name] = column.to_numpy(dtype="float64", na_value=np.nan)
        elif spec.dtype == "int":
            data[name] = column.to_numpy(dtype="int64")
        else:
            values = column.to_numpy(dtype=object, copy=True)  # the frame stays as it was
            values[column.isna().to_numpy()] = None
            data[name] = values
    return pd.DataFrame(data, columns=list(contract.features))


# ------------------------------------------------------------------------------ model


_models: dict[tuple[str, str, str], LoadedModel] = {}
_models_lock = threading.Lock()


def load_version(tracking_uri: str, contract: DatasetContract, version: str | None) -> LoadedModel:
    """Fetch and smoke-test a version as the server does (its fast path included).

    ``version`` None means the champion alias.

    Raises:
        BatchScoringError: No champion, no such version, or a version unfit to serve.
    """
    from serving.mlflow_source import MlflowModelSource
    from serving.model_store import ModelLoadError, SmokeTestError, smoke_test, utc_now

    name = contract.model_name
    source = MlflowModelSource(tracking_uri, name, vocab.CHAMPION)
    if version is None:
        version = source.alias_version()
        if version is None:
            raise BatchScoringError(
                f"model '{name}' has no {vocab.CHAMPION}: train and promote one first, or "
                "pass --version"
            )
    else:
        _check_version_exists(tracking_uri, name, version)
    try:
        loaded = smoke_test(source.fetch(version), name, contract, utc_now())
    except (ModelLoadError, SmokeTestError) as exc:
        raise BatchScoringError(f"model '{name}' version {version}: {exc}") from None
    return loaded


def _check_version_exists(tracking_uri: str, name: str, version: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        known = sorted(
            (str(v.version) for v in client.search_model_versions(f"name = '{name}'")),
            key=lambda v: int(v) if v.isdigit() else 0,
        )
    except Exception as exc:  # unreachable store, ...: one line, not a traceback
        raise BatchScoringError(f"cannot read the registry at {tracking_uri}: {exc}") from None
    if version not in known:
        listed = ", ".join(known) if known else "none registered"
        raise BatchScoringError(f"model '{name}' has no version {version} (versions: {listed})")


def worker_model(ref: ModelRef, contract: DatasetContract) -> LoadedModel:
    """The version, loaded once per process (Dask worker) and kept for later calls."""
    key = (ref.tracking_uri, ref.model_name, ref.version)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            loaded = load_version(ref.tracking_uri, contract, ref.version)
            _models[key] = loaded
    return loaded


# --------------------------------------------------------------------------- partition


def model_scores(
    frame: pd.DataFrame, contract: DatasetContract, loaded: LoadedModel
) -> np.ndarray[Any, Any]:
    """Positive-class scores of valid rows as read, on one core (one per Dask worker).

    The version's fast path encodes the frame's columns directly (the same bits, see
    :mod:`serving.fast_scorer`); without one, :func:`model_input` builds the frame the server
    builds and ``predict_proba`` runs with one OpenMP thread.
    """
    from threadpoolctl import threadpool_limits

    fast = loaded.fast
    if fast is not None:
        return checked_scores(fast.positive_probabilities(fast.matrix_from_frame(frame)))
    with threadpool_limits(limits=1, user_api="openmp"):
        return positive_probabilities(loaded.model, model_input(frame, contract))


def score_frame(
    frame: pd.DataFrame, contract: DatasetContract, loaded: LoadedModel, ref: ModelRef
) -> pd.DataFrame:
    """The output rows of valid ``frame`` rows: id, score, decision and model version."""
    scores = model_scores(frame, contract, loaded)
    return pd.DataFrame(
        {
            contract.id_column: frame[contract.id_column].to_numpy(),
            contract.score_name: scores,
            vocab.DECISION: decisions(scores, ref.threshold),
            vocab.MODEL_VERSION: np.full(len(frame), ref.version, dtype=object),
        }
    )


def part_path(output: Path, part: Partition) -> Path:
    """Where a partition's scores go."""
    return output / f"part-{part.index:05d}.parquet"


@task(name="score-partition", cache_policy=NO_CACHE)
def score_partition(
    part: Partition, contract: DatasetContract, ref: ModelRef, output: str
) -> PartitionResult:
    """Read, check, score and write one partition (runs on a Dask worker)."""
    from serving.schemas import build_row_model

    clock = time.perf_counter()
    frame = read_partition(part, contract).reset_index(drop=True)
    read_at = time.perf_counter()
    rejected = check_rows(frame, contract, build_row_model(contract))
    good = frame.drop(index=list(rejected)) if rejected else frame
    checked_at = time.perf_counter()
    loaded = worker_model(ref, contract)
    loaded_at = time.perf_counter()
    scored = score_frame(good, contract, loaded, ref)
    scored_at = time.perf_counter()
    target = part_path(Path(output), part)
    scored.to_parquet(target, index=False)
    done = time.perf_counter()
    return PartitionResult(
        index=part.index,
        file=part.file,
        start=part.start,
        rows_in=len(frame),
        rows_out=len(scored),
        output=str(target),
        rejected=[
            RejectedRow(
                _row_id(frame[contract.id_column].iat[p]), part.file, part.start + p, reasons
            )
            for p, reasons in sorted(rejected.items())
        ],
        seconds={
            "read": read_at - clock,
            "validate": checked_at - read_at,
            "load_model": loaded_at - checked_at,
            "predict": scored_at - loaded_at,
            "write": done - scored_at,
        },
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


# -------------------------------------------------------------------------------- flow


def task_runner(settings: Settings, workers: int) -> Any:
    """Dask: the scheduler at ``settings.dask_address``, else a local cluster of ``workers``."""
    from prefect_dask.task_runners import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )


def _say(line: str) -> None:
    """Pass a progress line to the printer of the current run, if any.

    A module function, so that Prefect, which ships the flow function to the Dask workers inside
    each task's context, pickles a reference to it, never the (unpicklable) context variable.
    """
    sink = _progress.get()
    if sink is not None:
        sink(line)


@flow(name="batch-score")
def batch_score_flow(
    partitions: list[Partition],
    contract: DatasetContract,
    ref: ModelRef,
    output: str,
) -> list[PartitionResult]:
    """Score every partition on the task runner; report each one as it finishes."""
    from prefect.futures import as_completed

    futures = [score_partition.submit(p, contract, ref, output) for p in partitions]
    results: list[PartitionResult] = []
    for future in as_completed(futures):
        done = future.result()
        results.append(done)
        _say(
            f"partition {done.index + 1}/{len(partitions)}: {Path(done.file).name} rows "
            f"{done.start}-{done.start + done.rows_in - 1}: {done.rows_out} scored, "
            f"{len(done.rejected)} rejected"
        )
    return sorted(results, key=lambda r: r.index)


def check_output(output: Path) -> None:
    """Refuse an output that is a file or a folder already holding files.

    Raises:
        BatchScoringError: ``output`` is a file or a non-empty folder.
    """
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BatchScoringError(
            f"{output}: already exists and is not an empty folder; choose a new --output"
        )


def manifest(result: BatchResult, files: Sequence[Path]) -> dict[str, Any]:
    """The manifest's JSON content."""
    return {
        "model_name": result.model.model_name,
        "model_version": result.model.version,
        "threshold": result.model.threshold,
        "rows_in": result.rows_in,
        "rows_out": result.rows_out,
        "rows_rejected": len(result.rejected),
        "rejected": [asdict(r) for r in result.rejected],
        "input_files": [str(f) for f in files],
        "outputs": [p.output for p in result.partitions],
        "partitions": [
            {k: v for k, v in asdict(p).items() if k != "rejected"} for p in result.partitions
        ],
        "seconds": result.seconds,
        "rows_per_second": round(result.rows_per_second, 1),
    }


def run_batch_scoring(
    settings: Settings,
    contract: DatasetContract,
    source: Path,
    output: Path,
    *,
    version: str | None = None,
    workers: int = 1,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    progress: Progress | None = None,
) -> BatchResult:
    """Plan the partitions, resolve the model, run the flow and write the manifest.

    Raises:
        BatchScoringError: Bad input, a used output folder, no champion or an unknown version.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    files = input_files(source)
    check_output(output)
    partitions = plan_partitions(files, contract, partition_rows)
    uri = settings.resolved_tracking_uri
    loaded = load_version(uri, contract, version)
    chosen, threshold = loaded.version, loaded.threshold
    ref = ModelRef(uri, contract.model_name, chosen, threshold)
    output.mkdir(parents=True, exist_ok=True)
    rows = sum(p.rows for p in partitions)
    where = settings.dask_address or f"a local cluster of {workers} worker(s)"
    say(
        f"scoring {rows} row(s) of {len(files)} file(s) in {len(partitions)} partition(s) with "
        f"'{ref.model_name}' version {ref.version} (threshold {ref.threshold:g}) on {where}"
    )
    planned = time.perf_counter()
    runner = task_runner(settings, workers)
    token = _progress.set(say)
    try:
        results = batch_score_flow.with_options(task_runner=runner)(
            partitions, contract, ref, str(output)
        )
    finally:
        _progress.reset(token)
    finished = time.perf_counter()
    result = BatchResult(
        output=output,
        manifest=output / MANIFEST_FILE,
        model=ref,
        rows_in=sum(r.rows_in for r in results),
        rows_out=sum(r.rows_out for r in results),
        rejected=[row for r in results for row in r.rejected],
        partitions=results,
        seconds=_timings(results, planned - started, finished - planned),
    )
    result.manifest.write_text(json.dumps(manifest(result, files), indent=2) + "\n")
    return result


def _timings(results: Sequence[PartitionResult], plan: float, run: float) -> dict[str, float]:
    totals: dict[str, float] = {"plan": round(plan, 3), "flow": round(run, 3)}
    for r in results:
        for stage, seconds in r.seconds.items():
            key = f"{stage}_total"
            totals[key] = round(totals.get(key, 0.0) + seconds, 3)
    return totals


def rejected_summary(rejected: Sequence[RejectedRow], limit: int = 5) -> list[str]:
    """The first ``limit`` rejected rows as lines (id: reasons)."""
    return [
        f"{r.id or f'{Path(r.file).name} row {r.row}'}: {'; '.join(r.reasons)}"
        for r in rejected[:limit]
    ]
