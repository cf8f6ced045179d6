"""Bring a CSV or Parquet file in: parse it against the contract, one raw batch per day.

Core (pure, no I/O):

* `parse_rows` turns a source frame into the dtypes the validation gate expects (float64;
  int64, or Int64 with missing values; naive-UTC datetime64[ns]; Python ``str`` for category and
  string columns), makes ids when the contract says ``id_generated``, and sets aside every row
  it cannot parse with a reason per column. It never judges nullability, ranges or categories:
  that is the gate's job.
* `split_by_day` cuts the parsed rows into one frame per UTC day of event time.
* `plan_day` compares a day's rows with the raw batches that day already has: rows already
  there (same id, same values) are not written again, and a row whose id is already there with
  other values is rejected rather than written twice.

Adapters: `source_files`, `read_source_file` and `source_sha256` read the source; `ingest` writes
the batches (each atomically, never replacing a file), the rejected rows and a report under
``<ingest_dir>/<first 16 hex of the source's sha256>/``. The report names the source's content,
so ingesting the same content again is a no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api import types as ptypes

from data.batches import parquet_bytes, write_new_file
from features.contract import ColumnSpec, DatasetContract, DType

#: Name of the report file in an ingest record folder.
REPORT_FILE: Final = "report.json"
#: Name of the rejected rows file in an ingest record folder.
REJECTED_FILE: Final = "rejected.csv"
#: Source file suffixes and how each is read.
SOURCE_FORMATS: Final = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
#: Columns `ingest` adds to the rejected rows (renamed with a leading ``_`` on a clash).
SOURCE_FILE_COLUMN: Final = "source_file"
SOURCE_ROW_COLUMN: Final = "source_row"
REASON_COLUMN: Final = "rejected_reason"

#: Reasons a value is rejected, by kind.
NOT_A_NUMBER: Final = "not a number"
NOT_FINITE: Final = "not a finite number"
NOT_WHOLE: Final = "not a whole number"
OUT_OF_INT64: Final = "outside the 64-bit integer range"
NOT_A_DATETIME: Final = "not an ISO 8601 date/time"
NO_EVENT_TIME: Final = "missing: the row cannot be placed in a day"
ID_CONFLICT: Final = "id already ingested in raw batch {batch} with other values"
_ID_CONFLICT_HEAD: Final = ID_CONFLICT.split("{")[0]

_BATCH_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.([a-z0-9]{1,16}))?\.parquet$")
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_EXACT_FLOAT = 2**53
_EXAMPLES = 3
_ID_CHARS = 16


class IngestError(ValueError):
    """A source cannot be ingested as it is; the message says what to fix, on one line."""


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRejection:
    """Rows rejected for one reason on one column.

    Attributes:
        column: The contract column (the id column for an id conflict).
        reason: Why, e.g. ``not a number``.
        count: How many rows.
        examples: Up to three distinct offending values, as text.
    """

    column: str
    reason: str
    count: int
    examples: tuple[str, ...]

    def text(self) -> str:
        """``amount: 2 not a number, e.g. 'abc'``."""
        example = f", e.g. {self.examples[0]!r}" if self.examples and self.examples[0] else ""
        return f"{self.column}: {self.count} {self.reason}{example}"


@dataclass(frozen=True, eq=False)
class ParsedRows:
    """A source frame parsed against a contract.

    Attributes:
        frame: The rows that parsed, contract columns in contract order (the id included, made
            when the contract says ``id_generated``), in source order.
        origin: For each row of `frame` (same index): ``source_file`` and ``source_row`` (1-based
            data row, header not counted).
        rejected: The rows that did not parse, with their original values, then ``source_file``,
            ``source_row`` and ``rejected_reason`` (one ``column: reason (value)`` per column).
        rejections: Counts, reasons and examples per column and reason.
        ignored_columns: Source columns the contract does not declare (left out).
        rows_read: Rows in the source.
    """

    frame: pd.DataFrame
    origin: pd.DataFrame
    rejected: pd.DataFrame
    rejections: tuple[ColumnRejection, ...]
    ignored_columns: tuple[str, ...]
    rows_read: int


@dataclass(frozen=True, eq=False)
class DayPlan:
    """What to write for one day, given the raw batches that day already has.

    Attributes:
        day: The UTC day of event time.
        rows: The rows to write (empty when every row is already there).
        already_present: Rows of the day already in an existing batch, same id and values.
        present_in: The first existing batch holding such a row, or None.
        conflicts: Rows whose id an existing batch holds with other values, with their reason
            (column ``rejected_reason``); never written.
    """

    day: dt.date
    rows: pd.DataFrame
    already_present: int
    present_in: str | None
    conflicts: pd.DataFrame


@dataclass(frozen=True)
class IngestedBatch:
    """One day of the source in the raw folder.

    Attributes:
        batch_id: ``YYYY-MM-DD`` or ``YYYY-MM-DD.<suffix>`` (the file stem).
        rows: Rows of the source for that day (rejected rows not counted).
        status: ``written`` (a new file holding ``rows - already_present`` rows) or
            ``unchanged`` (every row was already in a batch of that day, the one named here).
        path: The Parquet file.
        already_present: Of `rows`, those an existing batch of the day already held (same id
            and values), not written again.
    """

    batch_id: str
    rows: int
    status: Literal["written", "unchanged"]
    path: Path
    already_present: int = 0


@dataclass(frozen=True)
class IngestReport:
    """What `ingest` did with one source (also stored as ``report.json``).

    ``rows_read == rows_ingested + rows_already_present + rows_rejected``.

    Attributes:
        source: The file or folder ingested.
        sha256: SHA-256 of the source's bytes (the files of a folder concatenated in name order).
        contract_hash: ``content_hash()`` of the contract the rows were parsed against.
        rows_read: Rows in the source.
        rows_ingested: Rows written into new raw batches by this ingest.
        rows_already_present: Rows skipped because a raw batch of their day already held them.
        rows_rejected: Rows that could not be parsed (or whose id clashed); never written.
        rejections: Per column and reason: count and examples.
        ignored_columns: Source columns the contract does not declare.
        batches: One entry per day of event time, oldest first.
        already_ingested: True when this call changed nothing because the same content was
            ingested before (`ingested_at` and `batches` then describe that earlier ingest).
        rejected_path: The CSV of rejected rows, or None when every row parsed.
        report_path: Where this report is stored.
        ingested_at: When the batches were written (UTC, ISO 8601).
    """

    source: Path
    sha256: str
    contract_hash: str
    rows_read: int
    rows_ingested: int
    rows_already_present: int
    rows_rejected: int
    rejections: tuple[ColumnRejection, ...]
    ignored_columns: tuple[str, ...]
    batches: tuple[IngestedBatch, ...]
    already_ingested: bool
    rejected_path: Path | None
    report_path: Path
    ingested_at: str

    def summary(self) -> str:
        """One line for a terminal or a log."""
        if self.already_ingested:
            ids = ", ".join(b.batch_id for b in self.batches) or "none"
            return (
                f"{self.source} (sha256 {self.sha256[:12]}) was already ingested at "
                f"{self.ingested_at} into batches {ids}: nothing changed"
            )
        written = sum(b.status == "written" for b in self.batches)
        line = (
            f"ingested {self.rows_ingested} of {self.rows_read} rows from {self.source}: "
            f"{len(self.batches)} day(s), {written} new batch(es)"
        )
        if self.rows_already_present:
            line += f", {self.rows_already_present} row(s) already in earlier batches"
        if self.rows_rejected:
            line += f"; {self.rows_rejected} row(s) rejected, saved in {self.rejected_path}"
        return line

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-serialisable values (paths as text)."""
        return {
            "source": str(self.source),
            "sha256": self.sha256,
            "contract_hash": self.contract_hash,
            "rows_read": self.rows_read,
            "rows_ingested": self.rows_ingested,
            "rows_already_present": self.rows_already_present,
            "rows_rejected": self.rows_rejected,
            "rejections": [
                {"column": r.column, "reason": r.reason, "count": r.count, "examples": r.examples}
                for r in self.rejections
            ],
            "ignored_columns": list(self.ignored_columns),
            "batches": [
                {
                    "batch_id": b.batch_id,
                    "rows": b.rows,
                    "status": b.status,
                    "path": str(b.path),
                    "already_present": b.already_present,
                }
                for b in self.batches
            ],
            "rejected_path": None if self.rejected_path is None else str(self.rejected_path),
            "report_path": str(self.report_path),
            "ingested_at": self.ingested_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IngestReport:
        """Read back `to_json` (``already_ingested`` is False; the caller sets it)."""
        return cls(
            source=Path(data["source"]),
            sha256=str(data["sha256"]),
            contract_hash=str(data["contract_hash"]),
            rows_read=int(data["rows_read"]),
            rows_ingested=int(data["rows_ingested"]),
            rows_already_present=int(data["rows_already_present"]),
            rows_rejected=int(data["rows_rejected"]),
            rejections=tuple(
                ColumnRejection(
                    column=r["column"],
                    reason=r["reason"],
                    count=int(r["count"]),
                    examples=tuple(r["examples"]),
                )
                for r in data["rejections"]
            ),
            ignored_columns=tuple(data["ignored_columns"]),
            batches=tuple(
                IngestedBatch(
                    batch_id=b["batch_id"],
                    rows=int(b["rows"]),
                    status=b["status"],
                    path=Path(b["path"]),
                    already_present=int(b["already_present"]),
                )
                for b in data["batches"]
            ),
            already_ingested=False,
            rejected_path=None if data["rejected_path"] is None else Path(data["rejected_path"]),
            report_path=Path(data["report_path"]),
            ingested_at=str(data["ingested_at"]),
        )


# --- parsing one column ----------------------------------------------------------------------


def _flags(series: pd.Series, predicate: Callable[[Any], bool]) -> pd.Series:
    """A bool series: `predicate` of each value."""
    return pd.Series([predicate(v) for v in series], index=series.index, dtype=bool)


def _is_blank_text(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _is_nan_text(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "nan"


def _is_blank(series: pd.Series) -> pd.Series:
    """True where a value is missing: NA, or text that is empty or only whitespace."""
    missing = series.isna().astype(bool)
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        missing = missing | _flags(series, _is_blank_text)
    return missing


def _none_where(series: pd.Series, mask: pd.Series) -> pd.Series:
    """An object copy of `series` with None where `mask` holds."""
    out = series.astype(object).copy()
    out[mask] = None
    return out


def _stripped(series: pd.Series, missing: pd.Series) -> pd.Series:
    """Object series of the present values, text stripped of surrounding whitespace."""
    values = _none_where(series, missing)
    return values.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")


def _no_errors(index: pd.Index) -> pd.Series:
    return pd.Series(None, index=index, dtype=object)


def parse_float(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """float64 values, and the reason (or None) per row a value could not be parsed.

    Text ``nan`` (any case) counts as missing; infinities are rejected.
    """
    errors = _no_errors(series.index)
    missing = _is_blank(series)
    if ptypes.is_bool_dtype(series.dtype) or ptypes.is_numeric_dtype(series.dtype):
        values = pd.Series(
            series.to_numpy(dtype="float64", na_value=np.nan), index=series.index, dtype="float64"
        )
    else:
        text = _stripped(series, missing)
        missing = missing | _flags(text, _is_nan_text)
        text = _none_where(text, missing)
        try:
            numbers = pd.to_numeric(text, errors="coerce")
        except (TypeError, ValueError):  # unhashable or exotic objects: one value at a time
            numbers = text.map(_float_or_nan)
        values = pd.Series(numbers, index=series.index).astype("float64")
    errors[~missing & values.isna()] = NOT_A_NUMBER
    errors[~missing & np.isinf(values)] = NOT_FINITE
    return values.where(~np.isinf(values), np.nan), errors


def _float_or_nan(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return math.nan


def _int_value(value: object) -> int | str:
    """The integer a present value holds, or the reason it holds none."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        number = int(value)
    else:
        text = str(value).strip()
        if _INT_TEXT.match(text):
            number = int(text)
        else:
            try:
                real = float(text.replace("_", "!"))  # float() would accept 1_000
            except ValueError:
                return NOT_A_NUMBER
            if not math.isfinite(real):
                return NOT_A_NUMBER if math.isnan(real) else NOT_FINITE
            if not real.is_integer():
                return NOT_WHOLE
            if abs(real) > _MAX_EXACT_FLOAT:  # 1e20 was rounded: its digits are lost
                return OUT_OF_INT64
            number = int(real)
    if not _INT64_MIN <= number <= _INT64_MAX:
        return OUT_OF_INT64
    return number


def parse_int(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Int64 values, and the reason (or None) per row a value could not be parsed.

    Whole floats (``3.0``, as written by an export of an int column with gaps) are accepted;
    ``2.5`` is not. Text ``nan`` counts as missing.
    """
    errors = _no_errors(series.index)
    missing = _is_blank(series)
    if ptypes.is_integer_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype):
        return series.astype("Int64"), errors
    present = series[~missing]
    if ptypes.is_float_dtype(series.dtype):
        floats = present.astype("float64")
        finite = pd.Series(np.isfinite(floats), index=floats.index)
        whole = finite & (floats % 1 == 0) & (floats.abs() <= _MAX_EXACT_FLOAT)
        errors[whole[~whole].index] = NOT_WHOLE
        errors[finite[~finite].index] = NOT_FINITE
        values = pd.Series(pd.NA, index=series.index, dtype="Int64")
        values[whole[whole].index] = floats[whole].astype("int64")
        return values, errors
    parsed = present[~_flags(present, _is_nan_text)].map(_int_value)
    bad = _flags(parsed, lambda v: isinstance(v, str))
    errors[parsed[bad].index] = parsed[bad]
    values = pd.Series(pd.NA, index=series.index, dtype="Int64")
    good = parsed[~bad]
    if len(good):
        values[good.index] = good.astype("Int64")
    return values, errors


def parse_datetime(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Naive-UTC datetime64[ns] values, and the reason (or None) per unparseable row.

    ISO 8601 text with or without an offset (``Z``, ``+02:00``): values with an offset are
    converted to UTC, values without one are taken as UTC. Tz-aware datetimes are converted.
    """
    errors = _no_errors(series.index)
    missing = _is_blank(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        values = series.dt.tz_convert("UTC").dt.tz_localize(None)
    elif ptypes.is_datetime64_dtype(series.dtype):
        values = series
    else:
        text = _stripped(series, missing).map(_datetime_text, na_action="ignore")
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        values = parsed.dt.tz_localize(None)
    values = values.astype("datetime64[ns]")
    errors[~missing & values.isna()] = NOT_A_DATETIME
    return values, errors


def _datetime_text(value: object) -> object:
    """Text of a value for ISO parsing (a date or datetime object keeps its ISO form)."""
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def as_text(value: object) -> str:
    """A present value as category or string text: ``1`` for an int or a whole float."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    return str(value)


def parse_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Python ``str`` values (missing as None) for a category or string column; never fails."""
    missing = _is_blank(series)
    values = _none_where(series, missing).map(as_text, na_action="ignore")
    return _none_where(values, missing), _no_errors(series.index)


def parse_as(series: pd.Series, dtype: DType) -> tuple[pd.Series, pd.Series]:
    """Parse one source column to a contract dtype; (values, reason or None per row)."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # a Parquet dictionary column
        series = series.astype(object)
    if dtype == "float":
        return parse_float(series)
    if dtype == "int":
        return parse_int(series)
    if dtype == "datetime":
        return parse_datetime(series)
    return parse_text(series)


def parse_column(series: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """Parse one source column as its contract spec says; (values, reason or None per row)."""
    return parse_as(series, spec.dtype)


# --- parsing rows ----------------------------------------------------------------------------


def _canonical(value: object) -> object:
    """A JSON-ready, type-stable form of a parsed value (for ids and row comparison)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, pd.Timestamp | dt.datetime | np.datetime64):
        return pd.Timestamp(value).isoformat()
    return str(value)


def row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One canonical JSON text per row of the given columns (a missing column counts as null)."""
    parts = [
        frame[c] if c in frame.columns else pd.Series(None, index=frame.index) for c in columns
    ]
    return (
        [
            json.dumps([_canonical(v) for v in row], separators=(",", ":"))
            for row in zip(*parts, strict=True)
        ]
        if parts
        else ["[]"] * len(frame)
    )


def make_ids(frame: pd.DataFrame, contract: DatasetContract, positions: Sequence[int]) -> list[Any]:
    """Stable row ids: a hash of each row's parsed values and its position in its source file.

    The same file gives the same ids (whether CSV or Parquet, alone or in a folder); two equal
    rows at different positions get different ids. 16 hex characters for a string id column, a
    non-negative int64 for an int id column.
    """
    columns = [c for c in contract.columns if c != contract.id_column]
    ids: list[Any] = []
    for position, key in zip(positions, row_keys(frame, columns), strict=True):
        digest = hashlib.sha256(f"{position}:{key}".encode()).hexdigest()
        ids.append(digest[:_ID_CHARS])
    if contract.columns[contract.id_column].dtype == "int":
        return [int(i[:15], 16) for i in ids]
    return ids


def _free_name(name: str, taken: Iterable[str]) -> str:
    used = set(taken)
    while name in used:
        name = f"_{name}"
    return name


def _shown(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return as_text(value)


def parse_rows(
    frame: pd.DataFrame, contract: DatasetContract, *, source_name: str = ""
) -> ParsedRows:
    """Parse a source frame against the contract; set aside the rows that do not parse.

    Args:
        frame: The source as read (CSV: every cell as text; Parquet: as stored).
        contract: The dataset contract.
        source_name: The file's name, recorded with each row's origin and in errors.

    Raises:
        IngestError: a contract column is missing from the source (the id column may be
            missing when the contract says ``id_generated``; the ids are then made here).
    """
    source = frame.reset_index(drop=True)
    source.columns = [str(c) for c in source.columns]
    generate_ids = contract.id_generated and contract.id_column not in source.columns
    needed = [c for c in contract.columns if not (generate_ids and c == contract.id_column)]
    missing = [c for c in needed if c not in source.columns]
    if missing:
        where = source_name or "the source"
        raise IngestError(
            f"{where} lacks contract column(s) {missing} (it has {list(source.columns)}); "
            "rename the source's columns or fix the contract"
        )
    ignored = tuple(c for c in source.columns if c not in contract.columns)

    values: dict[str, pd.Series] = {}
    errors: dict[str, pd.Series] = {}
    for name in needed:
        values[name], errors[name] = parse_column(source[name], contract.columns[name])
    event = contract.event_time_column
    no_time = values[event].isna() & errors[event].isna()
    errors[event] = errors[event].where(~no_time, NO_EVENT_TIME)

    bad = pd.Series(False, index=source.index)
    for reasons in errors.values():
        bad |= reasons.notna()
    good = pd.DataFrame({name: series[~bad] for name, series in values.items()})
    positions = source.index[~bad]
    if generate_ids:
        good[contract.id_column] = make_ids(good, contract, list(positions))
    good = good.loc[:, contract.column_names]
    origin = pd.DataFrame(
        {SOURCE_FILE_COLUMN: source_name, SOURCE_ROW_COLUMN: positions + 1}, index=good.index
    )
    rejected, rejections = _rejected_rows(source, errors, bad, source_name)
    return ParsedRows(
        frame=good,
        origin=origin,
        rejected=rejected,
        rejections=rejections,
        ignored_columns=ignored,
        rows_read=len(source),
    )


def _reason_text(column: str, reason: str, value: str) -> str:
    return f"{column}: {reason} ({value!r})" if value else f"{column}: {reason}"


def _rejected_rows(
    source: pd.DataFrame, errors: Mapping[str, pd.Series], bad: pd.Series, source_name: str
) -> tuple[pd.DataFrame, tuple[ColumnRejection, ...]]:
    """The rejected rows with origin and reason, and the per-column counts and examples."""
    rejections: list[ColumnRejection] = []
    reasons = pd.Series("", index=source.index[bad], dtype=object)
    for column, column_errors in errors.items():
        failed = column_errors[column_errors.notna()]
        if failed.empty:
            continue
        shown = source.loc[failed.index, column].map(_shown)
        reasons[failed.index] = pd.Series(
            [
                "; ".join(filter(None, [prior, _reason_text(column, reason, text)]))
                for prior, reason, text in zip(reasons[failed.index], failed, shown, strict=True)
            ],
            index=failed.index,
            dtype=object,
        )
        for reason, group in failed.groupby(failed, sort=False):
            examples = tuple(dict.fromkeys(shown[group.index]))[:_EXAMPLES]
            rejections.append(ColumnRejection(column, str(reason), len(group), examples))
    rejected = source[bad].copy()
    names = list(rejected.columns)
    file_col = _free_name(SOURCE_FILE_COLUMN, names)
    row_col = _free_name(SOURCE_ROW_COLUMN, [*names, file_col])
    reason_col = _free_name(REASON_COLUMN, [*names, file_col, row_col])
    rejected.insert(0, row_col, rejected.index + 1)
    rejected.insert(0, file_col, source_name)
    rejected[reason_col] = reasons
    return rejected, tuple(rejections)


def merge_parsed(parts: Sequence[ParsedRows]) -> ParsedRows:
    """One `ParsedRows` from those of several files, in order (rows renumbered from 0)."""
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    origin = pd.concat([p.origin for p in parts], ignore_index=True)
    rejected_parts = [p.rejected for p in parts if len(p.rejected)]
    rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else parts[0].rejected
    return ParsedRows(
        frame=frame,
        origin=origin,
        rejected=rejected,
        rejections=_merge_rejections([r for p in parts for r in p.rejections]),
        ignored_columns=tuple(dict.fromkeys(c for p in parts for c in p.ignored_columns)),
        rows_read=sum(p.rows_read for p in parts),
    )


def _merge_rejections(rejections: Iterable[ColumnRejection]) -> tuple[ColumnRejection, ...]:
    merged: dict[tuple[str, str], ColumnRejection] = {}
    for item in rejections:
        key = (item.column, item.reason)
        if key in merged:
            old = merged[key]
            examples = tuple(dict.fromkeys([*old.examples, *item.examples]))[:_EXAMPLES]
            merged[key] = replace(old, count=old.count + item.count, examples=examples)
        else:
            merged[key] = item
    return tuple(merged.values())


# --- days ------------------------------------------------------------------------------------


def normalise_dtypes(frame: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """Contract columns in contract order, each in the dtype the validation gate expects.

    An int column is int64 when it has no missing value, else Int64, so a day's batch is the
    same whatever other days the source held.
    """
    out = {}
    for name, spec in contract.columns.items():
        column = frame[name]
        if spec.dtype == "int":
            column = column.astype("Int64")
            if not column.isna().any():
                column = column.astype("int64")
        elif spec.dtype == "float":
            column = column.astype("float64")
        elif spec.dtype == "datetime":
            column = column.astype("datetime64[ns]")
        else:
            column = _none_where(column, column.isna())
        out[name] = column
    return pd.DataFrame(out, index=frame.index)


def split_by_day(
    frame: pd.DataFrame, contract: DatasetContract
) -> list[tuple[dt.date, pd.DataFrame]]:
    """One frame per UTC day of event time, oldest first; each sorted by event time.

    Rows with the same event time keep their source order. Each day keeps the index of its rows
    in `frame` (so a caller can find their origin).
    """
    event = contract.event_time_column
    ordered = frame.sort_values(event, kind="mergesort")
    days = ordered[event].dt.date
    return [
        (day, normalise_dtypes(group, contract)) for day, group in ordered.groupby(days, sort=True)
    ]


def plan_day(
    day: dt.date,
    rows: pd.DataFrame,
    existing: Mapping[str, pd.DataFrame | None],
    contract: DatasetContract,
) -> DayPlan:
    """Which of a day's rows to write, given that day's existing raw batches (by batch id).

    A row whose id an existing batch holds with the same values is already ingested and is not
    written again (so re-exporting a table with a few new rows adds only those). A row whose id
    an existing batch holds with other values is a conflict: it is rejected, never written
    beside the first one. An unreadable existing batch (None) is compared with nothing.
    """
    id_column = contract.id_column
    columns = contract.column_names
    new_ids = rows[id_column].map(_canonical)
    already = pd.Series(False, index=rows.index)
    conflict = pd.Series(None, index=rows.index, dtype=object)
    present_in: str | None = None
    for batch_id in sorted(existing):
        old = existing[batch_id]
        if old is None or id_column not in old.columns:
            continue
        old_ids = old[id_column].map(_canonical)
        hits = old[old_ids.isin(set(new_ids))]
        if hits.empty:
            continue
        old_keys = dict(zip(old_ids[hits.index], row_keys(hits, columns), strict=True))
        open_rows = ~already & conflict.isna() & new_ids.isin(set(old_keys))
        candidates = rows[open_rows]
        for index, key in zip(candidates.index, row_keys(candidates, columns), strict=True):
            if old_keys[new_ids[index]] == key:
                already[index] = True
                present_in = present_in or batch_id
            else:
                conflict[index] = ID_CONFLICT.format(batch=batch_id)
    conflicts = rows[conflict.notna()].copy()
    conflicts[REASON_COLUMN] = conflict[conflict.notna()]
    return DayPlan(
        day=day,
        rows=rows[~already & conflict.isna()],
        already_present=int(already.sum()),
        present_in=present_in,
        conflicts=conflicts,
    )


def rejection_message(
    rows_rejected: int,
    rows_read: int,
    rejections: Sequence[ColumnRejection],
    rejected_path: Path,
    *,
    none_good: bool = False,
) -> str:
    """The one-line error of an ingest that rejected rows (`none_good`: every row was)."""
    conflicts = any(r.reason.startswith(_ID_CONFLICT_HEAD) for r in rejections)
    verb = "ingested" if conflicts else "parsed"
    what = "; ".join(r.text() for r in rejections)
    head = (
        f"none of the {rows_read} rows could be {verb}"
        if none_good
        else f"{rows_rejected} of {rows_read} rows could not be {verb}"
    )
    tail = (
        "fix them and ingest again"
        if none_good
        else "fix them, or rerun with --skip-bad-rows to ingest the other rows"
    )
    return f"{head} ({what}); the rejected rows are in {rejected_path}: {tail}"


# --- adapters: reading the source ------------------------------------------------------------


def source_files(source: Path) -> list[Path]:
    """The file itself, or a folder's CSV and Parquet files in name order (hidden ones skipped).

    Raises:
        IngestError: the path does not exist, is not a CSV or Parquet file, or is a folder
            without any.
    """
    if source.is_dir():
        files = sorted(
            p
            for p in source.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SOURCE_FORMATS
        )
        if not files:
            raise IngestError(
                f"folder {source} holds no CSV or Parquet file ({', '.join(SOURCE_FORMATS)})"
            )
        return files
    if not source.is_file():
        raise IngestError(f"{source} does not exist")
    if source.suffix.lower() not in SOURCE_FORMATS:
        raise IngestError(
            f"{source} is not a CSV or Parquet file: its name must end with "
            f"{', '.join(SOURCE_FORMATS)}"
        )
    return [source]


def read_source_file(path: Path) -> pd.DataFrame:
    """A CSV with every cell as text (empty for a missing value), or a Parquet file as stored.

    Raises:
        IngestError: the file cannot be read as its suffix says.
    """
    kind = SOURCE_FORMATS.get(path.suffix.lower())
    try:
        if kind == "csv":
            return pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
            )
        if kind == "parquet":
            return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise IngestError(f"{path} is empty: a CSV needs at least a header line") from None
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise IngestError(
            f"cannot read {path} as {kind}: {type(exc).__name__}: {exc}".replace("\n", " ")
        ) from None
    raise IngestError(f"{path} is not a CSV or Parquet file")


def source_sha256(files: Sequence[Path]) -> str:
    """SHA-256 of the files' bytes, concatenated in the order given."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def existing_batches(raw_dir: Path, day: dt.date) -> dict[str, pd.DataFrame | None]:
    """A day's raw batches (``YYYY-MM-DD[.suffix].parquet``) by batch id; None if unreadable."""
    found: dict[str, pd.DataFrame | None] = {}
    if not raw_dir.is_dir():
        return found
    for path in sorted(raw_dir.glob(f"{day.isoformat()}*.parquet")):
        match = _BATCH_FILE.match(path.name)
        if match is None or match.group(1) != day.isoformat():
            continue
        batch_id = path.name.removesuffix(".parquet")
        try:
            found[batch_id] = pd.read_parquet(path)
        except (OSError, ValueError, pa.ArrowException):
            found[batch_id] = None
    return found


# --- adapters: writing -----------------------------------------------------------------------


def _replace_atomically(path: Path, payload: bytes) -> None:
    """Write or replace a record file (report, rejected rows) so a reader sees all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_day(raw_dir: Path, day: dt.date, rows: pd.DataFrame) -> tuple[str, Path, bool]:
    """Write a day's rows as a new raw batch; (batch id, path, True if a file was written).

    ``YYYY-MM-DD.parquet`` when the name is free, else ``YYYY-MM-DD.<first 8 hex of the
    payload's sha256>.parquet``; a file of that name with the same bytes is the same batch.
    An existing file is never replaced.

    Raises:
        IngestError: every candidate name holds other bytes (a hash collision).
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    payload = parquet_bytes(rows.reset_index(drop=True))
    digest = hashlib.sha256(payload).hexdigest()
    stem = day.isoformat()
    for batch_id in (stem, f"{stem}.{digest[:8]}", f"{stem}.{digest[:16]}"):
        path = raw_dir / f"{batch_id}.parquet"
        if write_new_file(path, payload):
            return batch_id, path, True
        if batch_id != stem and path.read_bytes() == payload:
            return batch_id, path, False
    raise IngestError(f"cannot name the new batch of {stem}: {raw_dir} holds other files there")


# --- the ingest ------------------------------------------------------------------------------


def _previous_ingest(report_path: Path, contract_hash: str) -> IngestReport | None:
    """The earlier ingest of the same content with the same contract, if its batches remain."""
    try:
        data = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("status") != "ingested" or data.get("contract_hash") != contract_hash:
        return None
    try:
        report = IngestReport.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None
    if not all(b.path.is_file() for b in report.batches):
        return None  # a batch was removed since: ingest again
    return report


def _conflict_rows(plans: Sequence[DayPlan], origin: pd.DataFrame) -> pd.DataFrame:
    """Conflicting rows (their parsed values) with their origin, ready for the rejected file."""
    parts = []
    for plan in plans:
        if len(plan.conflicts):
            rows = plan.conflicts.astype(object)
            parts.append(pd.concat([origin.loc[rows.index], rows], axis=1))
    return pd.concat(parts) if parts else pd.DataFrame()


def _conflict_rejections(
    plans: Sequence[DayPlan], contract: DatasetContract
) -> list[ColumnRejection]:
    found = []
    for plan in plans:
        conflicts = plan.conflicts
        for reason, group in conflicts.groupby(REASON_COLUMN, sort=False):
            ids = tuple(dict.fromkeys(group[contract.id_column].map(_shown)))[:_EXAMPLES]
            found.append(ColumnRejection(contract.id_column, str(reason), len(group), ids))
    return found


def parse_files(files: Sequence[Path], contract: DatasetContract) -> ParsedRows:
    """Read and parse source files (see `source_files`) against the contract, in order."""
    return merge_parsed(
        [parse_rows(read_source_file(f), contract, source_name=f.name) for f in files]
    )


def ingest(
    source: Path,
    contract: DatasetContract,
    raw_dir: Path,
    ingest_dir: Path,
    *,
    skip_bad_rows: bool = False,
    now: dt.datetime | None = None,
) -> IngestReport:
    """Parse a CSV or Parquet file (or a folder of them) and write one raw batch per day.

    Rows are parsed against the contract (`parse_rows`), split by UTC day of event time and
    written to `raw_dir` as immutable Parquet batches where `lifecycle validate` picks them up.
    What happened is stored in ``<ingest_dir>/<sha256[:16]>/report.json``, beside
    ``rejected.csv`` when rows were rejected.

    All or nothing by default: if any row is rejected, no batch is written, and the error says
    how many rows, why per column, and where they were saved. With `skip_bad_rows` the other
    rows are ingested and the rejected ones still saved and counted. Ingesting the same content
    again with the same contract changes nothing and returns the earlier report
    (``already_ingested``). Existing batches are never changed: a day that already has a batch
    with other rows gets ``YYYY-MM-DD.<hash>.parquet``, and rows already in a batch of their day
    are not written twice.

    Args:
        source: A ``.csv``/``.parquet`` file, or a folder of them (read in name order).
        contract: The dataset contract.
        raw_dir: The raw batch folder.
        ingest_dir: Where each source's report and rejected rows are kept.
        skip_bad_rows: Ingest the rows that parse even if others do not.
        now: The run's clock, for ``ingested_at`` (default: the current UTC time).

    Raises:
        IngestError: the source cannot be read, lacks contract columns, holds no rows, or holds
            rows that cannot be parsed (unless `skip_bad_rows`, and some rows are good).
    """
    files = source_files(source)
    sha256 = source_sha256(files)
    record = ingest_dir / sha256[:16]
    report_path = record / REPORT_FILE
    contract_hash = contract.content_hash()
    previous = _previous_ingest(report_path, contract_hash)
    if previous is not None:
        return replace(previous, source=source, already_ingested=True)

    parsed = parse_files(files, contract)
    if parsed.rows_read == 0:
        raise IngestError(f"{source} holds no rows")
    plans = [
        plan_day(day, rows, existing_batches(raw_dir, day), contract)
        for day, rows in split_by_day(parsed.frame, contract)
    ]
    conflicts = _conflict_rows(plans, parsed.origin)
    rejected = pd.concat([f for f in (parsed.rejected, conflicts) if len(f)] or [parsed.rejected])
    rejections = _merge_rejections([*parsed.rejections, *_conflict_rejections(plans, contract)])
    rejected_path = record / REJECTED_FILE if len(rejected) else None
    ingested_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    report = IngestReport(
        source=source,
        sha256=sha256,
        contract_hash=contract_hash,
        rows_read=parsed.rows_read,
        rows_ingested=0,
        rows_already_present=0,
        rows_rejected=len(rejected),
        rejections=rejections,
        ignored_columns=parsed.ignored_columns,
        batches=(),
        already_ingested=False,
        rejected_path=rejected_path,
        report_path=report_path,
        ingested_at=ingested_at,
    )
    if rejected_path is not None:
        _replace_atomically(rejected_path, rejected.to_csv(index=False).encode())
        nothing_good = len(rejected) == parsed.rows_read
        if nothing_good or not skip_bad_rows:
            _store(report, "rejected")
            raise IngestError(
                rejection_message(
                    len(rejected),
                    parsed.rows_read,
                    rejections,
                    rejected_path,
                    none_good=nothing_good,
                )
            )
    batches = [_write_plan(raw_dir, plan) for plan in plans]
    report = replace(
        report,
        rows_ingested=sum(b.rows - b.already_present for b in batches),
        rows_already_present=sum(b.already_present for b in batches),
        batches=tuple(batches),
    )
    _store(report, "ingested")
    return report


def _write_plan(raw_dir: Path, plan: DayPlan) -> IngestedBatch:
    """Write a day's new rows, if any; the batch that holds the day's rows."""
    total = len(plan.rows) + plan.already_present
    if len(plan.rows):
        batch_id, path, written = write_day(raw_dir, plan.day, plan.rows)
        if written:
            return IngestedBatch(batch_id, total, "written", path, plan.already_present)
        return IngestedBatch(batch_id, total, "unchanged", path, total)
    batch_id = plan.present_in or plan.day.isoformat()
    return IngestedBatch(batch_id, total, "unchanged", raw_dir / f"{batch_id}.parquet", total)


def _store(report: IngestReport, status: Literal["ingested", "rejected"]) -> None:
    """Write ``report.json`` (last, so a stored "ingested" report means every batch is there)."""
    record = {"status": status, **report.to_json()}
    _replace_atomically(report.report_path, (json.dumps(record, indent=2) + "\n").encode())
