"""A small closed-loop HTTP load generator, a `wrk` driver, and the statistics benchmarks print.

:func:`run_wrk` drives `wrk` (Debian package ``wrk``) the same way, closed loop, for a duration;
prefer it where installed: it leaves the cores to the server under test.

Closed loop: ``concurrency`` workers each send one request, wait for the answer, and send the
next, until ``requests`` requests have been sent or ``max_seconds`` have passed. The offered load
therefore adapts to the server (no queue builds up in the client), and throughput is what the
server sustains at that concurrency. Every request posts the same pre-encoded body, so the client
spends no time on JSON encoding and the servers are compared on identical bytes.

The generator's own CPU time is recorded too: it runs on the same cores as the server it loads,
so its share tells how much of the machine the figures did not leave to the server.

Latency is measured per request from just before sending to the end of reading the body. Errors
(a transport failure, a timeout, or any status other than 200) are counted, not timed, and the
first few distinct ones are kept for the report. Answers 503 are errors too, and counted apart as
well (``shed``): a server that sheds load on purpose answers 503, and the benchmark's goals allow
those and no other error.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

MAX_ERROR_SAMPLES = 5
SHED_STATUS = 503


class LoadError(ValueError):
    """The load parameters are unusable (e.g. zero concurrency); the message names the fix."""


@dataclass(frozen=True)
class LoadResult:
    """What one load run observed.

    Attributes:
        latencies: Seconds per successful request, in completion order.
        errors: Requests that failed (transport error, timeout or a status other than 200).
        error_samples: Up to :data:`MAX_ERROR_SAMPLES` distinct error descriptions.
        wall_seconds: From the first request sent to the last answer received.
        cpu_seconds: CPU time the generator's process spent meanwhile (all its threads).
        shed: Of the errors, the answers 503 (load shed by the server on purpose).
    """

    latencies: tuple[float, ...]
    errors: int
    error_samples: tuple[str, ...]
    wall_seconds: float
    cpu_seconds: float = 0.0
    shed: int = 0


@dataclass(frozen=True)
class LoadSummary:
    """The figures of one load run: throughput counts successful requests only.

    ``client_cpu_share`` is the generator's CPU seconds per wall second (1.0 = one core);
    ``shed`` counts the errors that were answers 503.
    """

    ok: int
    errors: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    client_cpu_share: float = math.nan
    shed: int = 0

    @property
    def unexpected_errors(self) -> int:
        """Errors other than deliberate 503s (transport failures, timeouts, other statuses)."""
        return self.errors - self.shed


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default method).

    Raises:
        LoadError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    if not values:
        raise LoadError("percentile of an empty sample: no request succeeded")
    if not 0 <= q <= 100:
        raise LoadError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(result: LoadResult) -> LoadSummary:
    """Requests per second (successes over wall time), p50 and p99 latency in milliseconds.

    Latency percentiles are NaN when no request succeeded.
    """
    ok = len(result.latencies)
    wall = result.wall_seconds
    rate = ok / wall if wall > 0 else 0.0
    cpu_share = result.cpu_seconds / wall if wall > 0 else math.nan
    if ok == 0:
        return LoadSummary(ok, result.errors, rate, math.nan, math.nan, cpu_share, result.shed)
    return LoadSummary(
        ok=ok,
        errors=result.errors,
        requests_per_second=rate,
        p50_ms=1000 * percentile(result.latencies, 50),
        p99_ms=1000 * percentile(result.latencies, 99),
        client_cpu_share=cpu_share,
        shed=result.shed,
    )


def median_summary(summaries: Sequence[LoadSummary]) -> LoadSummary:
    """Per-figure median over rounds (each figure separately); errors are summed, not medianed.

    Raises:
        LoadError: ``summaries`` is empty.
    """
    if not summaries:
        raise LoadError("no rounds to summarize")
    return LoadSummary(
        ok=sum(s.ok for s in summaries),
        errors=sum(s.errors for s in summaries),
        requests_per_second=statistics.median(s.requests_per_second for s in summaries),
        p50_ms=statistics.median(s.p50_ms for s in summaries),
        p99_ms=statistics.median(s.p99_ms for s in summaries),
        client_cpu_share=statistics.median(s.client_cpu_share for s in summaries),
        shed=sum(s.shed for s in summaries),
    )


async def run_load(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    """POST ``body`` to ``url`` from ``concurrency`` closed-loop workers.

    Stops after ``requests`` requests or, whichever comes first, once ``max_seconds`` have passed
    (requests in flight then finish; none is started after the deadline).

    Args:
        url: Full URL to POST to.
        body: Request body, sent as is (pre-encoded JSON).
        concurrency: Requests in flight at any time (one keep-alive connection each).
        requests: Requests to send in total.
        max_seconds: Time budget of the run.
        headers: Request headers; default ``Content-Type: application/json``.
        timeout: Seconds before one request counts as an error.

    Raises:
        LoadError: A parameter is out of range.
    """
    if concurrency < 1:
        raise LoadError(f"concurrency must be >= 1, got {concurrency}")
    if requests < 1:
        raise LoadError(f"requests must be >= 1, got {requests}")
    if not max_seconds > 0:
        raise LoadError(f"max_seconds must be > 0, got {max_seconds}")
    sent_headers = dict(headers or {"Content-Type": "application/json"})
    latencies: list[float] = []
    error_samples: list[str] = []
    errors = 0
    shed = 0
    tickets = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    def record_error(description: str, status: int | None = None) -> None:
        nonlocal errors, shed
        errors += 1
        if status == SHED_STATUS:
            shed += 1
        if len(error_samples) < MAX_ERROR_SAMPLES and description not in error_samples:
            error_samples.append(description)

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        cpu_started = time.process_time()
        deadline = started + max_seconds

        async def worker() -> None:
            # `next` on a shared iterator is safe: workers only switch at `await`.
            for _ in tickets:
                if time.perf_counter() >= deadline:
                    return
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=sent_headers)
                except httpx.HTTPError as exc:
                    record_error(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - sent
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    status = response.status_code
                    record_error(f"HTTP {status}: {response.text[:200]}", status)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall_seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    return LoadResult(
        latencies=tuple(latencies),
        errors=errors,
        error_samples=tuple(error_samples),
        wall_seconds=wall_seconds,
        cpu_seconds=cpu_seconds,
        shed=shed,
    )


def run(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> LoadResult:
    """Blocking wrapper of :func:`run_load` (runs its own event loop)."""
    return asyncio.run(
        run_load(
            url,
            body,
            concurrency=concurrency,
            requests=requests,
            max_seconds=max_seconds,
            headers=headers,
            timeout=timeout,
        )
    )


#: wrk's Lua script: POST the body, count answers 503 per thread (a global, which ``done`` reads
#: with ``thread:get``), and at the end print one JSON line of the figures we report.
WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  shed = 0
end
function response(status, headers, body)
  if status == 503 then shed = shed + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local shed_total = 0
  for _, thread in ipairs(threads) do shed_total = shed_total + thread:get("shed") end
  io.write(string.format(
    'WRK_RESULT {{"requests": %d, "micros": %d, "non_ok": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "shed": %d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), shed_total))
end
"""
WRK_MARKER = "WRK_RESULT "


