"""Where the prediction and label logs live: JSON-lines files, or PostgreSQL tables.

One small interface, :class:`LogStore`, two implementations:

* :class:`JsonLinesLogStore` (the embedded default): ``<predictions_dir>/YYYY-MM-DD.jsonl``, one
  file per event date, and ``<labels_dir>/labels.jsonl``. Several server processes append to
  the same files (see :func:`append_lines`); serving and monitoring must share the filesystem.
* :class:`PostgresLogStore` (``log_database_url``): two tables every serving replica and the
  monitor share, created if missing. Each row keeps the exact JSON line the file would hold
  (a ``json`` column: key order and number spelling survive, so a reader parses the same text
  either way) beside typed key columns for queries. A third table holds one row per monitoring
  window (:class:`WindowRecord`, written by the monitor) for dashboards such as the compose
  stack's Grafana; the files store keeps none (the window summaries on disk are the record).

A store deals in records (the mappings :mod:`serving.prediction_log` builds) on the write side
and in raw JSON lines (:class:`LogChunk`) on the read side: :mod:`monitoring.labels` turns the
lines into frames with the same parser for both stores, so the frames are equal for the same
records.

Semantics that differ by store, on purpose:

* A replayed prediction (same request id and row id: a batch written again, e.g. retried after
  the connection broke before the commit was acknowledged) is a second line in the file and
  nothing in PostgreSQL (the primary key ``(request_id, id)``, ``ON CONFLICT DO NOTHING``: the
  first write stands). The monitor keeps
  one prediction per row id either way. A request that names one row id twice keeps both lines
  in the file and the first row in PostgreSQL.
* Labels keep their history in both stores (the monitor takes the one received last, and a
  past window re-run with ``as_of`` still sees what was known then). PostgreSQL skips a
  delivery that repeats the id's latest label (same value, same availability time): a retried
  POST or a label file loaded twice adds no row, and the first receipt's ``received_at``
  stands. A relabel (another value) is a new row, as in the file.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from features.contract import DatasetContract
from features.vocabulary import (
    DECISION,
    LABELS_FILE,
    LOGGED_AT,
    MODEL_VERSION,
    RECEIVED_AT,
    REQUEST_ID,
)

if TYPE_CHECKING:
    import psycopg

_T = TypeVar("_T")

#: Table names are ``<prefix>predictions``, ``<prefix>labels`` and ``<prefix>windows``.
DEFAULT_TABLE_PREFIX = "lifecycle_"
#: A table prefix is written into SQL unquoted, so it must be a plain identifier.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
#: The typed columns of a prediction row, in the order `PostgresLogStore._prediction_row` gives.
_PREDICTION_COLUMNS = (
    "request_id",
    "id",
    "event_time",
    "logged_at",
    "model_version",
    "score",
    "decision",
    "record",
)
#: Serialises concurrent ``CREATE TABLE IF NOT EXISTS`` of several replicas starting at once.
_SCHEMA_LOCK_KEY = 0x6C6F6773  # "logs"


class LogStoreError(OSError):
    """The log store cannot be reached or written; ``strerror`` says why (no password)."""


@dataclass(frozen=True)
class LogChunk:
    """The JSON lines of one part of a log: a day's file or rows, or the whole label log.

    Attributes:
        source: Where they are, for messages: the file, or ``<table>/<day>`` of a table.
        data: UTF-8 JSON lines, one record a line; None when nothing is logged there (no file,
            no row).
    """

    source: Path
    data: bytes | None


@dataclass(frozen=True)
class WindowRecord:
    """One monitoring window as a dashboard plots it: drift, matured performance, the verdict.

    Built by the monitor from the window's summary and the policy's decision
    (``pipelines.monitor.window_record``); the field names are the columns of the
    ``<prefix>windows`` table.

    Attributes:
        window_id: The window's sortable id (the table's key: a re-run replaces the row).
        score_drift: The score's drift statistic, meaning what ``score_drift_method`` says (a
            distance or a p-value); None when it could not be computed.
        pr_auc: PR-AUC on the window's matured labels; None when too few had matured.
        reference_pr_auc: The training-time PR-AUC it is compared with, when known.
        champion_version: The version the window was monitored for.
        verdict: The retraining policy's verdict; ``reason`` is its sentence.
    """

    window_id: str
    window_start: dt.date
    window_end: dt.date
    n_rows: int
    drift_share: float
    drift_share_threshold: float
    n_drifted_features: int
    data_drift_detected: bool
    score_drift: float | None
    score_drift_method: str
    score_drifted: bool
    n_labelled: int
    pr_auc: float | None
    reference_pr_auc: float | None
    champion_version: str | None
    verdict: str
    reason: str
    trigger: str | None


#: The columns of ``<prefix>windows`` the monitor writes (``written_at`` is the database's clock).
WINDOW_COLUMNS = tuple(f.name for f in fields(WindowRecord))


class LogStore(Protocol):
    """The prediction log and the label log, written by serving and read by monitoring.

    Also where the monitor leaves each window's figures for dashboards (:meth:`record_window`).
    """

    @property
    def location(self) -> str:
        """Where the logs are, for messages (a PostgreSQL URL without its password)."""
        ...

    def append_predictions(self, records: Sequence[Mapping[str, object]]) -> int:
        """Append prediction records (one drained batch); returns how many rows were added."""
        ...

    def append_labels(self, records: Sequence[Mapping[str, object]]) -> int:
        """Append label records synchronously; returns how many were accepted."""
        ...

    def prediction_days(self, start: dt.date, end: dt.date) -> Iterator[LogChunk]:
        """One chunk per event date from ``start`` to ``end`` (both included), in order."""
        ...

    def label_log(self) -> LogChunk:
        """Every label record, oldest first (``data`` None when no label has arrived)."""
        ...

    def scored_ids(self) -> set[str]:
        """Every row id in the prediction log (all days), as text."""
        ...

    def rows_by_day(self) -> dict[dt.date, int]:
        """Predictions logged per event date."""
        ...

    def record_window(self, window: WindowRecord) -> None:
        """Keep one window's figures and verdict for dashboards (a re-run replaces its row)."""
        ...

    def close(self) -> None:
        """Release connections (a later call reconnects)."""
        ...


