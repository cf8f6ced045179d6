"""Soak test of ``lifecycle serve``: sustained mixed load, watching errors and memory.

One server (``lifecycle serve``, one uvicorn worker, started as a subprocess in its own process
group on a free loopback port) serves the champion of a run home that is set up the same way as
for :mod:`benchmarks.serving` (the same helpers: generate, validate, train and promote unless a
champion exists). After a warm-up of the same traffic, closed-loop workers send a fixed mix for
``--seconds``:

- single-row predicts of rows drawn from the latest validated batch (a pool of up to
  :data:`POOL_ROWS` distinct rows, nulls where the data has them);
- list predicts of 2..20 rows of that pool;
- label posts (1..10 labels of pool rows, half with the time the label became known);
- a small share of invalid requests, each answered with its documented status: 422 for a
  truncated JSON body, an unknown field, a wrong type, a missing feature, an empty list, an event
  time outside the accepted window and a label outside the label values; 415 for a body not sent
  as ``application/json``. These count as expected answers, not errors. A body over
  ``max_body_bytes`` (413) is left out: the server refuses it before reading it and closes the
  connection, which a client still sending may see as a reset (a client artefact, not a fault).

Rows carry no event time, so the server stamps them with its clock, and the pool's ids repeat:
the server's bounded memory of recently scored ids (``remembered_scored_ids``) stays the size of
the pool and does not pass for a leak. Every scored row is appended to the home's prediction log
and every label to its label log: point ``--home`` at a scratch folder, never at a real run.

An error is any answer whose status is not the one expected for its request, or a transport
failure (refused, reset, timeout). Memory is the resident set (``VmRSS`` in ``/proc``, so Linux
only) summed over the server's process group, read right after the warm-up, once a second during
the load, and right after it. The bar: no error (warm-up included) and an RSS at the end at most
:data:`RSS_GROWTH_LIMIT_PERCENT` % above the one after the warm-up.

The figures go to ``benchmarks/results/soak-<UTC date>.json`` (one file per day; a later run
that day replaces it) and a short table is printed. Exit status: 0 when the bar is met, 1 when
it is not (one line says why), 2 when the soak could not run (setup failed, the server did not
start), 130 when interrupted. The server is stopped, with its whole process group, in every case.

Run: ``python -m benchmarks.soak [--seconds 60] [--concurrency 8] [--home DIR]`` (as a module:
run as a script, this folder would shadow the ``serving`` package), or ``make soak``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from mlflow import MlflowClient

from benchmarks.loadgen import LoadError, percentile
from benchmarks.serving import (
    ALIAS,
    BenchmarkError,
    RunningServer,
    ServerSpec,
    child_environment,
    console_script,
    latest_batch,
    prepare_home,
    running,
    wait_ready,
)
from features.contract import DatasetContract, load_contract
from pipelines.settings import Settings

RSS_GROWTH_LIMIT_PERCENT = 10.0
DEFAULT_SECONDS = 60.0
DEFAULT_CONCURRENCY = 8
DEFAULT_WARMUP_SECONDS = 5.0
SAMPLE_PERIOD_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 30.0
POOL_ROWS = 1000
#: Pre-encoded requests the workers cycle through (the order is shuffled once, seeded).
MIX_SIZE = 4000
SEED = 13
#: Share of each kind of request in the mix.
MIX_SHARES: Mapping[str, float] = {
    "predict_one": 0.72,
    "predict_list": 0.15,
    "labels": 0.08,
    "invalid": 0.05,
}
LIST_ROWS = (2, 20)
LABELS_PER_POST = (1, 10)
MAX_ERROR_SAMPLES = 5
#: Beside the pipeline's own folders; never read by it.
LOG_FOLDER = "benchmark"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
JSON_TYPE = "application/json"
KIB_PER_MIB = 1024

EXIT_PASS = 0
EXIT_BAR_NOT_MET = 1
EXIT_CANNOT_RUN = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SoakRequest:
    """One pre-encoded request of the mix and the status it must be answered with.

    Attributes:
        kind: ``predict_one``, ``predict_list``, ``labels`` or ``invalid``.
        name: What the request is (e.g. ``unknown field``), for error messages.
        path: POST path.
        body: The body, sent as is.
        content_type: The ``Content-Type`` header.
        expected: The only status that does not count as an error.
    """

    kind: str
    name: str
    path: str
    body: bytes
    content_type: str
    expected: int


@dataclass(frozen=True)
class MixResult:
    """What one run of the mix observed.

    Attributes:
        latencies: Seconds per request answered with its expected status, by kind.
        statuses: Answers by ``"<kind> <status>"`` (expected or not).
        errors: Unexpected statuses plus transport failures.
        error_samples: Up to :data:`MAX_ERROR_SAMPLES` distinct error descriptions.
        wall_seconds: From the first request sent to the last answer received.
        stopped_early: The server process exited before the time was up.
    """

    latencies: Mapping[str, tuple[float, ...]]
    statuses: Mapping[str, int]
    errors: int
    error_samples: tuple[str, ...]
    wall_seconds: float
    stopped_early: bool = False

    @property
    def answered(self) -> int:
        """Requests answered with their expected status."""
        return sum(len(values) for values in self.latencies.values())


@dataclass(frozen=True)
class RssSample:
    """The server group's resident set ``kib`` KiB, ``seconds`` after the load started."""

    seconds: float
    kib: int


