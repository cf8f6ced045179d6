"""Prediction and label logs: read them (adapters) and join them (pure).

Labels arrive after the prediction (e.g. a chargeback, or a customer who has or has not left
after a month), so performance is measured on the predictions whose label had matured by a
given time. :func:`matured_performance_frame` does that join; :func:`read_prediction_log` and
:func:`read_labels` read the logs the serving stage and the label feed write, from either log
store (:mod:`serving.log_store`: JSON-lines files, or PostgreSQL tables holding the same lines;
both are parsed by the same code, so the frames are the same). Field names other than the
contract's columns come from ``features.vocabulary``.

A log being appended to can end in a half-written line, and a log written by a server that
accepted anything may hold lines no reader can use (corrupt JSON, a time pandas cannot hold such
as year 9999). The readers skip such lines, count them in :attr:`LogRead.skipped_lines` and name
file and line numbers in :meth:`LogRead.warnings`: one bad line never stops a window.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pyarrow import json as pa_json

from features.contract import DatasetContract
from features.vocabulary import LOGGED_AT, RECEIVED_AT
from monitoring.errors import LogFormatError, MonitoringInputError
from serving.log_store import (
    LogChunk,
    LogStore,
    json_lines_label_log,
    json_lines_prediction_days,
    json_lines_scored_ids,
    parse_json_lines,
)


@dataclass(frozen=True)
class LogRead:
    """Rows read from JSON-lines files, with what was skipped and where the reader looked.

    Attributes:
        frame: One row per log record.
        skipped_lines: Lines that were skipped (0 when every line was usable).
        files: The files that were read.
        missing_files: Files the reader looked for and did not find.
        skipped: Where the skipped lines were: each file with its line numbers (1-based).
    """

    frame: pd.DataFrame
    skipped_lines: int = 0
    files: tuple[Path, ...] = ()
    missing_files: tuple[Path, ...] = field(default=())
    skipped: tuple[tuple[Path, tuple[int, ...]], ...] = ()

    def warnings(self) -> list[str]:
        """Sentences for a report: skipped lines, with the files and line numbers."""
        if not self.skipped_lines:
            return []
        if not self.skipped:
            names = ", ".join(p.name for p in self.files)
            return [f"skipped {self.skipped_lines} truncated or unusable line(s) in {names}"]
        where = "; ".join(
            f"{path.name} line(s) {', '.join(str(n) for n in numbers[:10])}"
            + (", …" if len(numbers) > 10 else "")
            for path, numbers in self.skipped
        )
        return [
            f"skipped {self.skipped_lines} truncated or unusable line(s) (corrupt JSON, or a "
            f"time that is not ISO 8601 or out of range): {where}"
        ]


def _read_json_lines(path: Path) -> tuple[list[dict[str, Any]], list[int], list[int]]:
    """A file's records, their line numbers, and the numbers of unusable lines."""
    return parse_json_lines(path.read_text(encoding="utf-8"))


def _utc_naive(values: pd.Series, column: str, source: str) -> pd.Series:
    """ISO strings (with or without offset) to tz-naive UTC datetimes."""
    try:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise LogFormatError(f"{source}: column '{column}' holds a non-ISO time: {exc}") from None
    return parsed.dt.tz_convert(None)


def read_prediction_log(
    source: Path | LogStore, contract: DatasetContract, start_date: date, end_date: date
) -> LogRead:
    """Read the prediction log of each event date, both ends included.

    ``source`` is a log store, or the folder of the JSON-lines files
    (``<folder>/YYYY-MM-DD.jsonl``). Days without a file (without a row) contribute no rows
    and are listed in ``missing_files``. The contract's event-time column and ``logged_at``
    become tz-naive UTC datetimes; the other keys are kept as logged.

    Lines that are not a JSON object, and records whose event time or ``logged_at`` is not
    ISO 8601 or out of pandas' range (e.g. year 9999), are skipped and reported (`LogRead`).

    Raises:
        ValueError: ``end_date`` is before ``start_date``.
    """
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    frames: list[pd.DataFrame] = []
    skipped: list[tuple[Path, tuple[int, ...]]] = []
    files: list[Path] = []
    missing: list[Path] = []
    for chunk in _prediction_days(source, start_date, end_date):
        if chunk.data is None:
            missing.append(chunk.source)
            continue
        frame, bad = _prediction_frame(chunk.data, contract)
        frames.append(frame)
        if bad:
            skipped.append((chunk.source, tuple(bad)))
        files.append(chunk.source)
    used = [f for f in frames if not f.empty]
    frame = pd.concat(used, ignore_index=True) if used else pd.DataFrame()
    count = sum(len(numbers) for _, numbers in skipped)
    return LogRead(frame, count, tuple(files), tuple(missing), tuple(skipped))


def _prediction_days(source: Path | LogStore, start: date, end: date) -> Iterator[LogChunk]:
    if isinstance(source, Path):
        return json_lines_prediction_days(source, start, end)
    return source.prediction_days(start, end)


