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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from serving.model_store import LoadedModel, RefreshOutcome, RefreshResult

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
QUEUE_WAIT_BUCKETS = (0.0005, *LATENCY_BUCKETS)
BATCH_ROWS_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServingMetrics:
    """The metrics of one app and the few operations that update them."""

    def __init__(self) -> None:
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
        )
        self.model_loaded = Gauge(
            "serving_model_loaded", "1 when a model is loaded (ready), else 0.", registry=r
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
            self.model_info.clear()
            self.model_info.labels(current.name, current.version).set(1)
        self.model_loaded.set(1 if current is not None else 0)

    def observe_batch(self, rows: int, queue_waits: Sequence[float]) -> None:
        """Record one model call's rows and how long each of its requests waited in the queue."""
        self.batch_rows.observe(rows)
        for seconds in queue_waits:
            self.queue_wait.observe(seconds)

    def bind_queue_rows(self, queued: Callable[[], int]) -> None:
        """Report the batcher's queued rows at each scrape."""
        self.queue_rows.set_function(lambda: float(queued()))

    def bind_log_pending(self, pending: Callable[[], int]) -> None:
        """Report the prediction log's queue depth at each scrape."""
        self.log_pending.set_function(lambda: float(pending()))

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return bytes(generate_latest(self.registry))
