"""Serving benchmark, and ``make bench``: every figure issue 9 asks for, in one run.

The servers serve the same registered version, ``models:/card-fraud@champion``, from the same
SQLite MLflow store, each as a subprocess with ONE worker on 127.0.0.1:

- ours: ``lifecycle serve`` (uvicorn + FastAPI), ``POST /v1/predict`` with one transaction object;
- ours with two workers (``ours-2w``, ``LIFECYCLE_SERVING__WORKERS=2``; ``--no-two-workers``
  leaves it out);
- baseline: ``mlflow models serve -m models:/card-fraud@champion --env-manager local -w 1``,
  ``POST /invocations`` with ``{"dataframe_split": ...}`` holding the same row;
- second peer: BentoML (:mod:`benchmarks.bentoml_service`) serving the champion's own skops
  file with adaptive batching, ``POST /predict`` with ``{"rows": [the row]}``, from a pinned
  environment of its own that :mod:`benchmarks.peers` makes with uv and caches
  (``--no-bentoml`` leaves it out; when the environment cannot be made or the server does not
  start, the report says why and the rest runs).

All get the same transaction from the same closed-loop load generator
(:mod:`benchmarks.loadgen`) at the same concurrency. Before timing, the transaction is scored by
every server and in process: the probabilities must agree to 1e-9, which proves all serve the
same model. (A version logged without ``pyfunc_predict_fn="predict_proba"`` is served by MLflow
with ``predict``, which answers a class label: the label is then checked against the in-process
``predict`` instead, and the report says so.) Rounds alternate which server goes first so that
drift in the machine's load hits all; the figures printed are per-round medians. The in-process
``predict_proba`` time of one row is printed as the floor no server can beat, and the time of
one model call for 1 to 1024 rows as the curve batching rides on.

Each server runs as shipped: ours logs every prediction (background writer), keeps Prometheus
metrics, polls the alias every 2 s and runs ``predict_proba`` with one OpenMP thread per call.
The peers' model calls get one thread too (``OMP_NUM_THREADS=1`` and the BLAS equivalents in
their environment; ``--peer-threads default`` leaves the library default, one thread per core):
one worker each means one core each, and neither MLflow's pyfunc server nor a BentoML service
sets a thread count itself. With the default, on this busy 2-core machine, one ``predict_proba``
of 8 rows took 1.27 s instead of 3.6 ms (OpenMP threads spinning at barriers while the cores are
taken), which measures the OpenMP runtime rather than the server. The load generator shares the
machine's cores with the servers, the same way for all; its own CPU share is reported.

Once the servers have stopped, batch scoring (:mod:`benchmarks.scoring`, ``--scoring-rows``) and
the monitoring window (:mod:`benchmarks.monitoring`, ``--monitoring-rows``) run through their own
entry points (:mod:`benchmarks.suite`). Then every goal of issue 9 is judged
(:mod:`benchmarks.goals`), the tables are printed as Markdown for the README, and everything
goes to ``benchmarks/results/<date>.json`` (``--results-dir``).

Setup is idempotent: the home folder (a temporary one unless ``--home``) gets a small stationary
scenario, validated, trained and promoted with the ``lifecycle`` command unless a champion
exists already. Ours writes every benchmark request to the home's prediction log: point
``--home`` at a scratch folder, never at a real run.

Run: ``python -m benchmarks.serving [--concurrency 1 8 64] [--seconds 5] [--rounds 3]`` (as a
module: run as a script, this folder would shadow the ``serving`` package), or ``make bench``;
``--seconds 2 --rounds 1 --scoring-rows 20000 --monitoring-rows 20000`` checks the harness in a
few minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from threadpoolctl import threadpool_limits

from benchmarks import goals, peers, suite
from benchmarks.goals import BENTOML, MLFLOW, OURS, OURS_TWO_WORKERS
from benchmarks.loadgen import LoadSummary, median_summary, run, run_wrk, summarize
from features.contract import DatasetContract, load_contract
from features.model_io import SKOPS_TRUSTED_TYPES
from pipelines.settings import Settings

if TYPE_CHECKING:
    from serving.fast_scorer import FastScorer

ALIAS = "champion"
SAME_MODEL_TOLERANCE = 1e-9
SETUP_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("generate", "--scenario", "none", "--days", "21", "--rows-per-day", "800"),
    ("validate",),
)
# One uvicorn worker, as ours runs; the local environment, i.e. the same installed libraries.
MLFLOW_SERVE_FLAGS = ("--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}", "-w", "1")
READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 15.0
FLOOR_CALLS = 500
FLOOR_WARMUP_CALLS = 50
FLOOR_BLOCKS = 10
LOG_TAIL_LINES = 30
STAGE_CALLS = 300
CURVE_ROWS = (1, 8, 64, 256, 1024)
CURVE_CALLS = 40
BEFORE = "before"
#: Servers the run goes on without when they cannot start or disagree with the model.
OPTIONAL_SERVERS = frozenset({BENTOML})
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PIPELINE_PATH = "Pipeline: frame + predict_proba"
FAST_PATH = "fast path: rows to probability"
SCORING_ROWS = 500_000
SCORING_REPEATS = 3
MONITORING_ROWS = 1_000_000
#: How ``--before`` starts the server of another source tree (``pipelines.cli`` has no __main__).
CLI_MAIN = "from pipelines.cli import main; main()"


class BenchmarkError(RuntimeError):
    """The benchmark cannot go on (setup failed, a server did not start, the models differ)."""


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server and talk to it.

    Attributes:
        name: Label in the report.
        command: Argument vector; ``{port}`` in an argument is replaced by the port.
        env: The whole environment of the server process.
        ready_path: GET path answering 200 once the model is loaded.
        predict_path: POST path the load goes to.
        body: The request body (pre-encoded JSON) of the benchmark transaction.
        cwd: Working folder of the process (default: the benchmark's).
    """

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    ready_path: str
    predict_path: str
    body: bytes
    cwd: Path | None = None


@dataclass(frozen=True)
class RunningServer:
    """A started server: its process (leader of its own process group) and where it listens."""

    spec: ServerSpec
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def predict_url(self) -> str:
        """Full URL of the scoring endpoint."""
        return self.base_url + self.spec.predict_path