def _json_input(source: Path | bytes) -> str | io.BytesIO:
    """What pyarrow's JSON reader reads: a file's path, or the lines in memory."""
    return str(source) if isinstance(source, Path) else io.BytesIO(source)


def _columnar(source: Path | bytes) -> pd.DataFrame | None:
    """Clean JSON lines parsed by pyarrow into columns; None if any line is not clean."""
    try:
        frame: pd.DataFrame = pa_json.read_json(_json_input(source)).to_pandas()
    except (pa.ArrowException, OSError, ValueError, TypeError, OverflowError):
        return None
    return frame


def _arrow_frame(source: Path | bytes, contract: DatasetContract) -> pd.DataFrame | None:
    """A whole file (or day of lines) parsed by pyarrow's JSON reader, or None when not clean.

    A large day (a million lines) parsed into Python dicts takes most of a window's time and
    gigabytes of memory; pyarrow parses it in C into columns. Any problem (a corrupt or
    half-written line, a key whose type changes between lines, a time that does not parse)
    returns None, and the line-by-line reader names the lines it skips.
    """
    try:
        frame: pd.DataFrame = pa_json.read_json(_json_input(source)).to_pandas()
        for column in (contract.event_time_column, LOGGED_AT):
            if column in frame.columns:
                raw = frame[column]
                parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
                if (parsed.isna() & raw.notna()).any():
                    return None
                frame[column] = parsed.dt.tz_convert(None).astype("datetime64[ns]")
    except (pa.ArrowException, OSError, ValueError, TypeError, OverflowError):
        return None
    return frame


def _prediction_frame(data: bytes, contract: DatasetContract) -> tuple[pd.DataFrame, list[int]]:
    """One day's JSON lines as rows, and the line numbers skipped (bad JSON or times)."""
    fast = _arrow_frame(data, contract)
    if fast is not None:
        return fast, []
    records, numbers, bad = parse_json_lines(data.decode("utf-8"))
    frame = pd.DataFrame.from_records(records)
    keep = pd.Series(True, index=frame.index)
    for column in (contract.event_time_column, LOGGED_AT):
        if column in frame.columns:
            raw = frame[column]
            parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
            keep &= parsed.notna() | raw.isna()
            frame[column] = parsed.dt.tz_convert(None)
    dropped = [numbers[i] for i in frame.index[~keep]]
    return frame[keep].reset_index(drop=True), sorted(bad + dropped)


def scored_ids(source: Path | LogStore, id_column: str) -> set[str]:
    """Every id in the prediction log (all days), as text; unreadable lines are passed over.

    ``source`` is a log store, or the folder of the JSON-lines files.
    """
    if isinstance(source, Path):
        return json_lines_scored_ids(source, id_column)
    return source.scored_ids()


def read_labels(source: Path | LogStore, contract: DatasetContract) -> LogRead:
    """Read the label log; none at all (no file, no row) means no label has arrived yet.

    ``source`` is a log store, or the folder holding ``labels.jsonl``. The log holds each
    label as the contract declares it (e.g. ``0``/``1`` or ``"no"``/``"yes"``); the frame
    holds it as 0/1 ``int64``, 1 for the contract's positive label. A missing log gives an
    empty frame, with the file (table) listed in ``missing_files``. The frame always has the
    id, label, ``received_at`` and ``contract.label_available_field`` columns (times tz-naive
    UTC; the label-available time is NaT where the record did not carry it). Every record is
    a row, in the order received: a relabel is a later row (see
    :func:`matured_performance_frame`).

    Raises:
        LogFormatError: a record lacks the id,
            the label or ``received_at``, a label is not one of the contract's two values, or a
            time is not ISO 8601.
    """
    chunk = json_lines_label_log(source) if isinstance(source, Path) else source.label_log()
    path, data = chunk.source, chunk.data
    id_col, label_col = contract.id_column, contract.label_column
    available_col = contract.label_available_field
    columns = [id_col, label_col, RECEIVED_AT, available_col]
    if data is None:
        empty = pd.DataFrame(
            {
                id_col: pd.Series(dtype="object"),
                label_col: pd.Series(dtype="int64"),
                RECEIVED_AT: pd.Series(dtype="datetime64[ns]"),
                available_col: pd.Series(dtype="datetime64[ns]"),
            }
        )
        return LogRead(empty, 0, (), (path,))
    fast = _columnar(data)
    bad: list[int] = []
    if fast is not None:  # a clean file, parsed in C (see _arrow_frame)
        frame = fast
    else:
        records, _, bad = parse_json_lines(data.decode("utf-8"))
        frame = pd.DataFrame.from_records(records)
    skipped = len(bad)
    has_records = not frame.empty
    required = [id_col, label_col, RECEIVED_AT]
    absent = [c for c in required if c not in frame.columns or frame[c].isna().any()]
    if has_records and absent:
        raise LogFormatError(f"{path}: every label record needs {required}; missing: {absent}")
    if not has_records:
        frame = pd.DataFrame(columns=columns)
    if available_col not in frame.columns:
        frame[available_col] = None
    try:
        binary = contract.binary_labels(frame[label_col])
    except ValueError as exc:
        raise LogFormatError(f"{path}: {exc}") from None
    frame[id_col] = frame[id_col].astype(str)
    frame[label_col] = binary.astype("int64")
    frame[RECEIVED_AT] = _utc_naive(frame[RECEIVED_AT], RECEIVED_AT, str(path))
    frame[available_col] = _utc_naive(frame[available_col], available_col, str(path))
    where = ((path, tuple(bad)),) if bad else ()
    return LogRead(frame[columns], skipped, (path,), (), where)


