"""The prediction log and the label log: the records monitoring joins later, and their writers.

Where the records go is a :class:`~serving.log_store.LogStore`: JSON-lines files (below, the
default) or PostgreSQL tables holding the same lines (see :mod:`serving.log_store`).

Field names shared with monitoring come from :mod:`features.vocabulary`; the rest are the
contract's column names.

Prediction log: ``<predictions_dir>/YYYY-MM-DD.jsonl``, one file per EVENT date, one object per
scored row, keys in this order: ``request_id``, the id column, the event-time column (from the
request item, else the time the request was received), ``logged_at``, ``model_name``,
``model_version``, the score under the contract's ``score_name``, ``decision`` (0/1),
``threshold``, then every ``contract.input_columns`` (the features, then the segments that are
not features; an optional segment the request left out is ``null``).

Label log: ``<labels_dir>/labels.jsonl``, one object per label with the id column, the label
column (the raw value as the contract declares it, e.g. ``"yes"`` or ``1``), ``received_at`` and,
when given, when the label became known (under ``contract.label_available_field``).

All times are written as tz-naive UTC ISO 8601 strings, like the data files.

Predictions are written off the request path: the endpoint hands a :class:`ScoredBatch` to a
:class:`PredictionLogWriter`, whose background thread turns it into records and appends them to
the store. Closing the writer (server shutdown) drains the queue, so a clean shutdown loses
nothing. Labels are rare and written synchronously (``LogStore.append_labels``; :class:`LabelLog`
for the file alone): when the API answers, they are stored. Several server processes
(``lifecycle serve --workers N``) append to the same files; each write holds an exclusive lock
of the file, so lines are never interleaved (see :func:`~serving.log_store.append_lines`).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

from features.contract import DatasetContract, Value
from features.vocabulary import (
    DECISION,
    LABELS_FILE,
    LOGGED_AT,
    MODEL_NAME,
    MODEL_VERSION,
    RECEIVED_AT,
    REQUEST_ID,
    THRESHOLD,
)
from serving.log_store import JsonLinesLogStore, LogStore, append_lines

__all__ = [
    "LabelLog",
    "PredictionLogWriter",
    "ScoredBatch",
    "append_lines",
    "declared_label",
    "iso",
    "label_records",
    "prediction_records",
    "to_utc_naive",
]

logger = logging.getLogger(__name__)

_MAX_BATCHES_PER_WRITE = 256


def to_utc_naive(value: dt.datetime) -> dt.datetime:
    """An aware datetime converted to UTC and made naive; a naive one is taken as UTC already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime) -> str:
    """Tz-naive UTC ISO 8601 text of a datetime."""
    return to_utc_naive(value).isoformat()


@dataclass(frozen=True)
class ScoredBatch:
    """One request's rows and their scores, as handed to the log writer.

    Attributes:
        request_id: Id of the HTTP request.
        items: The validated request items as mappings (id, features, extra segments, optional
            event time), keyed by column name.
        scores: Model score per item.
        decisions: 0/1 per item.
        model_name: Registered model name.
        model_version: Version that scored the batch.
        threshold: Threshold of that version.
        received_at: When the request was received (UTC); the event time of items without one.
    """

    request_id: str
    items: Sequence[Mapping[str, object]]
    scores: Sequence[float]
    decisions: Sequence[int]
    model_name: str
    model_version: str
    threshold: float
    received_at: dt.datetime


def prediction_records(
    batch: ScoredBatch, contract: DatasetContract, logged_at: dt.datetime
) -> list[dict[str, object]]:
    """The prediction-log objects of one batch, in request order (pure)."""
    logged = iso(logged_at)
    received = iso(batch.received_at)
    records: list[dict[str, object]] = []
    for item, score, decision in zip(batch.items, batch.scores, batch.decisions, strict=True):
        event_time = item.get(contract.event_time_column)
        record: dict[str, object] = {
            REQUEST_ID: batch.request_id,
            contract.id_column: item[contract.id_column],
            contract.event_time_column: (
                iso(event_time) if isinstance(event_time, dt.datetime) else received
            ),
            LOGGED_AT: logged,
            MODEL_NAME: batch.model_name,
            MODEL_VERSION: batch.model_version,
            contract.score_name: float(score),
            DECISION: int(decision),
            THRESHOLD: float(batch.threshold),
        }
        for name in contract.input_columns:
            record[name] = item.get(name)
        records.append(record)
    return records