def wrk_summary(output: str, cpu_seconds: float) -> LoadSummary:
    """The figures of wrk's output (the line our script's ``done`` prints).

    wrk's percentiles cover every answer, errors included (it cannot tell them apart). Answers
    503 count as errors and as ``shed``.

    Raises:
        LoadError: The output has no result line.
    """
    line = next((ln for ln in output.splitlines() if ln.startswith(WRK_MARKER)), None)
    if line is None:
        raise LoadError(f"wrk printed no result line:\n{output[-2000:]}")
    figures = json.loads(line[len(WRK_MARKER) :])
    wall = figures["micros"] / 1e6
    errors = figures["non_ok"] + figures["socket_errors"]
    ok = max(figures["requests"] - figures["non_ok"], 0)
    answered = figures["requests"] > 0  # else wrk's percentiles are 0, not a latency
    return LoadSummary(
        ok=ok,
        errors=errors,
        requests_per_second=ok / wall if wall > 0 else 0.0,
        p50_ms=figures["p50_us"] / 1000 if answered else math.nan,
        p99_ms=figures["p99_us"] / 1000 if answered else math.nan,
        client_cpu_share=cpu_seconds / wall if wall > 0 else math.nan,
        shed=int(figures.get("shed", 0)),
    )


def run_wrk(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    seconds: float,
    timeout: float = 30.0,
    wrk: str = "wrk",
) -> LoadSummary:
    """Load ``url`` with `wrk` (one thread, ``concurrency`` connections) for ``seconds``.

    wrk is a C program: it takes a few % of a core where this module's Python client takes a
    large share of the cores the server needs. Its CPU time is measured as the child's.

    Raises:
        LoadError: A parameter is out of range, or wrk failed.
    """
    if concurrency < 1 or not seconds >= 1:
        raise LoadError(
            f"wrk needs concurrency >= 1 and seconds >= 1, got {concurrency}, {seconds}"
        )
    with tempfile.TemporaryDirectory(prefix="wrk-") as folder:
        script = Path(folder) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=body.decode()))
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds:g}s", f"--timeout={timeout:g}s"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [*command, "-s", str(script), url], capture_output=True, text=True, check=False
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wrk_summary(done.stdout, cpu)