@dataclass(frozen=True)
class SoakRun:
    """What was run: the descriptive half of a report.

    Attributes:
        started_at: UTC time the mix was built, ISO 8601.
        seconds: Length of the measured load.
        concurrency: Requests in flight.
        warmup_seconds: Length of the unmeasured load before it.
        model: The model URI and the version it pointed to.
        pool_rows: Distinct rows the requests draw from.
        machine: CPU count, load average at the end, Python version.
    """

    started_at: str
    seconds: float
    concurrency: int
    warmup_seconds: float
    model: str
    pool_rows: int
    machine: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SoakReport:
    """Every figure of one soak, as written to the JSON file (memory in MiB, times in ms).

    Latency percentiles are over the requests answered as expected (4xx included) and None
    when there is none. ``statuses`` counts answers by ``"<kind> <status>"``.
    """

    run: SoakRun
    mix_shares: Mapping[str, float]
    requests: int
    requests_per_second: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p99_ms_by_kind: Mapping[str, float]
    answered_by_kind: Mapping[str, int]
    statuses: Mapping[str, int]
    expected_4xx: int
    errors: int
    warmup_errors: int
    error_samples: list[str]
    server_exited_early: bool
    rss_start_mib: float
    rss_end_mib: float
    rss_max_mib: float
    rss_growth_percent: float
    rss_growth_limit_percent: float
    rss_samples_mib: list[float]
    passed: bool
    reason: str


# ----------------------------------------------------------------------------- pure helpers


def rss_growth_percent(start_kib: int, end_kib: int) -> float:
    """How much larger ``end`` is than ``start``, in % of ``start`` (negative when it shrank).

    Raises:
        BenchmarkError: ``start_kib`` is not positive (no process was measured).
    """
    if start_kib <= 0:
        raise BenchmarkError(f"RSS at the start is {start_kib} KiB: no server process measured")
    return 100.0 * (end_kib - start_kib) / start_kib


def failure_reasons(
    errors: int,
    warmup_errors: int,
    growth_percent: float,
    server_exited: bool,
    limit_percent: float = RSS_GROWTH_LIMIT_PERCENT,
) -> list[str]:
    """Why the soak misses the bar, one phrase per cause; empty when it meets it."""
    reasons = []
    if server_exited:
        reasons.append("the server exited during the soak")
    if errors:
        reasons.append(f"{errors} error(s) during the soak")
    if warmup_errors:
        reasons.append(f"{warmup_errors} error(s) during the warm-up")
    if growth_percent > limit_percent:
        reasons.append(f"RSS grew {growth_percent:.1f} % (limit {limit_percent:g} %)")
    return reasons


