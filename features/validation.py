"""The validation gate: check a batch against the contract's suite, then file raw batches.

Core: `BatchValidator` (one Great Expectations context and suite, reused across batches) and
`validate_frame` turn a DataFrame into a `ValidationOutcome`: success, the failed expectations
with a readable reason and the failure each guards against, counts, and the full result as JSON.
A schema break is a failed outcome, never an exception.

Adapter: `validate_pending_batches` checks every raw ``<batch_id>.parquet`` not yet checked, in
date order (a batch id is ``YYYY-MM-DD``, or ``YYYY-MM-DD.<suffix>`` for a further batch of an
already-filled day, see `is_batch_id`). A passing batch is copied to the validated folder; a
failing one (unreadable or mis-named files included) goes to ``quarantine/<batch>/`` with a
copy of the batch, ``validation.json`` and the Data Docs page of that validation run. Every
run, passing or not, is also kept in the Great Expectations file context (results and Data Docs
site). Raw files are only ever read; files that are not ``*.parquet`` are never batches
(`stray_files` lists them so that a caller can say so).

Beyond the suite, the gate checks what only it can see: every event time lies on the batch's
date (within the contract's ``event_time_tolerance``) and none, nor any label-available time,
lies after the run's "now" (`time_failures`); and no batch is accepted twice, under another name
or with ids already accepted (`AcceptedIndex`, kept under ``<validated>/.index/``).
"""

from __future__ import annotations

import datetime
import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse
from urllib.request import url2pathname

import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.abstract_data_context import (
    AbstractDataContext,
)
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ValidationResultIdentifier,
)

from features.contract import DatasetContract, format_duration
from features.data_docs import offline_docs_sites, offline_page
from features.expectations import GUARD_META_KEY, build_suite

#: Name of the validation result file in a quarantine folder.
VALIDATION_FILE: Final = "validation.json"
#: Name of the Data Docs page copied into a quarantine folder.
DATA_DOCS_FILE: Final = "data_docs.html"

_log = logging.getLogger(__name__)

_READ_FAILURE: Final = "read_parquet"
_NAME_FAILURE: Final = "batch_file_name"
_CRASH_FAILURE: Final = "run_validation"
#: Failure types of the gate's own checks (beside the suite's expectation types).
EVENT_TIME_OUTSIDE_DATE: Final = "event_time_outside_batch_date"
EVENT_TIME_AFTER_NOW: Final = "event_time_after_now"
LABEL_TIME_AFTER_NOW: Final = "label_available_time_after_now"
DUPLICATE_BATCH: Final = "duplicate_batch"
IDS_ALREADY_ACCEPTED: Final = "ids_already_accepted"
#: Folder, inside the validated folder, of the index of accepted batches.
INDEX_DIR: Final = ".index"

Clock = Callable[[], datetime.datetime]