@dataclass(frozen=True)
class BatchStats:
    """Micro-batching under one load: mean rows per model call, mean queue wait per request."""

    rows_per_call: float
    queue_wait_ms: float


@dataclass(frozen=True)
class Floor:
    """Median in-process seconds of one single-row call, per way of calling the model."""

    proba_one_thread: float
    proba_default_threads: float
    predict_default_threads: float


# ----------------------------------------------------------------------------- pure helpers


def child_environment(base: Mapping[str, str], home: Path, bin_dir: Path) -> dict[str, str]:
    """The environment of every subprocess: no inherited ``LIFECYCLE_*`` except the home.

    Dropping the caller's ``LIFECYCLE_*`` keeps the run self-contained (no remote tracking URI,
    no API key). The venv's ``bin`` goes first on ``PATH``: ``mlflow models serve`` starts
    ``uvicorn`` by name.
    """
    env = {k: v for k, v in base.items() if not k.startswith("LIFECYCLE_")}
    env["LIFECYCLE_HOME"] = str(home)
    env["PATH"] = os.pathsep.join([str(bin_dir), base.get("PATH", "")])
    return env


def benchmark_row(frame: pd.DataFrame, contract: DatasetContract) -> dict[str, Any]:
    """The first row with every feature present, as JSON-ready id + features.

    A row without missing values is accepted by both APIs as is (MLflow's signature marks every
    column required).

    Raises:
        BenchmarkError: No row has every feature.
    """
    columns = [contract.id_column, *contract.features]
    complete = frame.dropna(subset=list(contract.features))
    if complete.empty:
        raise BenchmarkError("no row of the batch has every feature: generate another scenario")
    row = complete.iloc[0]
    return {c: row[c].item() if hasattr(row[c], "item") else row[c] for c in columns}


def ours_body(row: Mapping[str, Any]) -> bytes:
    """``POST /v1/predict`` body: the transaction object itself."""
    return json.dumps(dict(row)).encode()


def mlflow_body(row: Mapping[str, Any], contract: DatasetContract) -> bytes:
    """``POST /invocations`` body: the row's features in ``dataframe_split`` orientation."""
    features = list(contract.features)
    split = {"columns": features, "data": [[row[c] for c in features]]}
    return json.dumps({"dataframe_split": split}).encode()


def mlflow_output(payload: Mapping[str, Any]) -> tuple[str, float]:
    """Read MLflow's ``{"predictions": [...]}`` for one row.

    Returns:
        ``("probability", p)`` when the model is served with ``predict_proba`` (a row of class
        probabilities, the positive class last), or ``("label", y)`` when it is served with
        ``predict`` (one class label per row).

    Raises:
        BenchmarkError: The answer is not one prediction.
    """
    predictions = payload.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise BenchmarkError(f"mlflow answered {payload!r}, not one prediction")
    first = predictions[0]
    if isinstance(first, list) and len(first) == 2:
        return "probability", float(first[1])
    if isinstance(first, int | float):
        return "label", float(first)
    raise BenchmarkError(f"mlflow answered {payload!r}: neither a label nor 2 probabilities")


def ratio(ours: float, theirs: float) -> float:
    """``ours / theirs``; NaN when the baseline figure is 0 or NaN."""
    return ours / theirs if theirs and not math.isnan(theirs) else math.nan


def report_table(
    results: Mapping[int, Mapping[str, LoadSummary]],
    batching: Mapping[int, Mapping[str, BatchStats]],
    reference: str,
) -> list[str]:
    """Per concurrency, one line per server: medians, errors, and the ratio to ``reference``.

    ``reference`` is the server the others are compared with (``before`` when it ran, else
    ``mlflow``); its own ratio column is blank.
    """
    header = (
        f"{'conns':>5} {'server':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'x req/s':>9}{'x p99':>7}{'rows/call':>10}{'queue ms':>9}{'client cpu':>11}"
    )
    lines = [header]
    for concurrency, by_server in results.items():
        base = by_server.get(reference)
        for name, summary in by_server.items():
            rps_ratio = p99_ratio = ""
            if base is not None and name != reference:
                rps_ratio = f"{ratio(summary.requests_per_second, base.requests_per_second):.2f}"
                p99_ratio = f"{ratio(summary.p99_ms, base.p99_ms):.2f}"
            stats = batching.get(concurrency, {}).get(name)
            rows = f"{stats.rows_per_call:.1f}" if stats else "-"
            wait = f"{stats.queue_wait_ms:.2f}" if stats else "-"
            lines.append(
                f"{concurrency:>5} {name:<10}{summary.requests_per_second:>9.1f}"
                f"{summary.p50_ms:>9.2f}{summary.p99_ms:>9.2f}{summary.errors:>8}"
                f"{rps_ratio:>9}{p99_ratio:>7}{rows:>10}{wait:>9}"
                f"{100 * summary.client_cpu_share:>10.0f}%"
            )
    return lines


def round_line(name: str, summary: LoadSummary, error_samples: Sequence[str]) -> str:
    """One round's figures for one server."""
    line = (
        f"  {name:<10} {summary.requests_per_second:8.1f} req/s  p50 {summary.p50_ms:7.2f} ms  "
        f"p99 {summary.p99_ms:7.2f} ms  ok {summary.ok}  errors {summary.errors}"
    )
    if error_samples:
        line += "  first errors: " + " | ".join(error_samples)
    return line


def metric_value(text: str, name: str) -> float | None:
    """The value of an unlabelled sample ``name`` in Prometheus text, or None if absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def batch_counters(text: str) -> tuple[float, float, float, float] | None:
    """Model calls, rows scored, requests queued and their total queue seconds, from /metrics.

    None when the server exports no batching metrics (code from before micro-batching).
    """
    names = (
        "serving_batch_rows_count",
        "serving_batch_rows_sum",
        "serving_batch_queue_wait_seconds_count",
        "serving_batch_queue_wait_seconds_sum",
    )
    values = [metric_value(text, name) for name in names]
    if any(v is None for v in values):
        return None
    calls, rows, requests, waited = (float(v or 0.0) for v in values)
    return calls, rows, requests, waited


def batch_stats(
    before: tuple[float, float, float, float], after: tuple[float, float, float, float]
) -> BatchStats:
    """Mean rows per model call and mean queue wait per request between two scrapes."""
    calls, rows, requests, waited = (b - a for a, b in zip(before, after, strict=True))
    return BatchStats(
        rows_per_call=rows / calls if calls else math.nan,
        queue_wait_ms=1000 * waited / requests if requests else math.nan,
    )


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VALUE[,KEY=VALUE]`` as the variant's name and its ``serving`` settings.

    Raises:
        ValueError: The text is not of that shape.
    """
    name, _, pairs = text.partition(":")
    settings = dict(pair.split("=", 1) for pair in pairs.split(",") if "=" in pair)
    if not name or not settings or len(settings) != len(pairs.split(",")):
        raise ValueError(f"variant {text!r}: expected NAME:KEY=VALUE[,KEY=VALUE]")
    return name, settings


