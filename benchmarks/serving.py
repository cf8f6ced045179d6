"""Serving benchmark: this project's API against `mlflow models serve`, same model, same payload.

Both servers serve the same registered version, ``models:/card-fraud@champion``, from the same
SQLite MLflow store, each as a subprocess with ONE worker on 127.0.0.1:

- ours: ``lifecycle serve`` (uvicorn + FastAPI), ``POST /v1/predict`` with one transaction object;
- baseline: ``mlflow models serve -m models:/card-fraud@champion --env-manager local -w 1``,
  ``POST /invocations`` with ``{"dataframe_split": ...}`` holding the same row.

Both get the same transaction from the same closed-loop load generator
(:mod:`benchmarks.loadgen`) at the same concurrency. Before timing, the transaction is scored by
both servers and in process: the probabilities must agree to 1e-9, which proves both serve the
same model. (A version logged without ``pyfunc_predict_fn="predict_proba"`` is served by MLflow
with ``predict``, which answers a class label: the label is then checked against the in-process
``predict`` instead, and the report says so.) Rounds alternate which server goes first so that
drift in the machine's load hits both; the figures printed are per-round medians. The in-process
``predict_proba`` time of one row is printed as the floor no server can beat.

Each server runs as shipped: ours logs every prediction (background writer), keeps Prometheus
metrics, polls the alias every 2 s and runs ``predict_proba`` with one OpenMP thread per call;
MLflow's pyfunc server calls the model with the library's default thread count. Both write
uvicorn access logs (to a file here). The load generator shares the machine's cores with the
servers, the same way for both. The servers inherit the environment, so ``OMP_NUM_THREADS=1``
makes MLflow's model calls single-threaded too.

Setup is idempotent: the home folder (a temporary one unless ``--home``) gets a small stationary
scenario, validated, trained and promoted with the ``lifecycle`` command unless a champion
exists already. Ours writes every benchmark request to the home's prediction log: point
``--home`` at a scratch folder, never at a real run.

Run: ``python -m benchmarks.serving [--concurrency 8] [--requests 2000] [--rounds 3]`` (as a
module: run as a script, this folder would shadow the ``serving`` package), or ``make bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from threadpoolctl import threadpool_limits

from benchmarks.loadgen import LoadSummary, median_summary, run, summarize
from features.contract import DatasetContract, load_contract
from pipelines.settings import Settings

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
    """

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    ready_path: str
    predict_path: str
    body: bytes


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


def report_table(ours: LoadSummary, theirs: LoadSummary) -> list[str]:
    """The side-by-side lines of medians and ratios."""
    rows = [
        ("req/s", ours.requests_per_second, theirs.requests_per_second, "{:.1f}"),
        ("p50 latency (ms)", ours.p50_ms, theirs.p50_ms, "{:.2f}"),
        ("p99 latency (ms)", ours.p99_ms, theirs.p99_ms, "{:.2f}"),
    ]
    lines = [f"{'median over rounds':<20}{'ours':>12}{'mlflow':>12}{'ours/mlflow':>14}"]
    for label, a, b, fmt in rows:
        lines.append(f"{label:<20}{fmt.format(a):>12}{fmt.format(b):>12}{ratio(a, b):>14.2f}")
    lines.append(f"{'errors (all rounds)':<20}{ours.errors:>12}{theirs.errors:>12}")
    return lines


def round_line(name: str, summary: LoadSummary, error_samples: Sequence[str]) -> str:
    """One round's figures for one server."""
    line = (
        f"  {name:<7} {summary.requests_per_second:8.1f} req/s  p50 {summary.p50_ms:7.2f} ms  "
        f"p99 {summary.p99_ms:7.2f} ms  ok {summary.ok}  errors {summary.errors}"
    )
    if error_samples:
        line += "  first errors: " + " | ".join(error_samples)
    return line


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


def measure_floor(model: Any, frame: pd.DataFrame) -> Floor:
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

    block = FLOOR_CALLS // FLOOR_BLOCKS
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


def check_same_model(
    ours: RunningServer,
    theirs: RunningServer,
    local_probability: float,
    local_label: float,
    score_name: str,
) -> None:
    """Score the benchmark row on both servers and compare with the in-process model.

    Raises:
        BenchmarkError: A server disagrees with the in-process model.
    """
    ours_probability = float(post_json(ours.predict_url, ours.spec.body)[score_name])
    kind, value = mlflow_output(post_json(theirs.predict_url, theirs.spec.body))
    print(f"  in-process predict_proba: {local_probability!r}")
    print(f"  ours  {score_name}:  {ours_probability!r}")
    if abs(ours_probability - local_probability) > SAME_MODEL_TOLERANCE:
        raise BenchmarkError("ours does not serve the champion: probabilities differ")
    if kind == "probability":
        print(f"  mlflow probability:       {value!r}")
        print(f"  |ours - mlflow| = {abs(ours_probability - value):.3g}")
        if abs(ours_probability - value) > SAME_MODEL_TOLERANCE:
            raise BenchmarkError("the two servers return different probabilities")
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
    server: RunningServer, concurrency: int, requests: int, max_seconds: float
) -> tuple[LoadSummary, list[str]]:
    """One load round against one server."""
    result = run(
        server.predict_url,
        server.spec.body,
        concurrency=concurrency,
        requests=requests,
        max_seconds=max_seconds,
    )
    return summarize(result), list(result.error_samples)