def declared_label(value: object, contract: DatasetContract) -> Value:
    """``value`` as the contract declares the label: one of ``contract.label_values``, exactly.

    A text label must be given as text and an int label as an integer (a numpy integer is
    fine); ``"1"``, ``True`` or ``1.0`` is not ``1``.

    Raises:
        ValueError: ``value`` is not one of the label's values.
    """
    for declared in contract.label_values:
        same_kind = (
            isinstance(value, str)
            if isinstance(declared, str)
            else isinstance(value, Integral) and not isinstance(value, bool)
        )
        if same_kind and value == declared:
            return declared
    raise ValueError(
        f"label '{contract.label_column}' is {value!r}, not one of {list(contract.label_values)}"
    )


def label_records(
    labels: Iterable[Mapping[str, object]], contract: DatasetContract, received_at: dt.datetime
) -> list[dict[str, object]]:
    """The label-log objects of delivered labels (pure); absent availability times are omitted.

    Each label keeps its raw value as the contract declares it (e.g. ``"yes"`` or ``1``).

    Raises:
        ValueError: A label is not one of the contract's label values (nothing is returned).
    """
    received = iso(received_at)
    available_field = contract.label_available_field
    records: list[dict[str, object]] = []
    for label in labels:
        record: dict[str, object] = {
            contract.id_column: label[contract.id_column],
            contract.label_column: declared_label(label[contract.label_column], contract),
            RECEIVED_AT: received,
        }
        available = label.get(available_field)
        if isinstance(available, dt.datetime):
            record[available_field] = iso(available)
        records.append(record)
    return records


class _Stop:
    """Queue sentinel: drain what is queued, then end the thread."""


class PredictionLogWriter:
    """Appends scored batches to a log store on a background thread.

    The store is a :class:`~serving.log_store.LogStore`, or a folder for the JSON-lines files
    (``<directory>/<event date>.jsonl``). Each drained batch of queued requests is one append
    (one locked write per day file, or one INSERT). Use :meth:`start`, then :meth:`submit` from
    any thread (cheap: a queue put), and :meth:`close` at shutdown, which writes everything
    queued before returning. A write failure is logged and counted through ``on_error`` (the
    lines of that write are lost, loudly); the thread keeps going. After :meth:`close`,
    :meth:`submit` writes synchronously instead.
    """

    def __init__(
        self,
        store: LogStore | Path,
        contract: DatasetContract,
        clock: Callable[[], dt.datetime],
        on_error: Callable[[int], None] | None = None,
    ) -> None:
        self._store: LogStore = (  # a folder: the files (the writer writes no label)
            JsonLinesLogStore(store, store.parent / "labels", contract)
            if isinstance(store, Path)
            else store
        )
        self._contract = contract
        self._clock = clock
        self._on_error = on_error
        self._queue: queue.Queue[ScoredBatch | _Stop] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lines_written = 0

    @property
    def pending(self) -> int:
        """Batches queued and not yet written."""
        return self._queue.qsize()

    @property
    def lines_written(self) -> int:
        """Lines (rows) added since start; a replay the store skips is not counted."""
        return self._lines_written

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="prediction-log-writer", daemon=True
            )
            self._thread.start()

    def submit(self, batch: ScoredBatch) -> None:
        """Queue one batch for writing (written synchronously if the writer is closed)."""
        if self._closed or self._thread is None:
            self._write([batch])
            return
        self._queue.put(batch)

    def flush(self) -> None:
        """Block until every batch queued so far is written."""
        if self._thread is not None:
            self._queue.join()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_Stop())
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.error(
                    "prediction log writer did not finish within %.0f s; %d batches unwritten",
                    timeout,
                    self._queue.qsize(),
                )

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            taken: list[ScoredBatch | _Stop] = [first]
            while len(taken) < _MAX_BATCHES_PER_WRITE:
                try:
                    taken.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(isinstance(t, _Stop) for t in taken)
            self._write([t for t in taken if isinstance(t, ScoredBatch)])
            for _ in taken:
                self._queue.task_done()

    def _write(self, batches: Sequence[ScoredBatch]) -> None:
        records: list[dict[str, object]] = []
        try:
            logged_at = self._clock()
            for batch in batches:
                records.extend(prediction_records(batch, self._contract, logged_at))
            self._lines_written += self._store.append_predictions(records)
        except Exception:
            count = len(records)
            logger.exception("prediction log write failed: up to %d lines not written", count)
            if self._on_error is not None:
                self._on_error(count)


class LabelLog:
    """Appends label records to ``<directory>/labels.jsonl`` synchronously (thread-safe)."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / LABELS_FILE
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The label log file."""
        return self._path

    def append(self, records: Sequence[Mapping[str, object]]) -> int:
        """Append records; returns how many were written.

        Raises:
            OSError: The file cannot be written (the caller answers with a server error).
        """
        with self._lock:
            append_lines(self._path, records)
        return len(records)