def settings_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """``serving`` settings as the environment variables the ``lifecycle`` command reads."""
    return {f"LIFECYCLE_SERVING__{key.upper()}": value for key, value in settings.items()}


# ----------------------------------------------------------------------------- adapters


def console_script(bin_dir: Path, name: str) -> str:
    """Path of a console script of this environment (beside the interpreter, else on PATH).

    Raises:
        BenchmarkError: The script is not installed.
    """
    candidate = bin_dir / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BenchmarkError(f"'{name}' is not installed: run `make setup` first")
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(lifecycle: str, args: Sequence[str], env: Mapping[str, str]) -> None:
    """Run one ``lifecycle`` sub-command to completion; print its timing.

    Raises:
        BenchmarkError: The command failed; the message carries its output.
    """
    started = time.perf_counter()
    done = subprocess.run(
        [lifecycle, *args], env=dict(env), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise BenchmarkError(f"`lifecycle {' '.join(args)}` exited {done.returncode}:\n{output}")
    print(f"  lifecycle {' '.join(args)}: ok ({seconds:.1f} s)")


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or the alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def prepare_home(
    lifecycle: str, env: Mapping[str, str], client: MlflowClient, model_name: str
) -> str:
    """Make sure the home has a champion: generate, validate, then train and promote if needed.

    Returns:
        The champion's version.
    """
    for args in SETUP_COMMANDS:
        run_cli(lifecycle, args, env)
    champion = alias_version(client, model_name, ALIAS)
    if champion is None:
        if alias_version(client, model_name, "challenger") is None:
            run_cli(lifecycle, ("train",), env)
        run_cli(lifecycle, ("promote",), env)
        champion = alias_version(client, model_name, ALIAS)
    else:
        print(f"  champion exists: version {champion} (no training)")
    if champion is None:
        raise BenchmarkError(f"'{model_name}' has no '{ALIAS}' alias after promotion")
    return champion


def latest_batch(folder: Path) -> pd.DataFrame:
    """The most recent validated batch (files are named by date).

    Raises:
        BenchmarkError: The folder has no batch.
    """
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise BenchmarkError(f"no validated batch in {folder}")
    return pd.read_parquet(files[-1])


def call_seconds(call: Callable[[], object], calls: int) -> list[float]:
    """Wall time of each of ``calls`` calls of ``call()``."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def measure_floor(model: Any, frame: pd.DataFrame, calls: int = FLOOR_CALLS) -> Floor:
    """Median in-process time of one single-row call of the loaded sklearn Pipeline.

    The three ways of calling it are timed in interleaved blocks, so that a burst of load on the
    machine hits all three alike.
    """

    def proba() -> object:
        return model.predict_proba(frame)

    def predict() -> object:
        return model.predict(frame)

    def proba_one_thread() -> list[float]:
        with threadpool_limits(limits=1, user_api="openmp"):
            return call_seconds(proba, block)

    block = max(calls // FLOOR_BLOCKS, 1)
    call_seconds(proba, FLOOR_WARMUP_CALLS)
    call_seconds(predict, FLOOR_WARMUP_CALLS)
    one: list[float] = []
    default: list[float] = []
    labels: list[float] = []
    for _ in range(FLOOR_BLOCKS):
        one += proba_one_thread()
        default += call_seconds(proba, block)
        labels += call_seconds(predict, block)
    return Floor(
        proba_one_thread=statistics.median(one),
        proba_default_threads=statistics.median(default),
        predict_default_threads=statistics.median(labels),
    )


def batch_rows(frame: pd.DataFrame, contract: DatasetContract) -> list[dict[str, Any]]:
    """The batch's rows as the API hands them to the model: features, missing values as None."""
    features = frame[list(contract.features)].astype(object)
    return [
        {str(k): (None if v != v else v) for k, v in row.items()}
        for row in features.to_dict(orient="records")
    ]


def batch_call_seconds(
    model: Any,
    contract: DatasetContract,
    rows: Sequence[Mapping[str, Any]],
    sizes: Sequence[int] = CURVE_ROWS,
    calls: int = CURVE_CALLS,
) -> dict[int, float]:
    """Median seconds of one model call (frame + ``predict_proba``) per batch size.

    The curve behind ``max_batch_rows``: the fixed cost per call against the cost per row.
    """
    from serving.scoring import feature_frame, positive_probabilities

    def score(chosen: Sequence[Mapping[str, Any]]) -> object:
        return positive_probabilities(model, feature_frame(chosen, contract))

    return call_curve(score, rows, sizes, calls)


def fast_scorer_of(model: Any, contract: DatasetContract) -> FastScorer | None:
    """The server's fast path for ``model``, or None when it scores through the Pipeline."""
    from serving.fast_scorer import NotCompilableError, build_fast_scorer

    try:
        return build_fast_scorer(model, contract)
    except NotCompilableError:
        return None


def fast_call_seconds(
    model: Any,
    contract: DatasetContract,
    rows: Sequence[Mapping[str, Any]],
    sizes: Sequence[int] = CURVE_ROWS,
    calls: int = CURVE_CALLS,
) -> dict[int, float] | None:
    """The same curve through the server's fast path (rows → matrix → trees), built once.

    None when the Pipeline is not of the shape the fast path compiles (the server then scores
    through the Pipeline, whose curve is :func:`batch_call_seconds`).
    """
    from serving.scoring import fast_probabilities

    fast = fast_scorer_of(model, contract)
    if fast is None:
        return None

    def score(chosen: Sequence[Mapping[str, Any]]) -> object:
        return fast_probabilities(fast, chosen)

    return call_curve(score, rows, sizes, calls)


def call_curve(
    score: Callable[[Sequence[Mapping[str, Any]]], object],
    rows: Sequence[Mapping[str, Any]],
    sizes: Sequence[int],
    calls: int,
) -> dict[int, float]:
    """Median seconds of ``score(batch)`` per batch size, one OpenMP thread, rows reused."""
    curve: dict[int, float] = {}
    with threadpool_limits(limits=1, user_api="openmp"):
        for size in sizes:
            chosen = [rows[i % len(rows)] for i in range(size)]
            call = functools.partial(score, chosen)
            curve[size] = statistics.median(call_seconds(call, calls))
    return curve


def stage_seconds(
    model: Any, contract: DatasetContract, body: bytes, calls: int = STAGE_CALLS
) -> dict[str, float]:
    """Median in-process seconds of each stage of one request, with the server's own functions.

    Stages: ``parse`` (JSON decode and the contract's pydantic body model), ``validate`` (row
    values and the event-time window), ``frame`` and ``predict`` by the path the server takes
    (the fast path's matrix and trees, else :func:`~serving.scoring.feature_frame` and
    ``predict_proba`` on one OpenMP thread), ``respond`` (the answers, validated by
    the response model and JSON-encoded) and ``log`` (the prediction-log lines, encoded as the
    writer does it, off the request path). Queueing is measured under load, from ``/metrics``.
    """
    from pydantic import TypeAdapter

    from serving.app import TimeWindow, prediction_answers
    from serving.config import ServingSettings
    from serving.model_store import LoadedModel, utc_now
    from serving.prediction_log import ScoredBatch, prediction_records
    from serving.schemas import build_api_schemas, row_values
    from serving.scoring import checked_scores, decisions, feature_frame, positive_probabilities

    settings = ServingSettings()
    schemas = build_api_schemas(contract, settings.max_batch)
    body_model: TypeAdapter[Any] = TypeAdapter(schemas.predict_body)
    answer_model: TypeAdapter[Any] = TypeAdapter(schemas.predict_response)
    window = TimeWindow(settings.max_event_time_past, settings.max_event_time_future)
    loaded = LoadedModel("m", "1", model, 0.5, None, {}, {}, utc_now())
    now = utc_now()
    state: dict[str, Any] = {}

    def parse() -> None:
        state["body"] = body_model.validate_python(json.loads(body))

    def validate() -> None:
        items = state["body"] if isinstance(state["body"], list) else [state["body"]]
        state["rows"] = [row_values(item) for item in items]
        window.check(state["rows"], contract.event_time_column, now, single=True)

    fast = fast_scorer_of(model, contract)

    def frame() -> None:
        rows = state["rows"]
        state["frame"] = (
            feature_frame(rows, contract) if fast is None else fast.matrix_from_rows(rows)
        )

    def predict() -> None:
        if fast is None:
            state["scores"] = positive_probabilities(model, state["frame"])
        else:
            state["scores"] = checked_scores(fast.positive_probabilities(state["frame"]))

    def respond() -> None:
        scores = state["scores"].tolist()
        flags = decisions(state["scores"], loaded.threshold).tolist()
        answers = prediction_answers(contract, "r", state["rows"], scores, flags, loaded)
        state["flags"] = flags
        answer_model.dump_json(answer_model.validate_python(answers[0]))

    def log() -> None:
        batch = ScoredBatch(
            "r", state["rows"], state["scores"].tolist(), state["flags"], "m", "1", 0.5, now
        )
        for record in prediction_records(batch, contract, now):
            json.dumps(record, allow_nan=False, separators=(",", ":"))

    stages = {"parse": parse, "validate": validate, "frame": frame, "predict": predict}
    stages |= {"respond": respond, "log": log}
    times: dict[str, list[float]] = {name: [] for name in stages}
    with threadpool_limits(limits=1, user_api="openmp"):  # once: the server's thread keeps it
        for _ in range(calls):
            for name, stage in stages.items():
                started = time.perf_counter()
                stage()
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a server log, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, wait, SIGKILL the group on timeout.

    The group matters: ``mlflow models serve`` runs uvicorn as a child process.
    """
    group = process.pid  # started with start_new_session: the pid is the group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_SECONDS)
    # The leader may exit before its children: give the rest of the group the same treatment.
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def wait_ready(server: RunningServer, timeout: float = READY_TIMEOUT_SECONDS) -> float:
    """Poll the readiness path until 200; returns the seconds it took.

    Raises:
        BenchmarkError: The process exited or the timeout passed; the message has the log tail.
    """
    started = time.monotonic()
    url = server.base_url + server.spec.ready_path
    while time.monotonic() - started < timeout:
        if server.process.poll() is not None:
            raise BenchmarkError(
                f"{server.spec.name} exited with code {server.process.returncode} before it was "
                f"ready; log {server.log_path}:\n{log_tail(server.log_path)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.25)
    raise BenchmarkError(
        f"{server.spec.name} not ready after {timeout:g} s; log {server.log_path}:\n"
        f"{log_tail(server.log_path)}"
    )


@contextlib.contextmanager
def running(spec: ServerSpec, log_dir: Path) -> Iterator[RunningServer]:
    """Start a server on a free loopback port, in its own process group; stop it on exit."""
    port = free_port()
    command = [part.format(port=port) for part in spec.command]
    log_path = log_dir / f"{spec.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=dict(spec.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=spec.cwd,
        )
    try:
        yield RunningServer(spec, process, f"http://127.0.0.1:{port}", log_path)
    finally:
        stop_server(process)


def post_json(url: str, body: bytes) -> Any:
    """POST a JSON body once and decode the answer.

    Raises:
        BenchmarkError: The answer is not 200.
    """
    response = httpx.post(
        url, content=body, headers={"Content-Type": "application/json"}, timeout=30.0
    )
    if response.status_code != 200:
        raise BenchmarkError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
    return response.json()


def check_score(
    server: RunningServer, local_probability: float, local_label: float, score_name: str
) -> None:
    """Score the benchmark row on one server and compare with the in-process model.

    Raises:
        BenchmarkError: The server fails to answer or disagrees with the in-process model.
    """
    if server.spec.name == MLFLOW:
        check_mlflow(server, local_probability, local_label)
        return
    payload = post_json(server.predict_url, server.spec.body)
    try:
        probability = (
            peers.bentoml_output(payload)
            if server.spec.name == BENTOML
            else float(payload[score_name])
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchmarkError(f"{server.spec.name} answered {payload!r}: {exc}") from None
    print(f"  {server.spec.name:<10} {score_name}: {probability!r}")
    if abs(probability - local_probability) > SAME_MODEL_TOLERANCE:
        raise BenchmarkError(f"{server.spec.name} does not serve the champion: {probability!r}")


def leave_out(server: RunningServer, reason: Exception, notes: dict[str, str]) -> None:
    """Stop an optional server that cannot be measured, and note why (for the report)."""
    stop_server(server.process)
    notes[server.spec.name] = f"left out: {reason}"
    print(f"  {server.spec.name} left out: {reason}")


def ready_servers(servers: Sequence[RunningServer], notes: dict[str, str]) -> list[RunningServer]:
    """Wait until every server is ready; an optional one that fails is left out.

    Raises:
        BenchmarkError: A server that is not optional did not get ready.
    """
    kept = []
    for server in servers:
        try:
            seconds = wait_ready(server)
        except BenchmarkError as exc:
            if server.spec.name not in OPTIONAL_SERVERS:
                raise
            leave_out(server, exc, notes)
            continue
        print(f"{server.spec.name} ready at {server.base_url} after {seconds:.1f} s")
        kept.append(server)
    return kept


def checked_servers(
    servers: Sequence[RunningServer],
    local_probability: float,
    local_label: float,
    score_name: str,
    notes: dict[str, str],
) -> list[RunningServer]:
    """The servers that score the benchmark row as the in-process model does.

    An optional server that disagrees or fails is left out; any other stops the benchmark.

    Raises:
        BenchmarkError: A server that is not optional disagrees with the in-process model.
    """
    print(f"  in-process predict_proba: {local_probability!r}")
    kept = []
    for server in servers:
        try:
            check_score(server, local_probability, local_label, score_name)
        except (BenchmarkError, httpx.HTTPError) as exc:
            if server.spec.name not in OPTIONAL_SERVERS:
                raise
            leave_out(server, exc, notes)
            continue
        kept.append(server)
    return kept


def check_mlflow(server: RunningServer, local_probability: float, local_label: float) -> None:
    """Compare ``mlflow models serve``'s answer with the in-process model.

    Raises:
        BenchmarkError: MLflow's probability or label differs.
    """
    kind, value = mlflow_output(post_json(server.predict_url, server.spec.body))
    if kind == "probability":
        print(f"  mlflow probability:       {value!r}")
        if abs(value - local_probability) > SAME_MODEL_TOLERANCE:
            raise BenchmarkError("mlflow returns a different probability")
        return
    print(f"  mlflow label:             {value!r} (in-process predict: {local_label!r})")
    if value != local_label:
        raise BenchmarkError("mlflow's label differs from the champion's predict()")
    print(
        "  NOTE: mlflow serves the model's predict() (class labels), not predict_proba(): the\n"
        "  version was logged without pyfunc_predict_fn='predict_proba'. Same model, same work\n"
        "  per row (both walk the trees once), but only the label can be compared."
    )


def measure(
    server: RunningServer, concurrency: int, args: argparse.Namespace, requests: int
) -> tuple[LoadSummary, list[str]]:
    """One load round against one server: ``args.seconds`` of wrk, or ``requests`` requests."""
    max_seconds = args.max_seconds
    if args.wrk is not None:
        summary = run_wrk(
            server.predict_url, server.spec.body, concurrency=concurrency, seconds=args.seconds
        )
        return summary, []
    result = run(
        server.predict_url,
        server.spec.body,
        concurrency=concurrency,
        requests=requests,
        max_seconds=max_seconds,
    )
    return summarize(result), list(result.error_samples)


def scrape_batching(server: RunningServer) -> tuple[float, float, float, float] | None:
    """The server's batching counters now (None for a server without them)."""
    if server.spec.name == MLFLOW:
        return None
    try:
        text = httpx.get(server.base_url + "/metrics", timeout=10.0).text
    except httpx.HTTPError:
        return None
    return batch_counters(text)


def load_rounds(
    servers: Sequence[RunningServer], concurrency: int, args: argparse.Namespace
) -> tuple[dict[str, LoadSummary], dict[str, BatchStats]]:
    """``args.rounds`` rounds at one concurrency, the servers' order rotating each round.

    Each server is first warmed up at this concurrency, untimed: an adaptive batcher (ours,
    BentoML's) tunes itself to the load it sees, and a change of load is not what is measured.

    Returns:
        Per server, the median figures over rounds and the batching figures over all rounds.
    """
    print(f"concurrency {concurrency}, warm-up (untimed)")
    for server in servers:
        measure(server, concurrency, args, args.warmup)
    results: dict[str, list[LoadSummary]] = {s.spec.name: [] for s in servers}
    counters = {s.spec.name: scrape_batching(s) for s in servers}
    for index in range(args.rounds):
        print(f"concurrency {concurrency}, round {index + 1}")
        shift = index % len(servers)
        for server in [*servers[shift:], *servers[:shift]]:
            summary, samples = measure(server, concurrency, args, args.requests)
            results[server.spec.name].append(summary)
            print(round_line(server.spec.name, summary, samples))
    stats: dict[str, BatchStats] = {}
    for server in servers:
        start, end = counters[server.spec.name], scrape_batching(server)
        if start is not None and end is not None:
            stats[server.spec.name] = batch_stats(start, end)
    return {name: median_summary(s) for name, s in results.items()}, stats


def server_specs(
    args: argparse.Namespace,
    lifecycle: str,
    mlflow_cli: str,
    env: Mapping[str, str],
    row: Mapping[str, Any],
    contract: DatasetContract,
    tracking_uri: str,
) -> list[ServerSpec]:
    """Ours (1 and 2 workers), its setting variants, the code before and ``mlflow models serve``.

    The second peer, BentoML, comes from :func:`bentoml_spec`.
    """
    serve = (lifecycle, "serve", "--host", "127.0.0.1", "--port", "{port}")
    body = ours_body(row)

    def ours_like(name: str, extra: Mapping[str, str], cwd: Path | None = None) -> ServerSpec:
        return ServerSpec(name, serve, {**env, **extra}, "/ready", "/v1/predict", body, cwd)

    specs = [ours_like(OURS, {})]
    if not args.no_two_workers:
        specs.append(ours_like(OURS_TWO_WORKERS, settings_environment({"workers": "2"})))
    for text in args.variant:
        name, settings = parse_variant(text)
        specs.append(ours_like(name, settings_environment(settings)))
    if args.before is not None:
        tree = args.before.resolve()
        python = str(Path(sys.executable))
        command = (python, "-c", CLI_MAIN, *serve[1:])
        before_env = {**env, "PYTHONPATH": str(tree)}
        specs.append(ServerSpec(BEFORE, command, before_env, "/ready", "/v1/predict", body, tree))
    if not args.no_mlflow:
        uri = model_uri_of(contract)
        registry = {"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri}
        specs.append(
            ServerSpec(
                name=MLFLOW,
                command=(mlflow_cli, "models", "serve", "-m", uri, *MLFLOW_SERVE_FLAGS),
                env={**env, **registry, **peers.thread_environment(args.peer_threads)},
                ready_path="/ping",
                predict_path="/invocations",
                body=mlflow_body(row, contract),
            )
        )
    return specs


def bentoml_spec(
    args: argparse.Namespace,
    env: Mapping[str, str],
    home: Path,
    model_uri: str,
    row: Mapping[str, Any],
    contract: DatasetContract,
) -> tuple[ServerSpec, dict[str, Any]]:
    """BentoML serving the champion's skops file, from its pinned environment (made if needed).

    Returns:
        The server's spec, and what the report says of it (pins, whether the environment was
        made now, how long that took).

    Raises:
        peers.PeerEnvError: The environment cannot be made.
        ValueError: The champion's download holds no skops file.
        MlflowException: The champion cannot be downloaded.
    """
    shared = peers.installed_versions(peers.SHARED_DISTRIBUTIONS)
    env_spec = peers.bentoml_env(
        args.bench_env_root, peers.BENTOML_VERSION, shared, platform.python_version()
    )
    print(f"BentoML environment {env_spec.folder.name}: {' '.join(env_spec.requirements)}")
    started = time.perf_counter()
    made = peers.ensure_env(env_spec, args.uv)
    seconds = time.perf_counter() - started
    print(f"  {'made' if made else 'reused'} in {seconds:.1f} s")
    target = home / "benchmark" / "champion-model"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(target))
    model_file = peers.skops_file(Path(local))
    spec = ServerSpec(
        name=BENTOML,
        command=peers.bentoml_command(env_spec),
        env=peers.bentoml_environment(
            {**env, **peers.thread_environment(args.peer_threads)},
            env_spec,
            model_file,
            SKOPS_TRUSTED_TYPES,
            contract.features,
            home / "bentoml",
        ),
        ready_path="/readyz",
        predict_path="/predict",
        body=peers.bentoml_body(row, contract.features),
        cwd=peers.REPO_ROOT,
    )
    info = {
        "version": peers.BENTOML_VERSION,
        "requirements": list(env_spec.requirements),
        "environment_made_now": made,
        "environment_seconds": round(seconds, 1),
        "service": "benchmarks/bentoml_service.py, 1 worker, adaptive batching, "
        f"max_batch_size {peers.MAX_BATCH_SIZE}, max_latency_ms {peers.MAX_LATENCY_MS}",
    }
    return spec, info


def model_uri_of(contract: DatasetContract) -> str:
    """The champion's registry URI."""
    return f"models:/{contract.model_name}@{ALIAS}"


def print_stages(stages: Mapping[str, float], p50_one_connection: float | None) -> None:
    """The in-process stage medians, and what the 1-connection p50 leaves for HTTP and queueing."""
    total = sum(stages.values())
    shown = "  ".join(f"{name} {1000 * seconds:.3f}" for name, seconds in stages.items())
    print(f"stages of one request, in process, median ms: {shown}  (sum {1000 * total:.3f})")
    if p50_one_connection is not None:
        print(
            f"  ours p50 at 1 connection {p50_one_connection:.2f} ms: "
            f"{p50_one_connection - 1000 * total:.2f} ms beyond these stages (HTTP parsing and "
            "writing, middleware, the model-thread hand-off, the client)"
        )


@dataclass
class Run:
    """Everything one run measured, filled in as it goes; :func:`report` prints and saves it."""

    model_uri: str
    version: str
    floor: Floor
    curve: dict[int, float]
    stages: dict[str, float]
    load_average_before: str = ""
    fast_curve: dict[int, float] | None = None
    load: dict[int, dict[str, LoadSummary]] = field(default_factory=dict)
    batching: dict[int, dict[str, BatchStats]] = field(default_factory=dict)
    bentoml: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    scoring: dict[str, Any] | None = None
    monitoring: dict[str, Any] | None = None


def benchmark(home: Path, args: argparse.Namespace) -> Run:
    """Set the home up, measure in process, start every server, load them, run the rest."""
    # model_construct reads no environment: the defaults the child processes see.
    settings = Settings.model_construct(home=home.resolve())
    bin_dir = Path(sys.executable).parent
    env = child_environment(os.environ, settings.home, bin_dir)
    lifecycle = console_script(bin_dir, "lifecycle")
    mlflow_cli = console_script(bin_dir, "mlflow")
    tracking_uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    contract = load_contract(settings.contract)
    model_uri = model_uri_of(contract)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    print(f"setup in {settings.home}")
    version = prepare_home(lifecycle, env, client, contract.model_name)
    row = benchmark_row(latest_batch(settings.paths.validated), contract)
    frame = pd.DataFrame([row], columns=[contract.id_column, *contract.features])[
        list(contract.features)
    ]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.sklearn.load_model(model_uri)
    local_probability = float(model.predict_proba(frame)[0, 1])
    local_label = float(model.predict(frame)[0])

    print(f"\nmodel {model_uri} = version {version}; transaction {row[contract.id_column]}")
    floor = measure_floor(model, frame, args.floor_calls)
    print(
        f"in-process, one row, median of {args.floor_calls} calls each ({FLOOR_BLOCKS} interleaved "
        f"blocks) after {FLOOR_WARMUP_CALLS} warm-up:"
        f"\n  predict_proba {1000 * floor.proba_one_thread:.3f} ms with 1 OpenMP thread (as ours "
        f"calls it), {1000 * floor.proba_default_threads:.3f} ms with default threads"
        f"\n  predict       {1000 * floor.predict_default_threads:.3f} ms with default threads"
    )
    stages = stage_seconds(model, contract, ours_body(row))
    batch = latest_batch(settings.paths.validated)
    rows = batch_rows(batch, contract)
    curve = batch_call_seconds(model, contract, rows)
    shown = "  ".join(f"{n} rows {1000 * t:.2f}" for n, t in curve.items())
    print(f"in-process frame + predict_proba (1 OpenMP thread), median ms: {shown}")
    fast_curve = fast_call_seconds(model, contract, rows)
    if fast_curve is not None:
        shown = "  ".join(f"{n} rows {1000 * t:.2f}" for n, t in fast_curve.items())
        print(f"in-process fast path (the server's), median ms: {shown}")
    measured = Run(model_uri, version, floor, curve, stages, _load(), fast_curve=fast_curve)
    print(f"machine: {os.cpu_count()} cores, load average {measured.load_average_before}")

    specs = server_specs(args, lifecycle, mlflow_cli, env, row, contract, tracking_uri)
    if args.no_bentoml:
        measured.notes[BENTOML] = "left out: --no-bentoml"
    else:
        try:
            spec, measured.bentoml = bentoml_spec(
                args, env, settings.home, model_uri, row, contract
            )
            specs.append(spec)
        except (peers.PeerEnvError, ValueError, OSError, MlflowException) as exc:
            measured.notes[BENTOML] = f"left out: {exc}"
            print(f"BentoML left out: {exc}")
    load_servers(
        specs,
        settings.home / "benchmark",
        args,
        measured,
        local_probability,
        local_label,
        contract.score_name,
    )
    measured.scoring, measured.monitoring = sub_benchmarks(args, measured.notes)
    return measured


def load_servers(
    specs: Sequence[ServerSpec],
    log_dir: Path,
    args: argparse.Namespace,
    measured: Run,
    local_probability: float,
    local_label: float,
    score_name: str,
) -> None:
    """Start the servers, check they serve the model, warm them up and load them; stop them."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        started = [stack.enter_context(running(spec, log_dir)) for spec in specs]
        servers = ready_servers(started, measured.notes)
        print("same model?")
        servers = checked_servers(
            servers, local_probability, local_label, score_name, measured.notes
        )
        amount = (
            f"wrk ({args.wrk}), {args.seconds:g} s"
            if args.wrk
            else f"Python client, {args.requests} requests (at most {args.max_seconds:g} s)"
        )
        print(
            f"load: closed loop, {amount} per round, {args.rounds} rounds per concurrency, "
            "order rotating, after one untimed round each"
        )
        for concurrency in args.concurrency:
            measured.load[concurrency], measured.batching[concurrency] = load_rounds(
                servers, concurrency, args
            )


def sub_benchmarks(
    args: argparse.Namespace, notes: dict[str, str]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Batch scoring and monitoring through their own entry points; a failure is noted.

    Returns:
        Each one's results (as its results file holds them), or None when left out or failed.
    """
    chosen = {
        "scoring": (suite.SCORING, suite.scoring_argv(args.scoring_rows, args.scoring_repeats)),
        "monitoring": (suite.MONITORING, suite.monitoring_argv(args.monitoring_rows)),
    }
    results: dict[str, dict[str, Any] | None] = {}
    for name, (module, argv) in chosen.items():
        results[name] = None
        if getattr(args, f"no_{name}"):
            notes[name] = f"left out: --no-{name}"
            continue
        print(f"\n{name}: python -m {module} {' '.join(argv)}")
        try:
            results[name] = suite.run_sub_benchmark(module, argv)
        except (suite.SuiteError, OSError, ValueError) as exc:
            notes[name] = f"failed: {exc}"
            print(f"{name} failed: {exc}")
    return results["scoring"], results["monitoring"]


def report(measured: Run, args: argparse.Namespace, wall_seconds: float) -> Path:
    """Print the console and Markdown tables and the goals; write the results file.

    Returns:
        The results file written.
    """
    reference = BEFORE if args.before is not None else MLFLOW
    print(f"\nmedians over rounds; x = ratio to {reference}; client cpu = the load generator's")
    for line in report_table(measured.load, measured.batching, reference):
        print(line)
    one = measured.load.get(1, {}).get(OURS)
    print_stages(measured.stages, one.p50_ms if one else None)
    floor_name, floor_ms = floor_of(measured)
    print(
        f"floor, in-process, one row: {1000 * measured.floor.proba_one_thread:.3f} ms "
        "(predict_proba, 1 OpenMP thread)"
    )
    load_after = _load()
    print(f"load average after the rounds: {load_after}")
    verdicts = goals.all_goals(
        measured.load, floor_ms, measured.scoring, measured.monitoring, floor_name
    )
    curves = {PIPELINE_PATH: in_ms(measured.curve)}
    if measured.fast_curve is not None:
        curves[FAST_PATH] = in_ms(measured.fast_curve)
    for line in markdown(measured, curves, verdicts):
        print(line)
    document = {
        "date": dt.date.today().isoformat(),
        "wall_seconds": round(wall_seconds),
        "machine": {
            "cores": os.cpu_count(),
            "load_average_before": measured.load_average_before,
            "load_average_after": load_after,
        },
        "settings": {
            "concurrency": args.concurrency,
            "load_generator": "wrk" if args.wrk else "python",
            "seconds_per_round": args.seconds,
            "rounds": args.rounds,
            "warmup_requests": args.warmup,
            "peer_threads": args.peer_threads,
        },
        "model": {"uri": measured.model_uri, "version": measured.version},
        "floor_one_row_ms": {k: 1000 * v for k, v in asdict(measured.floor).items()},
        "model_call_ms_by_rows": curves,
        "request_stages_ms": {k: 1000 * v for k, v in measured.stages.items()},
        "load": measured.load,
        "batching": measured.batching,
        "bentoml": measured.bentoml,
        "scoring": measured.scoring,
        "monitoring": measured.monitoring,
        "notes": measured.notes,
        "goals": verdicts,
    }
    folder = Path(args.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{document['date']}.json"
    out.write_text(json.dumps(goals.jsonable(document), indent=2, allow_nan=False) + "\n")
    return out


def floor_of(measured: Run) -> tuple[str, float]:
    """The single-row floor the 1-connection goal is judged on: which path, and its ms.

    The server's own fast path (one row, from rows to probability) when it compiles: the
    Pipeline's ``predict_proba`` is then no floor, the server beats it. Else the Pipeline's
    ``predict_proba`` of one ready frame, one OpenMP thread.
    """
    if measured.fast_curve is not None and 1 in measured.fast_curve:
        return f"{FAST_PATH}, 1 row", 1000 * measured.fast_curve[1]
    return "predict_proba, 1 row", 1000 * measured.floor.proba_one_thread


def in_ms(curve: Mapping[int, float]) -> dict[int, float]:
    """A curve of seconds per call, in milliseconds."""
    return {rows: 1000 * seconds for rows, seconds in curve.items()}


def markdown(
    measured: Run, curves: Mapping[str, Mapping[int, float]], verdicts: Sequence[goals.Goal]
) -> list[str]:
    """The README's tables and lines: servers, floor, workers, batch scoring, monitoring, goals."""
    lines = ["", "Markdown (README):", "", *goals.load_table(measured.load), ""]
    lines += ["In-process cost of one model call (one thread), per rows in the call:", ""]
    lines += [*goals.floor_table(curves), ""]
    workers = goals.workers_line(measured.load)
    if workers:
        lines += [workers, ""]
    if measured.scoring:
        rates = measured.scoring["rows_per_second"]
        lines.append(
            f"Batch scoring, {measured.scoring['rows']:,} rows: flow with 1 worker "
            f"{rates['flow_1_worker']:,} rows/s, 2 workers {rates['flow_2_workers']:,}, raw "
            f"predict_proba {rates['raw']:,} ({measured.scoring['flow_1_worker_vs_raw']:.2f} of "
            "raw with 1 worker)."
        )
    if measured.monitoring:
        lines.append(
            f"Monitoring, {measured.monitoring['rows']:,} logged predictions: "
            f"{measured.monitoring['seconds']} s, peak RSS {measured.monitoring['peak_rss_mb']} MB."
        )
    lines += [f"{name}: {note}" for name, note in measured.notes.items()]
    return [*lines, "", *goals.goals_table(verdicts)]


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; exits with a usage message when a value is out of range."""
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark `lifecycle serve` against `mlflow models serve` (and, with --before, "
            "against the serving code of another source tree) on one model, at each concurrency."
        )
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 8, 64],
        help="Requests in flight; one set of rounds per value.",
    )
    parser.add_argument(
        "--load-generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk (C, a few %% of a core) or the Python client; auto = wrk when installed.",
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="Duration of one wrk round (wrk only)."
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="Requests per round (Python client only)."
    )
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per server.")
    parser.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="Untimed requests per server at each concurrency (Python client; wrk: --seconds).",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="Time budget of one round per server."
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help=(
            "Source tree of the code to compare with, served as 'before' (e.g. made by "
            "`git archive HEAD | tar -x -C DIR`); ratios are then to it."
        ),
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="Also serve ours with these `serving` settings, e.g. wait2:max_wait_ms=2.",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="Leave `mlflow models serve` out.")
    parser.add_argument("--no-bentoml", action="store_true", help="Leave BentoML out.")
    parser.add_argument(
        "--peer-threads",
        choices=peers.THREAD_CHOICES,
        default="1",
        help="Threads of the peers' model calls: 1 (as ours) or the library default.",
    )
    parser.add_argument(
        "--no-two-workers", action="store_true", help="Leave ours with 2 workers out."
    )
    parser.add_argument(
        "--uv", default=None, help="uv executable for BentoML's environment (default: found)."
    )
    parser.add_argument(
        "--bench-env-root",
        type=Path,
        default=peers.ENV_ROOT,
        help="Folder of the cached peer environments (default: .bench at the repository root).",
    )
    parser.add_argument("--no-scoring", action="store_true", help="Leave batch scoring out.")
    parser.add_argument(
        "--scoring-rows", type=int, default=SCORING_ROWS, help="Rows batch scoring scores."
    )
    parser.add_argument(
        "--scoring-repeats",
        type=int,
        default=SCORING_REPEATS,
        help="Timed batch-scoring runs per variant.",
    )
    parser.add_argument("--no-monitoring", action="store_true", help="Leave monitoring out.")
    parser.add_argument(
        "--monitoring-rows",
        type=int,
        default=MONITORING_ROWS,
        help="Logged predictions in the monitored window (the goal is stated for 1,000,000).",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="Where <date>.json goes (default: benchmarks/results).",
    )
    parser.add_argument(
        "--floor-calls",
        type=int,
        default=FLOOR_CALLS,
        help="In-process calls per way of calling the model, for the single-row floor.",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="Scratch home folder (kept); default: a temporary folder, removed at the end.",
    )
    args = parser.parse_args(argv)
    positive = ("requests", "rounds", "warmup", "floor_calls")
    for name in (*positive, "scoring_rows", "scoring_repeats", "monitoring_rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if min(args.concurrency) < 1:
        parser.error("--concurrency must be >= 1")
    if not args.max_seconds > 0:
        parser.error("--max-seconds must be > 0")
    if not args.seconds >= 1:
        parser.error("--seconds must be >= 1")
    args.wrk = None if args.load_generator == "python" else shutil.which("wrk")
    if args.load_generator == "wrk" and args.wrk is None:
        parser.error("--load-generator wrk: wrk is not installed (apt-get install wrk)")
    for text in args.variant:
        try:
            parse_variant(text)
        except ValueError as exc:
            parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 1 on a benchmark error, 130 when interrupted."""
    args = parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.ExitStack() as stack:
            home = args.home or Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="serving-bench-", ignore_cleanup_errors=True)
                )
            )
            measured = benchmark(home, args)
        out = report(measured, args, time.perf_counter() - started)
        print(f"\nwrote {out}")
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; every server started was stopped", file=sys.stderr)
        return 130
    finally:
        print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