def benchmark(home: Path, args: argparse.Namespace) -> None:
    """Set the home up, start both servers and print every figure."""
    # model_construct reads no environment: the defaults the child processes see.
    settings = Settings.model_construct(home=home.resolve())
    bin_dir = Path(sys.executable).parent
    env = child_environment(os.environ, settings.home, bin_dir)
    lifecycle = console_script(bin_dir, "lifecycle")
    mlflow_cli = console_script(bin_dir, "mlflow")
    tracking_uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    contract = load_contract(settings.contract)
    model_uri = f"models:/{contract.model_name}@{ALIAS}"

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
    floor = measure_floor(model, frame)
    print(
        f"in-process, one row, median of {FLOOR_CALLS} calls each ({FLOOR_BLOCKS} interleaved "
        f"blocks) after {FLOOR_WARMUP_CALLS} warm-up:"
        f"\n  predict_proba {1000 * floor.proba_one_thread:.3f} ms with 1 OpenMP thread (as ours "
        f"calls it), {1000 * floor.proba_default_threads:.3f} ms with default threads"
        f"\n  predict       {1000 * floor.predict_default_threads:.3f} ms with default threads"
    )
    print(f"machine: {os.cpu_count()} cores, load average {_load()} (before the servers start)")

    ours_spec = ServerSpec(
        name="ours",
        command=(lifecycle, "serve", "--host", "127.0.0.1", "--port", "{port}"),
        env=env,
        ready_path="/ready",
        predict_path="/v1/predict",
        body=ours_body(row),
    )
    mlflow_spec = ServerSpec(
        name="mlflow",
        command=(mlflow_cli, "models", "serve", "-m", model_uri, *MLFLOW_SERVE_FLAGS),
        env={**env, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri},
        ready_path="/ping",
        predict_path="/invocations",
        body=mlflow_body(row, contract),
    )
    log_dir = settings.home / "benchmark"
    log_dir.mkdir(parents=True, exist_ok=True)
    with running(ours_spec, log_dir) as ours, running(mlflow_spec, log_dir) as theirs:
        for server in (ours, theirs):
            seconds = wait_ready(server)
            print(f"{server.spec.name} ready at {server.base_url} after {seconds:.1f} s")
        print("same model?")
        check_same_model(ours, theirs, local_probability, local_label, contract.score_name)

        print(f"warm-up: {args.warmup} requests each")
        for server in (ours, theirs):
            measure(server, args.concurrency, args.warmup, args.max_seconds)

        print(
            f"load: closed loop, concurrency {args.concurrency}, {args.requests} requests per "
            f"round (at most {args.max_seconds:g} s), {args.rounds} rounds, order alternating"
        )
        results: dict[str, list[LoadSummary]] = {"ours": [], "mlflow": []}
        for index in range(args.rounds):
            print(f"round {index + 1}")
            order = (ours, theirs) if index % 2 == 0 else (theirs, ours)
            for server in order:
                summary, samples = measure(
                    server, args.concurrency, args.requests, args.max_seconds
                )
                results[server.spec.name].append(summary)
                print(round_line(server.spec.name, summary, samples))

    print()
    for line in report_table(median_summary(results["ours"]), median_summary(results["mlflow"])):
        print(line)
    print(
        f"floor, in-process, one row: {1000 * floor.proba_one_thread:.3f} ms (predict_proba, "
        f"1 OpenMP thread)"
    )
    print(f"load average after the rounds: {_load()}")


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark `lifecycle serve` against `mlflow models serve` on one model."
    )
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight.")
    parser.add_argument("--requests", type=int, default=2000, help="Requests per round.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds per server.")
    parser.add_argument("--warmup", type=int, default=200, help="Untimed requests per server.")
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="Time budget of one round per server."
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="Scratch home folder (kept); default: a temporary folder, removed at the end.",
    )
    args = parser.parse_args(argv)
    for name in ("concurrency", "requests", "rounds", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if not args.max_seconds > 0:
        parser.error("--max-seconds must be > 0")
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
            benchmark(home, args)
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
