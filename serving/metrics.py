"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

A per-app :class:`~prometheus_client.CollectorRegistry` lets several apps live in one process
(tests, a demo that starts and stops servers) without "duplicated timeseries" errors and without
one app's numbers leaking into another's ``/metrics``.

Series (all prefixed ``serving_``):

- ``http_requests_total{route,method,status}`` and ``http_request_duration_seconds{route,method,
  status}``: ``route`` is the route template (``/v1/predict``), ``unmatched`` for unknown paths,
  so a scan of random URLs cannot blow up the label set;
- ``predictions_total{decision}``: scored rows by decision (``0`` below the threshold, ``1`` at
  or above it);
- ``score``: histogram of the model's scores;
- ``model_info{model_name,model_version}`` = 1 for the version serving; ``model_loaded`` 0/1;
- ``model_swaps_total{result}``: swap attempts by result (``swapped``, ``rejected``);
- ``alias_lookup_failures_total``; ``prediction_log_errors_total`` (lines not written);
  ``prediction_log_pending_batches``;
- micro-batching (see :mod:`serving.batcher`): ``batch_rows`` (rows per model call),
  ``batch_queue_wait_seconds`` (per request, from queued to its batch's call start),
  ``batch_queue_rows`` (rows waiting now) and ``batch_queue_full_total`` (requests refused with
  503 by back-pressure).

Several workers (``lifecycle serve --workers N``): when ``PROMETHEUS_MULTIPROC_DIR`` is set in
the environment before :mod:`prometheus_client` is imported (the server sets it to a fresh empty
folder per start, see :mod:`pipelines.serve`), every worker writes its values to files in that
folder and ``/metrics``, whichever worker answers it, renders all of them through a
:class:`~prometheus_client.multiprocess.MultiProcessCollector`: counters and histograms are
summed over the workers (those of a worker that ended included); gauges combine as their
``multiprocess_mode`` says, over live workers: ``model_info`` is 1 for a version that any worker
serves (both, during a swap), ``model_loaded`` is 1 only when every worker has a model, the two
queue depths are summed. The queue gauges are sampled when a batch starts and at each scrape (a
callback gauge cannot cross processes). Without the variable (one worker), nothing changes: one
registry per app, read directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from serving.model_store import LoadedModel, RefreshOutcome, RefreshResult

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
QUEUE_WAIT_BUCKETS = (0.0005, *LATENCY_BUCKETS)
BATCH_ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The folder of prometheus-client's multiprocess mode, or None in single-process mode."""
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


class ServingMetrics:
    """The metrics of one app and the few operations that update them."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self._bound: list[tuple[Gauge, Callable[[], int]]] = []
        self._info_labels: tuple[str, str] | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "serving_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "serving_http_request_duration_seconds",
            "Time from request start to the end of the response.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "serving_predictions",
            "Scored rows by decision (1 = the score reached the threshold).",
            ["decision"],
            registry=r,
        )
        self.scores = Histogram(
            "serving_score",
            "Model score (probability of the positive class) of scored rows.",
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "serving_model_info",
            "1 for the model version currently serving.",
            ["model_name", "model_version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_loaded = Gauge(
            "serving_model_loaded",
            "1 when a model is loaded (ready), else 0.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.swaps = Counter(
            "serving_model_swaps",
            "Attempts to swap in a new model version, by result.",
            ["result"],
            registry=r,
        )
        self.lookup_failures = Counter(
            "serving_alias_lookup_failures",
            "Registry lookups of the alias that failed (the current model kept serving).",
            registry=r,
        )
        self.log_errors = Counter(
            "serving_prediction_log_errors",
            "Prediction-log lines that could not be written.",
            registry=r,
        )
        self.log_pending = Gauge(
            "serving_prediction_log_pending_batches",
            "Scored batches queued for the prediction log and not yet written.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.batch_rows = Histogram(
            "serving_batch_rows",
            "Rows scored per model call (the rows of all the requests batched together).",
            buckets=BATCH_ROWS_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "serving_batch_queue_wait_seconds",
            "Per request: time from joining the queue to the start of its batch's model call.",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=r,
        )
        self.queue_rows = Gauge(
            "serving_batch_queue_rows",
            "Rows waiting for the model now (not counting the batch being scored).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.queue_full = Counter(
            "serving_batch_queue_full",
            "Requests refused with 503 because max_queue_rows rows were already waiting.",
            registry=r,
        )
        for decision in ("0", "1"):
            self.predictions.labels(decision=decision)
        for result in (RefreshResult.SWAPPED, RefreshResult.REJECTED):
            self.swaps.labels(result=result.value)
        self.model_loaded.set(0)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its duration."""
        code = str(status)
        self.requests.labels(route, method, code).inc()
        self.latency.labels(route, method, code).observe(seconds)

    def observe_predictions(self, scores: Sequence[float], decisions: Sequence[int]) -> None:
        """Count decisions and record scores of one scored batch."""
        flagged = int(sum(decisions))
        if flagged:
            self.predictions.labels(decision="1").inc(flagged)
        if len(decisions) - flagged:
            self.predictions.labels(decision="0").inc(len(decisions) - flagged)
        for score in scores:
            self.scores.observe(score)

    def observe_refresh(self, outcome: RefreshOutcome, current: LoadedModel | None) -> None:
        """Record a refresh outcome and which version serves afterwards."""
        if outcome.result in (RefreshResult.SWAPPED, RefreshResult.REJECTED):
            self.swaps.labels(result=outcome.result.value).inc()
        if outcome.result is RefreshResult.LOOKUP_FAILED:
            self.lookup_failures.inc()
        if outcome.result is RefreshResult.SWAPPED and current is not None:
            previous, self._info_labels = self._info_labels, (current.name, current.version)
            if previous is not None and previous != self._info_labels:
                if self.multiprocess:  # a series cannot be removed across processes: zero it
                    self.model_info.labels(*previous).set(0)
                else:
                    self.model_info.remove(*previous)
            self.model_info.labels(*self._info_labels).set(1)
        self.model_loaded.set(1 if current is not None else 0)

    def observe_batch(self, rows: int, queue_waits: Sequence[float]) -> None:
        """Record one model call's rows and how long each of its requests waited in the queue."""
        self.batch_rows.observe(rows)
        for seconds in queue_waits:
            self.queue_wait.observe(seconds)
        if self.multiprocess:
            self._sample_bound()

    def bind_queue_rows(self, queued: Callable[[], int]) -> None:
        """Report the batcher's queued rows at each scrape."""
        self._bind(self.queue_rows, queued)

    def bind_log_pending(self, pending: Callable[[], int]) -> None:
        """Report the prediction log's queue depth at each scrape."""
        self._bind(self.log_pending, pending)

    def _bind(self, gauge: Gauge, value: Callable[[], int]) -> None:
        if self.multiprocess:  # other workers read the files: sample into them instead
            self._bound.append((gauge, value))
            gauge.set(float(value()))
        else:
            gauge.set_function(lambda: float(value()))

    def _sample_bound(self) -> None:
        for gauge, value in self._bound:
            gauge.set(float(value()))

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry (of every worker's, in multiprocess)."""
        if not self.multiprocess:
            return bytes(generate_latest(self.registry))
        self._sample_bound()
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(combined))

    def close(self) -> None:
        """At shutdown: drop this worker's live gauges from the multiprocess files (else no-op).

        Its counters and histograms stay: what it counted still happened.
        """
        if self.multiprocess:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