def parse_vmrss_kib(status_text: str) -> int | None:
    """``VmRSS`` in KiB from the text of ``/proc/<pid>/status``; None when absent (a zombie)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def process_group_of(stat_text: str) -> int:
    """The process group id from the text of ``/proc/<pid>/stat``.

    The command name (field 2, in parentheses) may hold spaces and parentheses: the fields are
    read after its last ``)``, where state, parent pid and process group come first.
    """
    return int(stat_text.rpartition(")")[2].split()[2])


def request_rows(
    frame: pd.DataFrame, contract: DatasetContract, count: int
) -> list[dict[str, Any]]:
    """Up to ``count`` distinct rows as request items: the id and every input column present.

    NaN becomes null (the API takes null where the contract says nullable); the event time is
    left out, so the server stamps each row with its own clock.

    Raises:
        BenchmarkError: The frame has no row or lacks a feature.
    """
    missing = [c for c in (contract.id_column, *contract.features) if c not in frame.columns]
    if missing:
        raise BenchmarkError(f"the batch lacks the column(s) {missing} the API needs")
    if frame.empty:
        raise BenchmarkError("the batch has no row")
    columns = [contract.id_column, *(c for c in contract.input_columns if c in frame.columns)]
    sample = frame.sample(n=min(count, len(frame)), random_state=SEED)
    rows: list[dict[str, Any]] = json.loads(sample[columns].to_json(orient="records"))
    return rows


def label_items(
    frame: pd.DataFrame, contract: DatasetContract, ids: Sequence[Any]
) -> list[dict[str, Any]]:
    """A label record per id in ``ids`` that has a label in ``frame`` (the true label)."""
    if contract.label_column not in frame.columns:
        raise BenchmarkError(f"the batch lacks the label column '{contract.label_column}'")
    labelled = frame[frame[contract.id_column].isin(ids) & frame[contract.label_column].notna()]
    columns = [contract.id_column, contract.label_column]
    records: list[dict[str, Any]] = json.loads(labelled[columns].to_json(orient="records"))
    return records


def _encode(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def invalid_requests(
    row: Mapping[str, Any], label: Mapping[str, Any], contract: DatasetContract
) -> list[SoakRequest]:
    """Requests the API must refuse with a 4xx, derived from a valid row and a valid label."""
    feature = contract.features[0]
    valid = _encode(dict(row))

    def refused(
        name: str, body: bytes, expected: int = 422, path: str = "/v1/predict"
    ) -> SoakRequest:
        return SoakRequest("invalid", name, path, body, JSON_TYPE, expected)

    without_feature = {k: v for k, v in row.items() if k != feature}
    return [
        refused("truncated JSON", valid[:-1]),
        refused("unknown field", _encode({**row, "soak_unknown_field": 1})),
        refused("wrong type", _encode({**row, feature: [1]})),
        refused("missing feature", _encode(without_feature)),
        refused("empty list", b"[]"),
        refused(
            "event time out of window",
            _encode({**row, contract.event_time_column: "1900-01-01T00:00:00"}),
        ),
        refused(
            "label outside the label values",
            _encode([{**label, contract.label_column: "soak-not-a-label"}]),
            path="/v1/labels",
        ),
        SoakRequest("invalid", "not sent as JSON", "/v1/predict", valid, "text/plain", 415),
    ]


def build_mix(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[Mapping[str, Any]],
    contract: DatasetContract,
    now: dt.datetime,
    size: int = MIX_SIZE,
    seed: int = SEED,
) -> list[SoakRequest]:
    """``size`` requests in the proportions of :data:`MIX_SHARES`, in a seeded random order.

    ``now`` (UTC) is the label-available time given to half of the labels.

    Raises:
        BenchmarkError: ``rows`` or ``labels`` is empty, or the pool is smaller than a list.
    """
    if not rows or not labels:
        raise BenchmarkError("the mix needs at least one row and one label")
    if len(rows) < LIST_ROWS[1]:
        raise BenchmarkError(f"the mix needs at least {LIST_ROWS[1]} rows, got {len(rows)}")
    rng = random.Random(seed)
    known_at = now.replace(tzinfo=None).isoformat()
    invalid = itertools.cycle(invalid_requests(rows[0], labels[0], contract))

    def labelled(record: Mapping[str, Any]) -> dict[str, Any]:
        if rng.random() < 0.5:
            return dict(record)
        return {**record, contract.label_available_field: known_at}

    def one(kind: str) -> SoakRequest:
        if kind == "predict_one":
            body = _encode(rng.choice(rows))
            return SoakRequest(kind, "one row", "/v1/predict", body, JSON_TYPE, 200)
        if kind == "predict_list":
            chosen = rng.sample(list(rows), rng.randint(*LIST_ROWS))
            return SoakRequest(kind, "list of rows", "/v1/predict", _encode(chosen), JSON_TYPE, 200)
        if kind == "labels":
            count = min(rng.randint(*LABELS_PER_POST), len(labels))
            chosen = [labelled(r) for r in rng.sample(list(labels), count)]
            return SoakRequest(kind, "labels", "/v1/labels", _encode(chosen), JSON_TYPE, 200)
        return next(invalid)

    kinds = rng.choices(list(MIX_SHARES), weights=list(MIX_SHARES.values()), k=size)
    return [one(kind) for kind in kinds]


def _ms(values: Sequence[float], q: float) -> float | None:
    return round(1000 * percentile(values, q), 2) if values else None


def _mib(kib: float) -> float:
    return round(kib / KIB_PER_MIB, 1)


def summarize(
    run: SoakRun,
    mix: MixResult,
    warmup: MixResult,
    samples: Sequence[RssSample],
    rss_start_kib: int,
    rss_end_kib: int,
) -> SoakReport:
    """The report of one soak, verdict included (pure).

    Raises:
        BenchmarkError: ``rss_start_kib`` is not positive.
    """
    everything = [value for values in mix.latencies.values() for value in values]
    growth = rss_growth_percent(rss_start_kib, rss_end_kib)
    reasons = failure_reasons(mix.errors, warmup.errors, growth, mix.stopped_early)
    readings = [rss_start_kib, *(s.kib for s in samples), rss_end_kib]
    rate = mix.answered / mix.wall_seconds if mix.wall_seconds > 0 else 0.0
    return SoakReport(
        run=run,
        mix_shares=dict(MIX_SHARES),
        requests=mix.answered + mix.errors,
        requests_per_second=round(rate, 1),
        p50_ms=_ms(everything, 50),
        p95_ms=_ms(everything, 95),
        p99_ms=_ms(everything, 99),
        p99_ms_by_kind={
            kind: round(1000 * percentile(values, 99), 2)
            for kind, values in mix.latencies.items()
            if values
        },
        answered_by_kind={kind: len(values) for kind, values in mix.latencies.items()},
        statuses=dict(sorted(mix.statuses.items())),
        expected_4xx=len(mix.latencies.get("invalid", ())),
        errors=mix.errors,
        warmup_errors=warmup.errors,
        error_samples=[*mix.error_samples, *(f"warm-up: {s}" for s in warmup.error_samples)],
        server_exited_early=mix.stopped_early,
        rss_start_mib=_mib(rss_start_kib),
        rss_end_mib=_mib(rss_end_kib),
        rss_max_mib=_mib(max(readings)),
        rss_growth_percent=round(growth, 2),
        rss_growth_limit_percent=RSS_GROWTH_LIMIT_PERCENT,
        rss_samples_mib=[_mib(s.kib) for s in samples],
        passed=not reasons,
        reason="; ".join(reasons) if reasons else "no error and RSS growth within the limit",
    )


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_lines(report: SoakReport) -> list[str]:
    """The short table printed at the end."""
    shares = ", ".join(f"{kind} {count}" for kind, count in report.answered_by_kind.items())
    verdict = "PASS" if report.passed else "FAIL"
    return [
        f"{'requests':<22}{report.requests} ({shares})",
        f"{'req/s':<22}{report.requests_per_second:.1f}",
        f"{'latency p50/p95/p99':<22}{_shown(report.p50_ms)} / {_shown(report.p95_ms)} / "
        f"{_shown(report.p99_ms)} ms",
        f"{'errors':<22}{report.errors} (warm-up {report.warmup_errors}; expected 4xx "
        f"{report.expected_4xx}, not errors)",
        f"{'RSS start/end/max':<22}{report.rss_start_mib:.1f} / {report.rss_end_mib:.1f} / "
        f"{report.rss_max_mib:.1f} MiB",
        f"{'RSS growth':<22}{report.rss_growth_percent:+.2f} % (limit "
        f"{report.rss_growth_limit_percent:g} %)",
        f"{'verdict':<22}{verdict}: {report.reason}",
    ]


def results_path(folder: Path, day: dt.date) -> Path:
    """Where the figures of a soak run on ``day`` (UTC) are written."""
    return folder / f"soak-{day.isoformat()}.json"


# ----------------------------------------------------------------------------- adapters


def group_rss_kib(group: int, proc: Path = Path("/proc")) -> int:
    """Summed ``VmRSS`` (KiB) of every live process of process group ``group``; 0 if none.

    Raises:
        BenchmarkError: There is no ``/proc`` (not Linux).
    """
    if not (proc / "self" / "status").exists():
        raise BenchmarkError("RSS is read from /proc: run the soak on Linux")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if process_group_of((entry / "stat").read_text()) != group:
                continue
            total += parse_vmrss_kib((entry / "status").read_text()) or 0
        except (OSError, ValueError, IndexError):  # the process ended while being read
            continue
    return total


@contextlib.contextmanager
def sampling_rss(
    process: subprocess.Popen[bytes], server_gone: threading.Event
) -> Iterator[list[RssSample]]:
    """Read the server group's RSS every :data:`SAMPLE_PERIOD_SECONDS` in a thread.

    Yields the list the samples are appended to. Sets ``server_gone`` (and stops sampling)
    when the server process exits.
    """
    samples: list[RssSample] = []
    done = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not done.wait(SAMPLE_PERIOD_SECONDS):
            if process.poll() is not None:
                server_gone.set()
                return
            samples.append(RssSample(time.monotonic() - started, group_rss_kib(process.pid)))

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


async def run_mix(
    base_url: str,
    requests: Sequence[SoakRequest],
    *,
    concurrency: int,
    seconds: float,
    server_gone: threading.Event | None = None,
) -> MixResult:
    """Send ``requests`` in a loop from ``concurrency`` closed-loop workers for ``seconds``.

    No request starts after the deadline (those in flight finish), nor once ``server_gone`` is
    set. Each worker keeps one keep-alive connection.

    Raises:
        LoadError: A parameter is out of range.
    """
    if concurrency < 1:
        raise LoadError(f"concurrency must be >= 1, got {concurrency}")
    if not seconds > 0:
        raise LoadError(f"seconds must be > 0, got {seconds}")
    if not requests:
        raise LoadError("no request to send")
    gone = server_gone or threading.Event()
    queue = itertools.cycle(requests)
    latencies: dict[str, list[float]] = {kind: [] for kind in MIX_SHARES}
    statuses: Counter[str] = Counter()
    samples: list[str] = []
    errors = 0

    def record_error(description: str) -> None:
        nonlocal errors
        errors += 1
        if len(samples) < MAX_ERROR_SAMPLES and description not in samples:
            samples.append(description)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            # `next` on the shared cycle is safe: workers only switch at `await`.
            while time.perf_counter() < deadline and not gone.is_set():
                request = next(queue)
                sent = time.perf_counter()
                try:
                    response = await client.post(
                        request.path,
                        content=request.body,
                        headers={"Content-Type": request.content_type},
                    )
                except httpx.HTTPError as exc:
                    record_error(f"{request.name}: {type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - sent
                statuses[f"{request.kind} {response.status_code}"] += 1
                if response.status_code == request.expected:
                    latencies[request.kind].append(elapsed)
                else:
                    record_error(
                        f"{request.name}: HTTP {response.status_code} (expected "
                        f"{request.expected}): {response.text[:200]}"
                    )

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall_seconds = time.perf_counter() - started
    return MixResult(
        latencies={kind: tuple(values) for kind, values in latencies.items()},
        statuses=dict(statuses),
        errors=errors,
        error_samples=tuple(samples),
        wall_seconds=wall_seconds,
        stopped_early=gone.is_set(),
    )


def write_report(report: SoakReport, path: Path) -> None:
    """Write the report as indented JSON (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2) + "\n")


