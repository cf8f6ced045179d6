"""The prediction log and the label log: JSON lines that monitoring joins later.

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
:class:`PredictionLogWriter`, whose background thread turns it into lines and appends them.
Closing the writer (server shutdown) drains the queue, so a clean shutdown loses nothing. Labels
are rare and written synchronously (:class:`LabelLog`): when the API answers, they are on disk.
Several server processes (``lifecycle serve --workers N``) append to the same files; each write
holds an exclusive lock of the file, so lines are never interleaved (see :func:`append_lines`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import queue
import threading
from collections import defaultdict
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


def _dumps(record: Mapping[str, object]) -> str:
    return json.dumps(record, allow_nan=False, separators=(",", ":"))


def append_lines(path: Path, records: Sequence[Mapping[str, object]]) -> None:
    """Append records as JSON lines to ``path`` (creating its folder), safe with several writers.

    ``lifecycle serve --workers N`` runs N processes that append to the same daily file (and
    the same label log). Each call encodes all its lines first, then, on a descriptor opened
    with ``O_APPEND`` and under an exclusive ``flock`` of the file, writes them with
    ``os.write`` until every byte is out (a write may be partial, e.g. after a signal, so a
    single write call alone would not be enough), and closes the descriptor, which releases the
    lock. ``O_APPEND`` puts each write at the current end of the file, and the lock keeps
    another writer's bytes out of the middle of a call's lines however large the call is: no
    line is interleaved or overwritten, and none is lost. Writers share one file rather than
    one file per worker, so the monitoring reader and every other consumer of
    ``<day>.jsonl`` are unchanged. The lock is advisory: it binds writers that use this
    function (all of the server's writers), not arbitrary programs.
    """
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = memoryview("".join(_dumps(r) + "\n" for r in records).encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


class _Stop:
    """Queue sentinel: drain what is queued, then end the thread."""


class PredictionLogWriter:
    """Appends scored batches to ``<directory>/<event date>.jsonl`` on a background thread.

    Use :meth:`start`, then :meth:`submit` from any thread (cheap: a queue put), and
    :meth:`close` at shutdown, which writes everything queued before returning. A write failure
    is logged and counted through ``on_error`` (the lines of that write are lost, loudly); the
    thread keeps going. After :meth:`close`, :meth:`submit` writes synchronously instead.
    """

    def __init__(
        self,
        directory: Path,
        contract: DatasetContract,
        clock: Callable[[], dt.datetime],
        on_error: Callable[[int], None] | None = None,
    ) -> None:
        self._directory = directory
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
        """Lines appended since start."""
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
        by_file: dict[str, list[dict[str, object]]] = defaultdict(list)
        count = 0
        try:
            logged_at = self._clock()
            for batch in batches:
                for record in prediction_records(batch, self._contract, logged_at):
                    day = str(record[self._contract.event_time_column])[:10]
                    by_file[day].append(record)
                    count += 1
            for day, records in by_file.items():
                append_lines(self._directory / f"{day}.jsonl", records)
                self._lines_written += len(records)
        except Exception:
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