def _known_at(
    labels: pd.DataFrame, predictions: pd.DataFrame, contract: DatasetContract
) -> pd.Series:
    """When each label became known: the time its record carries, else the contract's rule.

    The rule is ``received_at`` for a contract with a label-available-time column (the record
    should have carried it), and the prediction's event time plus ``label_delay`` otherwise.
    """
    available_col = contract.label_available_field
    carried = (
        labels[available_col]
        if available_col in labels.columns
        else pd.Series(pd.NaT, index=labels.index, dtype="datetime64[ns]")
    )
    if contract.label_delay is None:
        return carried.fillna(labels[RECEIVED_AT])
    event_col = contract.event_time_column
    if event_col not in predictions.columns:
        raise MonitoringInputError(
            f"predictions lack the event-time column '{event_col}': a label becomes known "
            f"{contract.label_delay} after the event, so as_of needs it"
        )
    event_time = labels[contract.id_column].map(
        predictions.set_index(contract.id_column)[event_col]
    )
    return carried.fillna(pd.to_datetime(event_time) + contract.label_delay)


def matured_performance_frame(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    contract: DatasetContract,
    *,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Every prediction with its label where the label had matured, else a missing label.

    A left join on the contract's id column: the result has one row per prediction and the
    label column (0/1, nullable ``Int64``, missing where no label is known) plus the label's
    ``received_at`` and ``contract.label_available_field`` time (as the record carried it), so
    label coverage is ``label.notna().mean()``.

    Rules:
        * With ``as_of``, labels that became known after it are ignored. Known means the
          label-available time the record carries; a record without one is known at its
          ``received_at`` (contract with a label-available-time column), or at the
          prediction's event time plus the contract's ``label_delay``.
        * Of several labels for one id (a corrected label), the one received last wins (ties:
          the later row in the log).
        * A row scored more than once (a retried request) keeps its last-logged prediction
          (``logged_at`` if present, else row order).

    Args:
        predictions: Prediction-log rows (see :func:`read_prediction_log`).
        labels: Label-log rows with 0/1 labels (see :func:`read_labels`).
        contract: Names the id, label, event-time and label-available columns.
        as_of: Ignore labels that became known after this time (None: use every label).

    Raises:
        MonitoringInputError: a frame lacks the id column, the labels lack the label column or
            ``received_at``, the predictions already carry a label column, or ``as_of`` is
            given for a label-delay contract and the predictions lack the event time.
    """
    id_col, label_col = contract.id_column, contract.label_column
    available_col = contract.label_available_field
    if id_col not in predictions.columns:
        raise MonitoringInputError(f"predictions lack the id column '{id_col}'")
    absent = [c for c in (id_col, label_col, RECEIVED_AT) if c not in labels.columns]
    if absent:
        raise MonitoringInputError(
            f"labels lack column(s) {absent}; read them with read_labels(labels_dir, contract)"
        )
    clash = [c for c in (label_col, available_col, RECEIVED_AT) if c in predictions.columns]
    if clash:
        raise MonitoringInputError(
            f"predictions already hold label column(s) {clash}: join raw predictions only"
        )

    scored = predictions.reset_index(drop=True)
    if LOGGED_AT in scored.columns:
        scored = scored.sort_values(LOGGED_AT, kind="stable")
    scored = scored.drop_duplicates(id_col, keep="last").sort_index()
    scored = scored.assign(**{id_col: scored[id_col].astype(str)})

    known = labels.reset_index(drop=True)
    known = known.assign(**{id_col: known[id_col].astype(str)})
    if available_col not in known.columns:
        known[available_col] = pd.NaT
    if as_of is not None:
        known = known[_known_at(known, scored, contract) <= pd.Timestamp(as_of)]
    known = (
        known.reset_index(drop=True)
        .rename_axis("_row")
        .sort_values([RECEIVED_AT, "_row"], kind="stable")
        .drop_duplicates(id_col, keep="last")
    )
    known = known[[id_col, label_col, RECEIVED_AT, available_col]]

    joined = scored.merge(known, on=id_col, how="left", validate="one_to_one")
    joined[label_col] = joined[label_col].astype("Int64")
    return joined.reset_index(drop=True)