def _machine() -> dict[str, Any]:
    try:
        load: list[float] | None = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "load_average": load, "python": sys.version.split()[0]}


def soak(home: Path, args: argparse.Namespace) -> SoakReport:
    """Set the home up, start the server, warm it up, soak it; the server is stopped on return."""
    # model_construct reads no environment: the defaults the child processes see.
    settings = Settings.model_construct(home=home.resolve())
    bin_dir = Path(sys.executable).parent
    env = child_environment(os.environ, settings.home, bin_dir)
    lifecycle = console_script(bin_dir, "lifecycle")
    tracking_uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    contract = load_contract(settings.contract)

    print(f"setup in {settings.home}")
    version = prepare_home(lifecycle, env, client, contract.model_name)
    frame = latest_batch(settings.paths.validated)
    rows = request_rows(frame, contract, POOL_ROWS)
    labels = label_items(frame, contract, [row[contract.id_column] for row in rows])
    started_at = dt.datetime.now(dt.UTC)
    mix = build_mix(rows, labels, contract, started_at)
    print(f"mix: {len(mix)} requests over {len(rows)} rows, shares {dict(MIX_SHARES)}")

    spec = ServerSpec(
        name="soak-server",
        command=(lifecycle, "serve", "--host", "127.0.0.1", "--port", "{port}"),
        env=env,
        ready_path="/ready",
        predict_path="/v1/predict",
        body=mix[0].body,
    )
    log_dir = settings.home / LOG_FOLDER
    log_dir.mkdir(parents=True, exist_ok=True)
    with running(spec, log_dir) as server:
        print(f"server ready at {server.base_url} after {wait_ready(server):.1f} s")
        run = SoakRun(
            started_at=started_at.isoformat(timespec="seconds"),
            seconds=args.seconds,
            concurrency=args.concurrency,
            warmup_seconds=args.warmup_seconds,
            model=f"models:/{contract.model_name}@{ALIAS} (version {version})",
            pool_rows=len(rows),
        )
        return soak_server(server, mix, run)