def dumps(record: Mapping[str, object]) -> str:
    """One log line's JSON (compact; NaN and infinity refused), without the newline."""
    return json.dumps(record, allow_nan=False, separators=(",", ":"))


def parse_json_lines(text: str) -> tuple[list[dict[str, Any]], list[int], list[int]]:
    """Parse every line: the records, their line numbers, and the numbers of unusable lines.

    Blank lines are passed over; a line that is not a JSON object (a half-written last line, a
    corrupt one) is counted as unusable. Line numbers are 1-based.
    """
    numbered = [
        (number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()
    ]
    try:
        # Fast path: one C-level parse of the whole text (logs grow by thousands of lines a
        # day); any problem falls through to the line-by-line parse, which names the line.
        parsed = json.loads("[" + ",".join(line for _, line in numbered) + "]")
    except json.JSONDecodeError:
        parsed = None
    if parsed is not None and all(isinstance(record, dict) for record in parsed):
        return parsed, [number for number, _ in numbered], []
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    bad: list[int] = []
    for number, line in numbered:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            records.append(record)
            numbers.append(number)
        else:
            bad.append(number)
    return records, numbers, bad


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
    data = memoryview("".join(dumps(r) + "\n" for r in records).encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def event_day(record: Mapping[str, object], event_time_column: str) -> str:
    """The event date (``YYYY-MM-DD``) a prediction record is filed under."""
    return str(record[event_time_column])[:10]


def _days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every date from ``start`` to ``end``, both included (no overflow at ``date.max``)."""
    day = start
    while True:
        yield day
        if day >= end:
            return
        day += dt.timedelta(days=1)


def json_lines_prediction_days(
    predictions_dir: Path, start: dt.date, end: dt.date
) -> Iterator[LogChunk]:
    """``<predictions_dir>/<day>.jsonl`` of each day, read one at a time (None if absent)."""
    for day in _days(start, end):
        path = predictions_dir / f"{day.isoformat()}.jsonl"
        yield LogChunk(path, path.read_bytes() if path.is_file() else None)


def json_lines_label_log(labels_dir: Path) -> LogChunk:
    """``<labels_dir>/labels.jsonl`` (data None if absent)."""
    path = labels_dir / LABELS_FILE
    return LogChunk(path, path.read_bytes() if path.is_file() else None)


def json_lines_scored_ids(predictions_dir: Path, id_column: str) -> set[str]:
    """Every id in the prediction files (all days), as text; unreadable lines are passed over."""
    found: set[str] = set()
    for path in sorted(predictions_dir.glob("*.jsonl")):
        records, _, _ = parse_json_lines(path.read_text(encoding="utf-8"))
        found.update(str(r[id_column]) for r in records if r.get(id_column) is not None)
    return found


def json_lines_rows_by_day(predictions_dir: Path) -> dict[dt.date, int]:
    """Non-blank lines per ``<day>.jsonl`` file (other names are passed over)."""
    counts: dict[dt.date, int] = {}
    if not predictions_dir.is_dir():
        return counts
    for path in predictions_dir.glob("*.jsonl"):
        try:
            day = dt.date.fromisoformat(path.stem)
        except ValueError:
            continue
        with path.open("rb") as handle:
            counts[day] = sum(1 for line in handle if line.strip())
    return counts


class JsonLinesLogStore:
    """The logs as JSON-lines files under two folders (the embedded default)."""

    def __init__(self, predictions_dir: Path, labels_dir: Path, contract: DatasetContract) -> None:
        self._predictions_dir = predictions_dir
        self._labels_dir = labels_dir
        self._contract = contract
        self._label_lock = threading.Lock()

    @property
    def location(self) -> str:
        """The two folders."""
        return f"{self._predictions_dir} and {self._labels_dir / LABELS_FILE}"

    @property
    def predictions_dir(self) -> Path:
        """Folder of the ``<day>.jsonl`` prediction files."""
        return self._predictions_dir

    @property
    def labels_dir(self) -> Path:
        """Folder of ``labels.jsonl``."""
        return self._labels_dir

    def append_predictions(self, records: Sequence[Mapping[str, object]]) -> int:
        """Append each record to its event date's file, one locked append per file."""
        by_day: dict[str, list[Mapping[str, object]]] = defaultdict(list)
        for record in records:
            by_day[event_day(record, self._contract.event_time_column)].append(record)
        written = 0
        for day, lines in by_day.items():
            append_lines(self._predictions_dir / f"{day}.jsonl", lines)
            written += len(lines)
        return written

    def append_labels(self, records: Sequence[Mapping[str, object]]) -> int:
        """Append to ``labels.jsonl``; every record is a line (replays included)."""
        with self._label_lock:
            append_lines(self._labels_dir / LABELS_FILE, records)
        return len(records)

    def prediction_days(self, start: dt.date, end: dt.date) -> Iterator[LogChunk]:
        """The day files, read one at a time."""
        return json_lines_prediction_days(self._predictions_dir, start, end)

    def label_log(self) -> LogChunk:
        """The label file."""
        return json_lines_label_log(self._labels_dir)

    def scored_ids(self) -> set[str]:
        """Ids of every day file."""
        return json_lines_scored_ids(self._predictions_dir, self._contract.id_column)

    def rows_by_day(self) -> dict[dt.date, int]:
        """Lines per day file."""
        return json_lines_rows_by_day(self._predictions_dir)

    def record_window(self, window: WindowRecord) -> None:
        """Nothing: the window's ``summary.json`` on disk is already its record."""

    def close(self) -> None:
        """Nothing to release: each append opens and closes its file."""


def redacted_url(url: str) -> str:
    """A libpq URL without its password (a key=value conninfo is not echoed at all)."""
    if "://" not in url:
        return "PostgreSQL (conninfo string)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def _timestamp(value: object, column: str) -> dt.datetime:
    """A record's ISO time as a tz-naive UTC datetime (a typed key column).

    Raises:
        ValueError: The value is not an ISO 8601 time.
    """
    if not isinstance(value, str):
        raise ValueError(f"'{column}' is {value!r}, not an ISO 8601 time")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _number(value: object, column: str) -> float:
    """A record's number (a typed key column).

    Raises:
        ValueError: The value is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'{column}' is {value!r}, not a number")
    return float(value)


class PostgresLogStore:
    """The logs as two PostgreSQL tables shared by every serving replica and the monitor.

    ``<prefix>predictions``: primary key ``(request_id, id)``, typed ``event_time``,
    ``event_day``, ``logged_at``, ``model_version``, ``score``, ``decision``, and ``record``
    (the line as JSON). ``<prefix>labels``: ``seq``, ``id``, ``label`` (the raw value as JSON
    text), ``received_at``, ``available_at`` and ``record``. Both have an identity ``seq``
    that keeps the order rows were written in. Tables fit any contract: its columns are in
    ``record``. ``<prefix>windows``: one row per monitoring window, keyed by ``window_id``,
    the :class:`WindowRecord` columns plus ``written_at`` (when the row was last written).

    One connection per store, opened on first use (psycopg is imported then) and reopened
    after a broken one; calls from several threads take turns. Each append is one
    transaction: all of a batch or none of it.
    """

    def __init__(
        self,
        url: str,
        contract: DatasetContract,
        *,
        table_prefix: str = DEFAULT_TABLE_PREFIX,
        connect_timeout: float = 10.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(table_prefix):
            raise ValueError(f"table prefix {table_prefix!r} is not a plain SQL identifier")
        self._url = url
        self._contract = contract
        self._predictions = f"{table_prefix}predictions"
        self._labels = f"{table_prefix}labels"
        self._windows = f"{table_prefix}windows"
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None

    @property
    def location(self) -> str:
        """The database URL without its password, and the two tables."""
        return f"{redacted_url(self._url)} (tables {self._predictions}, {self._labels})"

    def append_predictions(self, records: Sequence[Mapping[str, object]]) -> int:
        """Insert a batch in one transaction; rows already there (a replay) are skipped.

        The rows are copied (``COPY``, several times faster than row-by-row inserts) into a
        session-private staging table emptied at each commit, then moved by one
        ``INSERT ... SELECT ... ON CONFLICT (request_id, id) DO NOTHING`` in their order.
        """
        if not records:
            return 0
        rows = [self._prediction_row(record) for record in records]
        staged = f"{self._predictions}_staged"
        columns = ", ".join(_PREDICTION_COLUMNS)

        def insert(connection: psycopg.Connection[Any]) -> int:
            connection.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {staged} (ord bigint, request_id text, "
                "id text, event_time timestamp, logged_at timestamp, model_version text, "
                "score double precision, decision smallint, record json) "
                "ON COMMIT DELETE ROWS"
            )
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY {staged} (ord, {columns}) FROM STDIN") as copy:
                    for number, row in enumerate(rows):
                        copy.write_row((number, *row))
                cursor.execute(
                    f"INSERT INTO {self._predictions} ({columns}) SELECT {columns} "
                    f"FROM {staged} ORDER BY ord ON CONFLICT (request_id, id) DO NOTHING"
                )
                return max(cursor.rowcount, 0)

        return self._run(insert)

    def append_labels(self, records: Sequence[Mapping[str, object]]) -> int:
        """Insert labels in order, skipping those that repeat the id's latest label.

        The table is locked against other writers for the transaction (labels are rare), so
        two replicas taking the same delivery at once add it once.
        """
        if not records:
            return 0
        rows = [self._label_row(record) for record in records]
        table = self._labels
        sql = (
            f"INSERT INTO {table} (id, label, received_at, available_at, record) "
            "SELECT %(id)s::text, %(label)s::text, %(received_at)s::timestamp, "
            "%(available_at)s::timestamp, %(record)s::json "
            "WHERE NOT EXISTS (SELECT 1 FROM (SELECT label, available_at FROM "
            f"{table} WHERE id = %(id)s ORDER BY received_at DESC, seq DESC LIMIT 1) AS latest "
            "WHERE latest.label = %(label)s::text "
            "AND latest.available_at IS NOT DISTINCT FROM %(available_at)s::timestamp)"
        )

        def insert(connection: psycopg.Connection[Any]) -> int:
            connection.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            with connection.cursor() as cursor:
                cursor.executemany(sql, rows)
            return len(rows)

        return self._run(insert)

    def record_window(self, window: WindowRecord) -> None:
        """Insert the window's row, or update it when the window was recorded before."""
        columns = ", ".join(WINDOW_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in WINDOW_COLUMNS[1:])
        sql = (
            f"INSERT INTO {self._windows} ({columns}, written_at) "
            f"VALUES ({', '.join(['%s'] * len(WINDOW_COLUMNS))}, now()) "
            f"ON CONFLICT (window_id) DO UPDATE SET {updates}, written_at = EXCLUDED.written_at"
        )
        row = astuple(window)

        def upsert(connection: psycopg.Connection[Any]) -> None:
            connection.execute(sql, row)

        self._run(upsert)

    def prediction_days(self, start: dt.date, end: dt.date) -> Iterator[LogChunk]:
        """Each day's rows in write order, one query a day (a day is held at a time)."""
        sql = f"SELECT record::text FROM {self._predictions} WHERE event_day = %s ORDER BY seq"
        for day in _days(start, end):
            lines = self._select_texts(sql, (day,))
            yield LogChunk(Path(self._predictions) / day.isoformat(), _joined(lines))

    def label_log(self) -> LogChunk:
        """Every label row in write order."""
        sql = f"SELECT record::text FROM {self._labels} ORDER BY seq"
        return LogChunk(Path(self._labels), _joined(self._select_texts(sql)))

    def scored_ids(self) -> set[str]:
        """Distinct ids of the prediction table."""
        sql = f"SELECT DISTINCT id FROM {self._predictions}"
        return set(self._select_texts(sql))

    def rows_by_day(self) -> dict[dt.date, int]:
        """Rows per event date."""
        sql = f"SELECT event_day, count(*) FROM {self._predictions} GROUP BY event_day"
        rows = self._run(lambda c: c.execute(sql).fetchall())
        return {day: int(count) for day, count in rows}

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        with self._lock:
            self._drop_connection()

    def _select_texts(self, sql: str, params: tuple[object, ...] = ()) -> list[str]:
        """The first column of a query's rows, as text."""
        return self._run(lambda c: [str(row[0]) for row in c.execute(sql, params).fetchall()])

    def _prediction_row(self, record: Mapping[str, object]) -> tuple[object, ...]:
        contract = self._contract
        return (
            str(record[REQUEST_ID]),
            str(record[contract.id_column]),
            _timestamp(record[contract.event_time_column], contract.event_time_column),
            _timestamp(record[LOGGED_AT], LOGGED_AT),
            str(record[MODEL_VERSION]),
            _number(record[contract.score_name], contract.score_name),
            int(_number(record[DECISION], DECISION)),
            dumps(record),
        )

    def _label_row(self, record: Mapping[str, object]) -> dict[str, object]:
        contract = self._contract
        available = record.get(contract.label_available_field)
        return {
            "id": str(record[contract.id_column]),
            "label": json.dumps(record[contract.label_column]),
            "received_at": _timestamp(record[RECEIVED_AT], RECEIVED_AT),
            "available_at": (
                None if available is None else _timestamp(available, contract.label_available_field)
            ),
            "record": dumps(record),
        }

    def _run(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """``work`` in one transaction on the store's connection, psycopg errors as OSError.

        A connection found broken (the server restarted, a proxy dropped it) is replaced and
        ``work`` tried once more: every operation is safe to repeat (appends skip what is
        already stored).

        Raises:
            LogStoreError: The database cannot be reached, or the statement failed.
        """
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                reused = self._connection is not None
                try:
                    return _committed(self._connect(), work)
                except psycopg.Error as exc:
                    broken = self._connection is not None and self._connection.broken
                    if broken:
                        self._drop_connection()
                    if not (broken and reused and attempt == 1):
                        raise _storage_error(self._url, exc) from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> psycopg.Connection[Any]:
        """The open connection, or a new one with the tables created if missing."""
        import psycopg

        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = psycopg.connect(
            self._url, connect_timeout=max(1, round(self._connect_timeout))
        )
        try:
            _committed(connection, self._create_schema)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _create_schema(self, connection: psycopg.Connection[Any]) -> None:
        """Create the tables, one replica at a time (an advisory lock held until commit)."""
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        for statement in self._schema():
            connection.execute(statement)

    def _schema(self) -> list[str]:
        """``CREATE ... IF NOT EXISTS`` of the three tables and their indexes."""
        predictions, labels, windows = self._predictions, self._labels, self._windows
        return [
            f"CREATE TABLE IF NOT EXISTS {predictions} ("
            "seq bigint GENERATED ALWAYS AS IDENTITY, "
            "request_id text NOT NULL, id text NOT NULL, "
            "event_time timestamp NOT NULL, "
            "event_day date GENERATED ALWAYS AS (event_time::date) STORED, "
            "logged_at timestamp NOT NULL, model_version text NOT NULL, "
            "score double precision NOT NULL, decision smallint NOT NULL, "
            "record json NOT NULL, PRIMARY KEY (request_id, id))",
            f"CREATE INDEX IF NOT EXISTS {predictions}_day ON {predictions} (event_day, seq)",
            f"CREATE INDEX IF NOT EXISTS {predictions}_id ON {predictions} (id)",
            f"CREATE TABLE IF NOT EXISTS {labels} ("
            "seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL, "
            "label text NOT NULL, received_at timestamp NOT NULL, available_at timestamp, "
            "record json NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {labels}_id ON {labels} (id, received_at, seq)",
            f"CREATE TABLE IF NOT EXISTS {windows} ("
            "window_id text PRIMARY KEY, window_start date NOT NULL, window_end date NOT NULL, "
            "n_rows integer NOT NULL, drift_share double precision NOT NULL, "
            "drift_share_threshold double precision NOT NULL, "
            "n_drifted_features integer NOT NULL, data_drift_detected boolean NOT NULL, "
            "score_drift double precision, score_drift_method text NOT NULL, "
            "score_drifted boolean NOT NULL, n_labelled integer NOT NULL, "
            "pr_auc double precision, reference_pr_auc double precision, "
            "champion_version text, verdict text NOT NULL, reason text NOT NULL, trigger text, "
            "written_at timestamptz NOT NULL DEFAULT now())",
            f"CREATE INDEX IF NOT EXISTS {windows}_end ON {windows} (window_end)",
        ]


def _storage_error(url: str, exc: Exception) -> LogStoreError:
    """``exc`` as an OSError naming the database without its password."""
    text = str(exc).strip()
    summary = text.splitlines()[0] if text else repr(exc)
    return LogStoreError(errno.EIO, f"{redacted_url(url)}: {type(exc).__name__}: {summary}")


def _joined(lines: Sequence[str]) -> bytes | None:
    """JSON lines as the file would hold them; None for no line."""
    if not lines:
        return None
    return ("\n".join(lines) + "\n").encode("utf-8")


def open_log_store(
    database_url: str | None,
    predictions_dir: Path,
    labels_dir: Path,
    contract: DatasetContract,
) -> LogStore:
    """PostgreSQL when a URL is given (nothing is contacted until first use), else the files."""
    if database_url:
        return PostgresLogStore(database_url, contract)
    return JsonLinesLogStore(predictions_dir, labels_dir, contract)


def _committed(
    connection: psycopg.Connection[Any], work: Callable[[psycopg.Connection[Any]], _T]
) -> _T:
    """Run ``work`` and commit it; roll everything back if it raises (all of it or none)."""
    try:
        result = work(connection)
    except BaseException:
        if not connection.closed:
            connection.rollback()
        raise
    connection.commit()
    return result