class ValidationInputError(ValueError):
    """The gate was called with something it cannot check; the message says what to fix."""


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation a batch did not meet.

    Attributes:
        expectation_type: The Great Expectations type, e.g. ``expect_column_median_to_be_between``
            (or ``read_parquet``, ``batch_file_name`` or ``run_validation`` when the file never
            reached or never finished validation).
        column: The column checked, the first of a column pair, or None for table-level checks.
        reason: What was expected and what was observed, e.g. ``expected median of price in
            [5, 500]; observed 4112``.
        guards_against: The expectation's notes: the real-world failure it exists to catch.
    """

    expectation_type: str
    column: str | None
    reason: str
    guards_against: str


@dataclass(frozen=True)
class ValidationStatistics:
    """How many expectations ran, passed and failed."""

    evaluated: int
    successful: int
    unsuccessful: int


@dataclass(frozen=True)
class ValidationOutcome:
    """The verdict on one batch.

    Attributes:
        success: True if every expectation passed.
        failures: The expectations that did not; table-level checks (columns, row count) first.
        statistics: Counts of evaluated, successful and unsuccessful expectations of the suite
            (the gate's own checks, such as time sanity, are not counted, only listed).
        result_json: The full Great Expectations result, JSON-serialisable (empty when the batch
            never reached validation).
    """

    success: bool
    failures: list[FailedExpectation]
    statistics: ValidationStatistics
    result_json: dict[str, Any]

    def failed(self, expectation_type: str, column: str | None = None) -> bool:
        """True if an expectation of this type (on this column, if given) failed."""
        return any(
            f.expectation_type == expectation_type and (column is None or f.column == column)
            for f in self.failures
        )

    def summary(self) -> str:
        """One line for logs and progress displays."""
        s = self.statistics
        if self.success:
            return f"passed {s.successful}/{s.evaluated} expectations"
        first = self.failures[0] if self.failures else None
        head = f"; first: {first.expectation_type} ({first.reason})" if first else ""
        return f"failed {len(self.failures)} of {s.evaluated} expectations{head}"


# --- reading a Great Expectations result ---------------------------------------------------


def _fmt(value: Any) -> str:
    """Short human-readable rendering of an observed value."""
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        shown = ", ".join(_fmt(v) for v in value[:5])
        more = ", …" if len(value) > 5 else ""
        return f"[{shown}{more}]"
    return str(value)


def _value(value: Any) -> str:
    """A value as written in a condition: text quoted, numbers as they are."""
    return repr(value) if isinstance(value, str) else _fmt(value)


def _percent(share: float) -> str:
    """A share in [0, 1] as a percentage with three significant digits, e.g. ``2.47%``."""
    return f"{share * 100:.3g}%"


def _bounds(kwargs: Mapping[str, Any]) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return f"[{'-inf' if low is None else _fmt(low)}, {'inf' if high is None else _fmt(high)}]"


def _share_bounds(low: float | None, high: float | None) -> str:
    return f"[{_percent(low or 0.0)}, {_percent(1.0 if high is None else high)}]"


def _condition_text(condition: Any) -> str:
    if isinstance(condition, Mapping) and condition.get("type") == "comparison":
        column = condition.get("column", {})
        name = column.get("name") if isinstance(column, Mapping) else column
        return f" where {name} {condition.get('operator')} {_value(condition.get('parameter'))}"
    return f" where {condition}" if condition else ""


def _mostly_text(kwargs: Mapping[str, Any]) -> str:
    mostly = kwargs.get("mostly")
    if mostly is None or float(mostly) >= 1.0:
        return ""
    return f" in at least {_percent(float(mostly))} of the non-missing rows"


def _expected_text(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    column = kwargs.get("column")
    texts = {
        "expect_table_columns_to_match_set": (
            f"exactly the contract's {len(kwargs.get('column_set') or [])} columns"
        ),
        "expect_column_values_to_be_in_type_list": f"a dtype in {kwargs.get('type_list')}",
        "expect_column_values_to_not_be_null": "no missing values",
        "expect_column_values_to_be_null": "only missing values",
        "expect_column_values_to_be_between": f"values in {_bounds(kwargs)}",
        "expect_column_values_to_be_in_set": f"values in {_fmt(kwargs.get('value_set'))}",
        "expect_column_values_to_not_be_in_set": f"no values in {_fmt(kwargs.get('value_set'))}",
        "expect_column_values_to_be_unique": "unique values",
        "expect_column_pair_values_a_to_be_greater_than_b": (
            f"{kwargs.get('column_A')} {'>=' if kwargs.get('or_equal') else '>'} "
            f"{kwargs.get('column_B')}"
            + (
                " where both are present"
                if kwargs.get("ignore_row_if") == "either_value_is_missing"
                else ""
            )
        ),
        "expect_table_row_count_to_be_between": f"a row count in {_bounds(kwargs)}",
        "expect_column_mean_to_be_between": f"mean of {column} in {_bounds(kwargs)}",
        "expect_column_median_to_be_between": f"median of {column} in {_bounds(kwargs)}",
        "expect_column_proportion_of_non_null_values_to_be_between": (
            f"non-null share of {column} in {_bounds(kwargs)}"
        ),
    }
    text = texts.get(expectation_type, f"{expectation_type} to hold")
    return text + _mostly_text(kwargs) + _condition_text(kwargs.get("row_condition"))


def _observed_text(result: Mapping[str, Any], kwargs: Mapping[str, Any]) -> str:
    mismatched = (result.get("details") or {}).get("mismatched")
    if isinstance(mismatched, Mapping):
        missing = list(mismatched.get("missing") or [])
        unexpected = list(mismatched.get("unexpected") or [])
        return f"missing columns: {missing or 'none'}; unexpected columns: {unexpected or 'none'}"
    if result.get("unexpected_count") is not None:
        count = int(result["unexpected_count"])
        # Rows with a missing value are not checked (and not in unexpected_percent either).
        gaps = int(result.get("missing_count") or 0)
        checked = int(result.get("element_count") or 0) - gaps
        examples = result.get("partial_unexpected_list") or []
        percent = result.get("unexpected_percent")
        share = f" ({float(percent):.2f} %)" if checked and percent is not None else ""
        example_text = f", e.g. {_fmt(list(examples))}" if examples else ""
        conditional = kwargs.get("row_condition") is not None
        rows = f"{checked} {'non-missing ' if gaps else ''}{'such ' if conditional else ''}rows"
        if _mostly_text(kwargs) and percent is not None:
            matching = _percent(1.0 - float(percent) / 100)
            return f"observed {matching} ({count} of {rows} do not match{example_text})"
        return f"{count} of {rows} violate it{share}{example_text}"
    if "observed_value" in result:
        return f"observed {_fmt(result['observed_value'])}"
    return "no observed value reported"


def _guard_text(
    expectation_type: str, meta: Mapping[str, Any], result: Mapping[str, Any]
) -> str | None:
    """The reason of a failed share guard, in the contract's own terms; None for other checks.

    A label-rate guard is checked as "in {positive}" or "not in {positive}" with ``mostly``
    and a null-share guard as a non-null share; both are reported as the share the contract
    bounds (positives among labelled rows, missing values), e.g. ``expected the share of
    label == 'yes' in [10%, 40%]; observed 62.5%``.
    """
    kind = meta.get(GUARD_META_KEY)
    low, high = meta.get("min"), meta.get("max")
    if kind == "label_rate" and result.get("unexpected_percent") is not None:
        unexpected = float(result["unexpected_percent"]) / 100
        # The lower-bound check counts non-positives as unexpected, the upper one positives.
        in_set = expectation_type == "expect_column_values_to_be_in_set"
        observed = 1.0 - unexpected if in_set else unexpected
        what = f"the share of {meta.get('column')} == {_value(meta.get('positive'))}"
        return f"expected {what} in {_share_bounds(low, high)}; observed {_percent(observed)}"
    if kind == "null_share" and isinstance(result.get("observed_value"), int | float):
        observed = 1.0 - float(result["observed_value"])
        what = f"the share of missing {meta.get('column')}"
        return f"expected {what} in {_share_bounds(low, high)}; observed {_percent(observed)}"
    return None


def _exception_messages(info: Mapping[str, Any] | None) -> list[str]:
    """Messages of the exceptions that stopped an expectation from being evaluated."""
    if not info:
        return []
    entries = [info] if "raised_exception" in info else list(info.values())
    messages: list[str] = []
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "unknown error")
            message = message.removeprefix("Error: ").strip()
            if message not in messages:
                messages.append(message)
    return messages


def _notes_text(notes: str | list[str] | None) -> str:
    if notes is None:
        return ""
    return notes if isinstance(notes, str) else " ".join(notes)


def describe_failure(
    result: ExpectationValidationResult, batch_columns: Collection[str] | None = None
) -> FailedExpectation:
    """Turn one failed Great Expectations result into a `FailedExpectation`.

    Args:
        result: The failed result.
        batch_columns: The batch's columns, if known: an expectation on a column the batch
            lacks then says so plainly instead of quoting the engine's error.
    """
    config = result.expectation_config
    if config is None:  # not produced by a suite run; keep what is known
        return FailedExpectation("unknown", None, "no expectation configuration", "")
    kwargs: Mapping[str, Any] = config.kwargs
    column = kwargs.get("column") or kwargs.get("column_A")
    errors = _exception_messages(result.exception_info)
    expected = _expected_text(config.type, kwargs)
    checked = [kwargs.get(k) for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    absent = [c for c in checked if batch_columns is not None and c not in batch_columns]
    if absent:
        names = ", ".join(f"'{c}'" for c in absent)
        noun = "column" if len(absent) == 1 else "columns"
        verb = "is" if len(absent) == 1 else "are"
        reason = f"expected {expected}; {noun} {names} {verb} missing from the batch"
    elif errors:
        reason = f"expected {expected}; could not be evaluated: {'; '.join(errors)}"
    else:
        observed = result.result or {}
        reason = _guard_text(config.type, config.meta or {}, observed) or (
            f"expected {expected}; {_observed_text(observed, kwargs)}"
        )
    return FailedExpectation(
        expectation_type=config.type,
        column=str(column) if column is not None else None,
        reason=reason,
        guards_against=_notes_text(config.notes),
    )


def outcome_from_result(
    result: ExpectationSuiteValidationResult, batch_columns: Collection[str] | None = None
) -> ValidationOutcome:
    """Summarise a suite result: verdict, failures (table-level first), counts and full JSON.

    Args:
        result: The suite result.
        batch_columns: The batch's columns, if known (see `describe_failure`).
    """
    failures = [describe_failure(r, batch_columns) for r in result.results if not r.success]
    failures.sort(key=lambda f: not f.expectation_type.startswith("expect_table_"))
    stats = result.statistics
    raw_json = result.to_json_dict()  # type: ignore[no-untyped-call]  # unannotated in GX
    result_json: dict[str, Any] = json.loads(json.dumps(raw_json, default=str))
    return ValidationOutcome(
        success=bool(result.success),
        failures=failures,
        statistics=ValidationStatistics(
            evaluated=int(stats.get("evaluated_expectations", 0)),
            successful=int(stats.get("successful_expectations", 0)),
            unsuccessful=int(stats.get("unsuccessful_expectations", 0)),
        ),
        result_json=result_json,
    )


def _not_validated(expectation_type: str, reason: str, guards_against: str) -> ValidationOutcome:
    """A failed outcome for a batch that never reached the suite."""
    return ValidationOutcome(
        success=False,
        failures=[FailedExpectation(expectation_type, None, reason, guards_against)],
        statistics=ValidationStatistics(evaluated=0, successful=0, unsuccessful=0),
        result_json={},
    )


# --- the core: validate a frame ------------------------------------------------------------


class BatchValidator:
    """The contract's suite, registered once in a Great Expectations context, run per batch.

    Registering the datasource, suite, validation definition and checkpoint costs about as much
    as one validation, so build one validator and call `validate` for each batch. Re-registering in
    a file context that already holds them (a rerun) updates them in place.

    Args:
        contract: The dataset contract the suite is derived from.
        context: A Great Expectations context; an ephemeral (in-memory) one when None.
    """

    def __init__(
        self, contract: DatasetContract, context: AbstractDataContext | None = None
    ) -> None:
        self.contract = contract
        self.context = context if context is not None else gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        datasource = self.context.data_sources.add_or_update_pandas(name=f"{contract.name}_batches")
        asset = datasource.add_dataframe_asset(name="daily_batch")
        batch_definition = asset.add_batch_definition_whole_dataframe("whole_batch")
        self.suite = self.context.suites.add_or_update(build_suite(contract))
        validation = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(
                name=f"{contract.name}_gate", data=batch_definition, suite=self.suite
            )
        )
        self._checkpoint = self.context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"{contract.name}_gate",
                validation_definitions=[validation],
                actions=[],
                result_format="BASIC",
            )
        )

    def validate(self, frame: pd.DataFrame, *, run_name: str | None = None) -> ValidationOutcome:
        """Run the suite on one batch; a schema break is a failed outcome, not an exception.

        Args:
            frame: The batch, as read from its Parquet file.
            run_name: Names the run in the result store and Data Docs (the batch id, usually).

        Raises:
            ValidationInputError: `frame` is not a pandas DataFrame.
        """
        outcome, _ = self.run(frame, run_name=run_name)
        return outcome

    def run(
        self, frame: pd.DataFrame, *, run_name: str | None = None
    ) -> tuple[ValidationOutcome, ValidationResultIdentifier]:
        """Like `validate`, also returning the key of the stored result (for Data Docs)."""
        if not isinstance(frame, pd.DataFrame):
            raise ValidationInputError(
                f"expected a pandas DataFrame to validate, got {type(frame).__name__}"
            )
        run_id = RunIdentifier(
            run_name=run_name or "batch", run_time=datetime.datetime.now(datetime.UTC)
        )
        checkpoint_result = self._checkpoint.run(
            batch_parameters={"dataframe": frame}, run_id=run_id
        )
        ((identifier, suite_result),) = checkpoint_result.run_results.items()
        return outcome_from_result(suite_result, [str(c) for c in frame.columns]), identifier


def validate_frame(
    frame: pd.DataFrame,
    contract: DatasetContract,
    *,
    context: AbstractDataContext | None = None,
) -> ValidationOutcome:
    """Validate one batch against the contract's suite.

    Convenient for a single frame; for many batches build one `BatchValidator` and reuse it,
    which skips re-registering the suite each time.

    Raises:
        ValidationInputError: `frame` is not a pandas DataFrame.
    """
    return BatchValidator(contract, context).validate(frame)


# --- the adapter: raw batch files ----------------------------------------------------------


@dataclass(frozen=True)
class BatchOutcome:
    """What the gate did with one raw batch file.

    Attributes:
        batch_id: The file stem: ``YYYY-MM-DD`` or ``YYYY-MM-DD.<suffix>``.
        success: True if the batch passed and was copied to the validated folder.
        destination: The validated copy, or the batch's quarantine folder.
        failures: Why it was quarantined (empty on success).
        sha256: SHA-256 of the raw file's bytes (the copy has the same bytes).
        raw_path: The raw file, which the gate never changes.
    """

    batch_id: str
    success: bool
    destination: Path
    failures: list[FailedExpectation]
    sha256: str
    raw_path: Path


ProgressCallback = Callable[[str, BatchOutcome], None]


#: A batch id: an ISO day, optionally followed by ``.<suffix>`` for a further batch of that day.
_BATCH_ID: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.[a-z0-9]{1,16})?$")
#: The batch-id rule, as error messages state it.
BATCH_ID_RULE: Final = (
    "YYYY-MM-DD, or YYYY-MM-DD.<suffix> with a suffix of 1 to 16 lower-case letters or digits "
    "for a further batch of the same day"
)


def _day_of(name: str) -> datetime.date | None:
    match = _BATCH_ID.match(name)
    if match is None:
        return None
    try:
        return datetime.date.fromisoformat(match.group(1))
    except ValueError:  # e.g. 2026-02-30
        return None


def is_batch_id(name: str) -> bool:
    """True for a raw batch file stem: ``YYYY-MM-DD`` or ``YYYY-MM-DD.<suffix>``.

    The date must exist; the suffix is 1 to 16 lower-case letters or digits. A suffixed batch
    is a further batch of a day that already has one (ingest writes it, never overwriting).
    """
    return _day_of(name) is not None


def batch_date(batch_id: str) -> datetime.date:
    """The day a batch belongs to (``2026-01-03`` for ``2026-01-03`` and ``2026-01-03.b``).

    Raises:
        ValueError: `batch_id` is not a batch id; the message names it and states the rule.
    """
    day = _day_of(batch_id)
    if day is None:
        raise ValueError(f"'{batch_id}' is not a batch id: expected {BATCH_ID_RULE}")
    return day


def _batch_order(path: Path) -> tuple[bool, str]:
    """Batches by day, a day's first batch before its suffixed ones; other names last."""
    return not is_batch_id(path.stem), path.stem


def _visible_files(folder: Path) -> list[Path]:
    """Files in `folder`, leaving out hidden ones (such as a writer's temporary files)."""
    return [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]


def stray_files(raw_dir: Path) -> list[Path]:
    """Visible files in the raw folder that the gate will never look at, sorted by name.

    Only ``*.parquet`` files are batches; anything else there (a CSV dropped in by hand, a
    README) is ignored by `pending_batches`, so a caller should say so rather than report
    "nothing to validate". A missing folder holds no stray files.
    """
    if not raw_dir.is_dir():
        return []
    return sorted(p for p in _visible_files(raw_dir) if p.suffix != ".parquet")


def pending_batches(raw_dir: Path, validated_dir: Path, quarantine_dir: Path) -> list[Path]:
    """Raw Parquet files neither validated nor quarantined yet, oldest batch first.

    Files whose stem is not a batch id sort last (the gate quarantines them); hidden files, such
    as a writer's temporary files, are ignored, and so are files that are not ``*.parquet``
    (see `stray_files`).

    Raises:
        ValidationInputError: `raw_dir` is not a folder.
    """
    if not raw_dir.is_dir():
        raise ValidationInputError(
            f"raw batch folder {raw_dir} does not exist; generate or ingest batches first"
        )
    files = sorted((p for p in _visible_files(raw_dir) if p.suffix == ".parquet"), key=_batch_order)
    return [
        p
        for p in files
        if not (validated_dir / p.name).exists() and not (quarantine_dir / p.stem).exists()
    ]


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _write_folder_atomically(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` into a sibling temporary folder, then rename it to `folder`."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.partial")
    if partial.exists():  # left by an interrupted run of this function
        shutil.rmtree(partial)
    partial.mkdir()
    for name, payload in files.items():
        (partial / name).write_bytes(payload)
    os.replace(partial, folder)


def render_outcome_html(batch_id: str, outcome: ValidationOutcome, note: str) -> str:
    """A self-contained HTML page listing the failed expectations of a batch.

    Used in quarantine when Great Expectations produced no Data Docs page (e.g. the file could
    not be read, so no validation ran); `note` says why.
    """
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (f.expectation_type, f.column or "", f.reason, f.guards_against)
        )
        + "</tr>"
        for f in outcome.failures
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Batch {html.escape(batch_id)}: quarantined</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
        "</style></head><body>"
        f"<h1>Batch {html.escape(batch_id)}: quarantined</h1>"
        f"<p>{html.escape(note)}</p>"
        "<table><tr><th>check</th><th>column</th><th>reason</th><th>guards against</th></tr>"
        f"{rows}</table></body></html>\n"
    )


def _data_docs_page(
    context: AbstractDataContext, identifier: ValidationResultIdentifier
) -> Path | None:
    """Build the Data Docs page of one validation run; its local path, or None if there is none.

    A site that fails to build must not stop the batch from being quarantined: the failure is
    logged and the caller falls back to the gate's own summary page.
    """
    try:
        context.build_data_docs(resource_identifiers=[identifier])
        offline_docs_sites(context)
        sites = context.get_docs_sites_urls(resource_identifier=identifier)
    except Exception:
        _log.warning("could not build the Data Docs page of %s", identifier, exc_info=True)
        return None
    for site in sites:
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            page = Path(url2pathname(urlparse(url).path))
            if page.is_file():
                return page
    return None


# --- the gate's own checks: time sanity and batches accepted before -------------------------


def utc_now() -> datetime.datetime:
    """The real current time, naive UTC (the gate's default clock)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _naive_utc(moment: datetime.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp


def _times_of(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """A time column as naive UTC, None when absent or not datetime (the suite reports that)."""
    if column not in frame.columns:
        return None
    values: pd.Series = frame[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        converted: pd.Series = values.dt.tz_convert(None)
        return converted
    if not pd.api.types.is_datetime64_dtype(values.dtype):
        return None
    return values


def _time_text(value: Any) -> str:
    stamp = pd.Timestamp(value)
    return stamp.isoformat(sep=" ", timespec="seconds" if stamp.second else "minutes")


def _outside(times: pd.Series, bad: pd.Series, column: str, expected: str) -> str:
    examples = ", ".join(_time_text(v) for v in times[bad].head(3))
    return f"{int(bad.sum())} of {len(times)} rows have {column} {expected}, e.g. {examples}"


def time_failures(
    frame: pd.DataFrame,
    batch_id: str,
    contract: DatasetContract,
    now: datetime.datetime,
    *,
    labels_ahead: bool = False,
) -> list[FailedExpectation]:
    """The gate's time checks on one batch: the failed ones ([] when the times are sane).

    * Every event time lies on the batch's date (`batch_date`), from its midnight minus
      ``contract.event_time_tolerance`` to the next midnight plus it, both ends included.
    * No event time, nor a label-available time (contracts with that column), lies after
      ``now`` plus the tolerance: data from the future is a clock or parsing fault, and a
      label known "later than now" defeats the label-maturity rule of training.

    Missing or non-datetime columns and missing times are left to the suite, which reports them.

    Args:
        frame: The batch.
        batch_id: Its id (see `is_batch_id`).
        contract: Names the time columns and the tolerance.
        now: The run's clock reading (naive UTC; an aware time is converted).
        labels_ahead: Skip the label-available check (see `ValidationGate`).
    """
    tolerance = contract.event_time_tolerance
    slack = format_duration(tolerance)
    day = pd.Timestamp(batch_date(batch_id))
    low, high = day - tolerance, day + pd.Timedelta(days=1) + tolerance
    limit = _naive_utc(now) + tolerance
    failures: list[FailedExpectation] = []
    event_col = contract.event_time_column
    events = _times_of(frame, event_col)
    if events is not None:
        off_day = events.notna() & ((events < low) | (events > high))
        if off_day.any():
            failures.append(
                FailedExpectation(
                    EVENT_TIME_OUTSIDE_DATE,
                    event_col,
                    _outside(events, off_day, event_col, f"outside {day.date()} ± {slack}"),
                    "Rows filed under the wrong day (a time-zone or parsing fault, a batch "
                    "renamed or re-sent): training and monitoring would place them in the "
                    "wrong window.",
                )
            )
        future = events.notna() & (events > limit)
        if future.any():
            failures.append(
                FailedExpectation(
                    EVENT_TIME_AFTER_NOW,
                    event_col,
                    _outside(events, future, event_col, f"after now ({_time_text(now)}) + {slack}"),
                    "Events from the future (a broken clock, a mis-parsed year): a training "
                    "cutoff taken from them would treat every label as mature.",
                )
            )
    label_col = contract.label_available_time_column
    labels = _times_of(frame, label_col) if label_col and not labels_ahead else None
    if label_col is not None and labels is not None:
        future = labels.notna() & (labels > limit)
        if future.any():
            failures.append(
                FailedExpectation(
                    LABEL_TIME_AFTER_NOW,
                    label_col,
                    _outside(labels, future, label_col, f"after now ({_time_text(now)}) + {slack}"),
                    "Labels claimed to be known later than now: a label cannot be in the data "
                    "before it exists, and training would trust it as matured.",
                )
            )
    return failures


@dataclass(frozen=True)
class AcceptedBatch:
    """One accepted batch as the index holds it: its content hash and its ids (as text)."""

    batch_id: str
    sha256: str
    ids: frozenset[str]


def _ids_of(frame: pd.DataFrame, id_column: str) -> list[str]:
    if id_column not in frame.columns:
        return []
    return [str(v) for v in frame[id_column].dropna().unique()]


class AcceptedIndex:
    """What the gate accepted: ``<validated>/.index/<batch_id>.json`` per batch.

    Each file holds ``{"batch_id", "sha256", "id_column", "ids"}`` and is written atomically
    after the batch's validated copy, so a crash in between leaves a validated batch without an
    entry: `load` indexes any such batch (and every batch validated before the index existed)
    from its file. Sixty days of 1,000 ids load in milliseconds.
    """

    def __init__(self, validated_dir: Path, id_column: str) -> None:
        self.folder = validated_dir / INDEX_DIR
        self._validated_dir = validated_dir
        self._id_column = id_column
        self._batches: dict[str, AcceptedBatch] = {}
        self._owner: dict[str, str] = {}

    @classmethod
    def load(cls, validated_dir: Path, id_column: str) -> AcceptedIndex:
        """Read the index, first indexing validated batches that have no entry yet."""
        index = cls(validated_dir, id_column)
        if index.folder.is_dir():
            for path in sorted(index.folder.glob("*.json")):
                if path.name.startswith("."):  # a writer's temporary file
                    continue
                record = json.loads(path.read_text())
                index._remember(
                    AcceptedBatch(
                        str(record["batch_id"]),
                        str(record["sha256"]),
                        frozenset(str(i) for i in record["ids"]),
                    )
                )
        if validated_dir.is_dir():
            unindexed = [
                p
                for p in sorted(_visible_files(validated_dir))
                if p.suffix == ".parquet" and p.stem not in index._batches
            ]
            for path in unindexed:
                payload = path.read_bytes()
                try:
                    ids = _ids_of(pd.read_parquet(io.BytesIO(payload)), id_column)
                except Exception:  # accepted once, unreadable now: keep its hash at least
                    _log.warning("cannot read the ids of validated batch %s", path, exc_info=True)
                    ids = []
                index.add(path.stem, hashlib.sha256(payload).hexdigest(), ids)
            if unindexed:
                _log.info(
                    "indexed %d validated batch(es) that had no index entry in %s",
                    len(unindexed),
                    index.folder,
                )
        return index

    def __len__(self) -> int:
        return len(self._batches)

    def __contains__(self, batch_id: object) -> bool:
        return batch_id in self._batches

    def _remember(self, batch: AcceptedBatch) -> None:
        self._batches[batch.batch_id] = batch
        for value in batch.ids:
            self._owner.setdefault(value, batch.batch_id)

    def add(self, batch_id: str, sha256: str, ids: Collection[str]) -> None:
        """Record an accepted batch: its entry file first (atomically), then in memory."""
        record = {"batch_id": batch_id, "sha256": sha256, "id_column": self._id_column}
        payload = json.dumps({**record, "ids": sorted(ids)}, separators=(",", ":")).encode()
        _write_atomically(self.folder / f"{batch_id}.json", payload)
        self._remember(AcceptedBatch(batch_id, sha256, frozenset(ids)))

    def failures(self, batch_id: str, sha256: str, ids: Collection[str]) -> list[FailedExpectation]:
        """Why this batch repeats an accepted one (same bytes, or ids seen before); [] if not."""
        failures: list[FailedExpectation] = []
        for other in self._batches.values():
            if other.batch_id != batch_id and other.sha256 == sha256:
                failures.append(
                    FailedExpectation(
                        DUPLICATE_BATCH,
                        None,
                        f"identical to accepted batch {other.batch_id} (sha256 {sha256[:12]}…)",
                        "A batch sent twice under another date: its rows would be trained on "
                        "and monitored twice.",
                    )
                )
                break
        seen: dict[str, list[str]] = {}
        for value in ids:
            owner = self._owner.get(value)
            if owner is not None and owner != batch_id:
                seen.setdefault(owner, []).append(value)
        if seen:
            total = sum(len(v) for v in seen.values())
            ranked = sorted(seen.items(), key=lambda item: (-len(item[1]), item[0]))
            where = ", ".join(f"{len(v)} in {b}" for b, v in ranked[:3])
            more = f" and {len(ranked) - 3} other batch(es)" if len(ranked) > 3 else ""
            examples = ", ".join(sorted(ranked[0][1])[:3])
            failures.append(
                FailedExpectation(
                    IDS_ALREADY_ACCEPTED,
                    self._id_column,
                    f"{total} of {len(ids)} {self._id_column} values were accepted before "
                    f"({where}{more}), e.g. {examples}",
                    "Rows re-sent in a later batch (a replayed extract, an overlapping "
                    "export): ids are unique within a batch, and must be across batches too.",
                )
            )
        return failures


def _with_gate_failures(
    outcome: ValidationOutcome, failures: list[FailedExpectation]
) -> ValidationOutcome:
    """`outcome` with the gate's own failures appended (its statistics stay the suite's)."""
    if not failures:
        return outcome
    return ValidationOutcome(
        success=False,
        failures=[*outcome.failures, *failures],
        statistics=outcome.statistics,
        result_json=outcome.result_json,
    )


@dataclass(frozen=True)
class _Checked:
    outcome: ValidationOutcome
    docs_page: Path | None
    ids: tuple[str, ...] = ()


class ValidationGate:
    """The validation gate over a run's folders, reusable across calls.

    The GX file context and the suite are opened on first use and kept, so a process that
    validates one batch a day (the demo, a scheduler) pays their ~1.5 s set-up once. Data Docs
    pages of passing runs are batched until :meth:`publish_docs` (rebuilding the site's index
    costs more as results accumulate); a failing batch gets its page at once, for quarantine.
    """

    def __init__(
        self,
        gx_dir: Path,
        contract: DatasetContract,
        *,
        now: Clock | None = None,
        labels_ahead: bool = False,
    ) -> None:
        """Open nothing yet: the context and the suite are built on first use.

        Args:
            gx_dir: Project root of the Great Expectations file context.
            contract: The dataset contract the suite and the gate's checks derive from.
            now: The run's clock, read once per batch, naive UTC: no event or label-available
                time may lie after it (plus the contract's ``event_time_tolerance``). Default:
                the real UTC time; a run in simulated time (the demo) passes its own.
            labels_ahead: Allow label-available times after now: only for a replay whose
                batches carry labels ahead of their time (the generator's, in the demo).
        """
        self._gx_dir = gx_dir
        self._contract = contract
        self._now: Clock = now or utc_now
        self._labels_ahead = labels_ahead
        self._validator: BatchValidator | None = None
        self._passed: list[ValidationResultIdentifier] = []

    @property
    def validator(self) -> BatchValidator:
        """The suite bound to the file context, opened on first use."""
        if self._validator is None:
            self._gx_dir.mkdir(parents=True, exist_ok=True)
            context = gx.get_context(mode="file", project_root_dir=str(self._gx_dir))
            self._validator = BatchValidator(self._contract, context)
        return self._validator

    def check(self, batch_id: str, payload: bytes) -> _Checked:
        """Validate one batch's bytes; unreadable or mis-named files fail with a reason.

        Runs the suite, then the gate's time checks (`time_failures`, against this gate's
        clock). Batches accepted before are checked when filing (see `validate_pending`).
        """
        if not is_batch_id(batch_id):
            return _Checked(
                _not_validated(
                    _NAME_FAILURE,
                    f"file name '{batch_id}.parquet' is not a batch id: expected "
                    f"{BATCH_ID_RULE}, then '.parquet'",
                    "A stray or mis-named file in the raw folder, which would otherwise be "
                    "trained on under a date nobody can trace.",
                ),
                None,
            )
        try:
            frame = pd.read_parquet(io.BytesIO(payload))
        except Exception as exc:  # any parse failure means the batch is unusable
            return _Checked(
                _not_validated(
                    _READ_FAILURE,
                    f"cannot read the file as Parquet: {type(exc).__name__}: {exc}",
                    "A truncated, corrupt or mis-typed file (an interrupted copy, another "
                    "format saved under a .parquet name).",
                ),
                None,
            )
        validator = self.validator  # outside the try: a broken context must raise, not quarantine
        try:
            outcome, identifier = validator.run(frame, run_name=batch_id)
        except Exception as exc:  # a batch that crashes the checks is not a validated batch
            return _Checked(
                _not_validated(
                    _CRASH_FAILURE,
                    f"the validation itself failed: {type(exc).__name__}: {exc}",
                    "Data so malformed that the checks cannot run (e.g. unhashable cell "
                    "values); it must not pass unchecked.",
                ),
                None,
            )
        suite_passed = outcome.success
        failures = time_failures(
            frame, batch_id, self._contract, self._now(), labels_ahead=self._labels_ahead
        )
        outcome = _with_gate_failures(outcome, failures)
        ids = tuple(_ids_of(frame, self._contract.id_column))
        if suite_passed:
            self._passed.append(identifier)
            # A batch failing only the gate's own checks gets the gate's page, not a
            # Data Docs page that shows every expectation met.
            return _Checked(outcome, None, ids)
        return _Checked(outcome, _data_docs_page(validator.context, identifier), ids)

    def validate_pending(
        self,
        raw_dir: Path,
        validated_dir: Path,
        quarantine_dir: Path,
        *,
        on_progress: ProgressCallback | None = None,
        publish_docs: bool = True,
    ) -> list[BatchOutcome]:
        """Check and file every raw batch not yet checked (see `validate_pending_batches`).

        ``publish_docs=False`` leaves passing runs out of Data Docs until :meth:`publish_docs`.
        """
        outcomes = []
        pending = pending_batches(raw_dir, validated_dir, quarantine_dir)
        # Read per call, not kept: another process may have accepted batches since.
        index = AcceptedIndex.load(validated_dir, self._contract.id_column) if pending else None
        for raw_path in pending:
            assert index is not None
            outcome = self._file(raw_path, validated_dir, quarantine_dir, index)
            outcomes.append(outcome)
            if on_progress is not None:
                on_progress(outcome.batch_id, outcome)
        if publish_docs:
            self.publish_docs()
        return outcomes

    def _file(
        self, raw_path: Path, validated_dir: Path, quarantine_dir: Path, index: AcceptedIndex
    ) -> BatchOutcome:
        """Check one raw batch and copy it to the validated folder or into quarantine.

        A batch is accepted only if it also repeats no accepted batch (`AcceptedIndex`); its
        validated copy is written first, then its index entry.
        """
        batch_id = raw_path.stem
        payload = raw_path.read_bytes()
        sha256 = hashlib.sha256(payload).hexdigest()
        checked = self.check(batch_id, payload)
        if is_batch_id(batch_id):
            repeats = index.failures(batch_id, sha256, checked.ids)
            verdict = _with_gate_failures(checked.outcome, repeats)
            checked = _Checked(verdict, checked.docs_page, checked.ids)
        if checked.outcome.success:
            destination = validated_dir / raw_path.name
            _write_atomically(destination, payload)
            index.add(batch_id, sha256, checked.ids)
        else:
            destination = quarantine_dir / batch_id
            if checked.docs_page is not None:
                page = checked.docs_page.read_text(encoding="utf-8")
                docs = offline_page(page).encode()
                docs_source = "great_expectations_data_docs"
            else:
                note = (
                    "Great Expectations produced no Data Docs page for this file (no validation "
                    "ran, the page could not be built, or only the gate's own checks failed: "
                    "time sanity, batches accepted before); this summary was rendered by the "
                    "validation gate."
                )
                docs = render_outcome_html(batch_id, checked.outcome, note).encode()
                docs_source = "validation_gate_summary"
            record = _validation_record(
                batch_id, raw_path, sha256, self._contract, checked, docs_source
            )
            _write_folder_atomically(
                destination,
                {
                    raw_path.name: payload,
                    VALIDATION_FILE: (json.dumps(record, indent=2) + "\n").encode(),
                    DATA_DOCS_FILE: docs,
                },
            )
        outcome = BatchOutcome(
            batch_id=batch_id,
            success=checked.outcome.success,
            destination=destination,
            failures=checked.outcome.failures,
            sha256=sha256,
            raw_path=raw_path,
        )
        return outcome

    def publish_docs(self) -> None:
        """Add the passing runs to Data Docs in one build, so the site lists every batch."""
        if self._validator is None or not self._passed:
            return
        try:
            self._validator.context.build_data_docs(resource_identifiers=self._passed)
            offline_docs_sites(self._validator.context)
        except Exception:  # every batch is already filed; a missing page is not worth a crash
            _log.warning(
                "could not add %d passing runs to Data Docs", len(self._passed), exc_info=True
            )
        self._passed = []


def _validation_record(
    batch_id: str,
    raw_path: Path,
    sha256: str,
    contract: DatasetContract,
    checked: _Checked,
    docs_source: str,
) -> dict[str, Any]:
    outcome = checked.outcome
    return {
        "batch_id": batch_id,
        "raw_file": str(raw_path),
        "raw_sha256": sha256,
        "contract_name": contract.name,
        "contract_hash": contract.content_hash(),
        "validated_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "success": outcome.success,
        "statistics": asdict(outcome.statistics),
        "failures": [asdict(f) for f in outcome.failures],
        "data_docs": {"file": DATA_DOCS_FILE, "source": docs_source},
        "gx_result": outcome.result_json,
    }


def validate_pending_batches(
    raw_dir: Path,
    validated_dir: Path,
    quarantine_dir: Path,
    gx_dir: Path,
    contract: DatasetContract,
    *,
    on_progress: ProgressCallback | None = None,
) -> list[BatchOutcome]:
    """Check each raw batch not yet checked, oldest first, and file it.

    A passing batch is copied byte for byte to ``validated_dir/<batch>.parquet``. A failing
    one, including a file that cannot be read, gets ``quarantine_dir/<batch>/`` with
    ``<batch>.parquet`` (the same bytes), ``validation.json`` (batch id, raw file, its SHA-256,
    contract hash, time, verdict, failures with reasons, full Great Expectations result) and
    ``data_docs.html``: the Great Expectations Data Docs page of that run, built in the file
    context under `gx_dir`, or a page rendered by the gate when no validation could run.
    Passing runs are added to the same Data Docs site at the end. Every file appears
    atomically, so a crash never leaves a batch half-filed; the raw file is read once and never
    changed. A rerun skips batches already filed either way.

    Args:
        raw_dir: Folder of raw ``<batch_id>.parquet`` batches (see `is_batch_id`).
        validated_dir: Where passing batches are copied.
        quarantine_dir: Where failing batches are filed, one folder each.
        gx_dir: Project root of the Great Expectations file context (suite, results, Data Docs).
        contract: The dataset contract the suite is derived from.
        on_progress: Called as ``on_progress(batch_id, outcome)`` after each batch is filed.

    Returns:
        One `BatchOutcome` per batch checked by this call, in the order checked.

    Raises:
        ValidationInputError: `raw_dir` is not a folder.
    """
    return ValidationGate(gx_dir, contract).validate_pending(
        raw_dir, validated_dir, quarantine_dir, on_progress=on_progress
    )