def soak_server(server: RunningServer, mix: Sequence[SoakRequest], run: SoakRun) -> SoakReport:
    """Warm the running server up, read its RSS, run the soak while sampling, report."""
    pid = server.process.pid
    print(f"warm-up: {run.warmup_seconds:g} s at concurrency {run.concurrency}")
    warmup = asyncio.run(
        run_mix(server.base_url, mix, concurrency=run.concurrency, seconds=run.warmup_seconds)
    )
    rss_start = group_rss_kib(pid)
    print(
        f"soak: {run.seconds:g} s at concurrency {run.concurrency}; RSS after warm-up "
        f"{rss_start / KIB_PER_MIB:.1f} MiB"
    )
    server_gone = threading.Event()
    with sampling_rss(server.process, server_gone) as samples:
        result = asyncio.run(
            run_mix(
                server.base_url,
                mix,
                concurrency=run.concurrency,
                seconds=run.seconds,
                server_gone=server_gone,
            )
        )
    rss_end = group_rss_kib(pid)
    if server.process.poll() is not None:
        result = dataclasses.replace(result, stopped_early=True)
    run = dataclasses.replace(run, machine=_machine())
    return summarize(run, result, warmup, list(samples), rss_start, rss_end)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Soak `lifecycle serve`: after a warm-up, send a realistic mix for --seconds "
            "(single-row and list predicts of varied rows, label posts, ~5 % invalid requests "
            "that must get their documented 4xx) and watch errors and the server's memory. "
            "Passes with 0 errors (an unexpected status or a transport failure) and an RSS at "
            f"the end at most {RSS_GROWTH_LIMIT_PERCENT:g} % above the one after the warm-up."
        ),
        epilog=(
            "Writes benchmarks/results/soak-<UTC date>.json and prints a table. Exit status: "
            "0 bar met, 1 bar not met (one line says why), 2 could not run, 130 interrupted. "
            "The home gets a champion unless it has one (generate, validate, train, promote: "
            "about a minute) and receives every prediction and label of the soak: use a "
            "scratch folder. Linux only (memory is read from /proc)."
        ),
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help="How long the measured load runs (default %(default)g).",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="Requests in flight, one connection each (default %(default)d).",
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=DEFAULT_WARMUP_SECONDS,
        help="Load before the first RSS reading, not measured (default %(default)g).",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help=(
            "Scratch home folder, kept and reused (its champion too); default: a temporary "
            "folder, removed at the end."
        ),
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be >= 1")
    for name in ("seconds", "warmup_seconds"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; the exit status says whether the bar was met (see the module docstring)."""
    args = parse_args(argv)
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up like Ctrl-C
    try:
        with contextlib.ExitStack() as stack:
            home = args.home or Path(
                stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="soak-", ignore_cleanup_errors=True)
                )
            )
            report = soak(home, args)
    except (BenchmarkError, LoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    path = results_path(RESULTS_DIR, dt.datetime.now(dt.UTC).date())
    write_report(report, path)
    print()
    for line in report_lines(report):
        print(line)
    print(f"figures: {path} (total {time.perf_counter() - started:.0f} s)")
    if not report.passed:
        print(f"soak FAILED: {report.reason}", file=sys.stderr)
        return EXIT_BAR_NOT_MET
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
