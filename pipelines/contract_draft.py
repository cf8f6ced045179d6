"""Draft a dataset contract from a data file, for a person to review (`lifecycle contract init`).

Core (pure): `draft_contract` infers each column's type, range (with a margin), categories and
nullability, picks the features and segments, and derives batch guards from the data's days:
row counts, positive rate, null shares and medians, each loose enough to pass on the source
itself. The values are parsed exactly as `lifecycle ingest` will parse them (the same
functions), so the draft and the ingest cannot disagree. `render_contract_yaml` writes it as a
commented YAML file that says what to review, and checks that the text loads back as drafted.

Adapters: `read_frame` reads the source (CSV as text, Parquet as stored); `write_contract`
writes the YAML atomically and never replaces an existing file.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml
from pandas.api import types as ptypes

from data.batches import write_new_file
from features.contract import (
    ContractError,
    DatasetContract,
    DType,
    format_duration,
    parse_contract,
    parse_duration,
)
from features.vocabulary import RESERVED_FIELDS
from pipelines.ingest import (
    IngestError,
    as_text,
    parse_as,
    read_source_file,
    source_files,
)

#: Share of a column's present values that must parse as numbers (or dates) for the column to
#: be declared numeric (or datetime); the others are reported, and ingest rejects their rows.
NEARLY_ALL: Final = 0.99
#: Most distinct values a text column may have to be a category rather than free text.
MAX_CATEGORIES: Final = 50
#: A text column whose distinct values exceed this share of its rows is nearly unique: text.
MAX_DISTINCT_SHARE: Final = 0.5
#: Segments: at most this many category features, each with 2 to 12 values.
MAX_SEGMENTS: Final = 3
SEGMENT_VALUES: Final = (2, 12)
#: The observed numeric range is widened by this share of its span on each side.
RANGE_MARGIN: Final = 0.5
#: Placeholder costs: a missed positive, a false alarm.
PLACEHOLDER_COSTS: Final = (10.0, 1.0)
#: Label delay written when none is given (with a comment saying to set it).
PLACEHOLDER_LABEL_DELAY: Final = "1d"
#: Name of the id column made at ingest when the source has none.
GENERATED_ID: Final = "row_id"
DEFAULT_SCORE_NAME: Final = "probability"

_INT_TEXT = re.compile(r"^[+-]?\d+$")
_LEADING_ZERO = re.compile(r"^[+-]?0\d")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_WRAP = 88
_GUARD_KEYS = ("check", "column", "lower", "upper", "strict", "when", "min", "max")


class ContractDraftError(ValueError):
    """A contract cannot be drafted from these data and options; the message says what to do."""


@dataclass(frozen=True)
class Observations:
    """What the source held, as written into the draft's header.

    Attributes:
        rows: Rows in the source.
        rows_parsed: Rows `lifecycle ingest` would accept (the others are listed in
            ``ContractDraft.rejected``).
        days: Distinct UTC days of event time.
        first_day: The earliest day.
        last_day: The latest day.
        rows_per_day: (smallest, median, largest) rows in a day.
        labelled: Rows with a label.
        positives: Rows with the positive label.
    """

    rows: int
    rows_parsed: int
    days: int
    first_day: dt.date
    last_day: dt.date
    rows_per_day: tuple[int, float, int]
    labelled: int
    positives: int

    @property
    def positive_rate(self) -> float:
        """Share of labelled rows with the positive label."""
        return self.positives / self.labelled if self.labelled else math.nan


@dataclass(frozen=True)
class ContractDraft:
    """A drafted contract and what a reviewer should know about it.

    Attributes:
        contract: The contract (already validated).
        source: Where the data came from, as shown in the header.
        observations: Counts the guards were derived from.
        notes: Per column, remarks written above it (e.g. why it is not a feature).
        rejected: Per column, how many values ingest would reject and an example.
        label_delay_given: False when `label_delay` is the placeholder.
    """

    contract: DatasetContract
    source: str
    observations: Observations
    notes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rejected: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    label_delay_given: bool = True


# --- inference ------------------------------------------------------------------------------


def _present(series: pd.Series) -> pd.Series:
    """The non-missing values (NA, or blank text, is missing)."""
    missing = series.isna().astype(bool)
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        blank = [isinstance(v, str) and not v.strip() for v in series]
        missing = missing | pd.Series(blank, index=series.index, dtype=bool)
    return series[~missing]


def _texts(present: pd.Series) -> pd.Series:
    return present.map(lambda v: as_text(v).strip())


def infer_dtype(series: pd.Series) -> tuple[DType, str]:
    """A column's contract dtype, and a note for the reviewer ("" when there is nothing to say).

    Typed columns (Parquet) keep their kind: bool and int -> int, float -> float, datetime ->
    datetime. Text: numbers when nearly all values are (int when all of them are whole, and
    none is a code with a leading zero such as ``007``), datetime when nearly all parse as ISO
    dates, category when it has few distinct values, string otherwise (ids, free text).
    """
    present = _present(series)
    if present.empty:
        return "string", "every value is missing"
    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype) or ptypes.is_integer_dtype(dtype):
        return "int", ""
    if ptypes.is_float_dtype(dtype):
        return "float", ""
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime", ""
    texts = _texts(present)
    numbers = pd.to_numeric(texts, errors="coerce")
    is_number = numbers.notna() & pd.Series(np.isfinite(numbers), index=numbers.index)
    codes = bool(texts.map(lambda t: bool(_LEADING_ZERO.match(t))).any())
    if not codes and is_number.mean() >= NEARLY_ALL:
        whole = all(isinstance(_whole(t), int) for t in texts[is_number])
        return ("int" if whole else "float"), _unparsed_note(texts[~is_number], "numbers")
    dates = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    if dates.notna().mean() >= NEARLY_ALL:
        return "datetime", _unparsed_note(texts[dates.isna()], "ISO dates")
    distinct = present.map(as_text).nunique()
    if distinct <= MAX_CATEGORIES and distinct <= MAX_DISTINCT_SHARE * len(present):
        return "category", ""
    return "string", ""


def _whole(text: str) -> int | None:
    """The integer a text holds exactly (``3`` or ``3.0``), else None."""
    if _INT_TEXT.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) <= 2**53 else None


def _unparsed_note(bad: pd.Series, what: str) -> str:
    if bad.empty:
        return ""
    return f"{len(bad)} value(s) are not {what} (e.g. {bad.iloc[0]!r}): ingest rejects those rows"


def _contract_name(name: str) -> str:
    """`name` made a valid contract name: runs of other characters become ``_``."""
    cleaned = _NAME_CHARS.sub("_", name.strip()).strip("_.-")
    return cleaned or "dataset"


def _free(name: str, taken: Sequence[str]) -> str:
    candidate, suffix = name, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{name}_{suffix}"
    return candidate


# --- numbers for the YAML -------------------------------------------------------------------


def _round_out(value: float, *, down: bool, digits: int = 3) -> float:
    """`value` rounded to `digits` significant digits, away from the inside of a range."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10 ** (math.floor(math.log10(abs(value))) - digits + 1)
    scaled = value / step
    rounded = (math.floor(scaled) if down else math.ceil(scaled)) * step
    return float(f"{rounded:.{digits + 2}g}")


def _range(values: pd.Series, dtype: DType) -> tuple[float | int, float | int] | None:
    """The observed range widened by `RANGE_MARGIN` of its span, never below 0 if it was not."""
    present = values.dropna().astype("float64")
    if present.empty:
        return None
    low, high = float(present.min()), float(present.max())
    span = high - low
    margin = RANGE_MARGIN * span if span > 0 else max(abs(low) * RANGE_MARGIN, 1.0)
    lower = low - margin
    if low >= 0:
        lower = max(0.0, lower)
    upper = high + margin
    if dtype == "int":
        return math.floor(lower), math.ceil(upper)
    return _round_out(lower, down=True), _round_out(upper, down=False)


def _share_bounds(low: float, high: float) -> tuple[float, float]:
    """Share bounds rounded outward and kept in [0, 1]."""
    return max(0.0, _round_out(low, down=True)), min(1.0, _round_out(high, down=False))


# --- guards ---------------------------------------------------------------------------------


def _row_count_guard(per_day: pd.Series) -> dict[str, Any]:
    p5 = float(np.percentile(per_day, 5))
    low = max(1, min(math.floor(0.25 * p5), int(per_day.min())))
    high = 4 * int(per_day.max())
    return {
        "check": "row_count",
        "min": low,
        "max": high,
        "catches": (
            "An empty or truncated extract (a failed export, a partial file), or a runaway one "
            "(several days in one file, a file ingested twice). The source had "
            f"{int(per_day.min())} to {int(per_day.max())} rows a day."
        ),
    }


def _label_rate_guard(
    positive: pd.Series, days: pd.Series, label: str, value: object
) -> dict[str, Any]:
    labelled = positive.notna()
    rate = float(positive[labelled].mean())
    daily = positive[labelled].astype("float64").groupby(days[labelled]).mean()
    low, high = _share_bounds(
        min(rate / 3, float(daily.min())), max(min(1.0, 3 * rate), float(daily.max()))
    )
    return {
        "check": "label_rate",
        "min": low,
        "max": high,
        "catches": (
            f"A label pipeline that stops writing {label} = {value!r}, or one that writes it for "
            f"(nearly) every row; either silently ruins the next model. The source's rate was "
            f"{rate:.1%}."
        ),
    }


def _null_share_guard(column: str, missing: pd.Series, days: pd.Series) -> dict[str, Any] | None:
    share = float(missing.mean())
    if not 0.0 < share < 1.0:
        return None
    daily = missing.astype("float64").groupby(days).mean()
    low, high = _share_bounds(
        min(share / 3, float(daily.min())), max(1 - (1 - share) / 3, float(daily.max()))
    )
    if low <= 0.0 and high >= 1.0:
        return None  # the source's days already span every share: nothing to catch
    return {
        "check": "null_share",
        "column": column,
        "min": low,
        "max": high,
        "catches": (
            f"'{column}' missing far more often (an upstream outage, a broken join) or far less "
            f"often (a fill-na upstream) than in the source, where {share:.1%} of the values "
            "were missing."
        ),
    }


def _median_guard(column: str, values: pd.Series, days: pd.Series) -> dict[str, Any] | None:
    present = values.notna()
    if not present.any():
        return None
    numbers = values[present].astype("float64")
    median = float(numbers.median())
    if median <= 0:
        return None
    daily = numbers.groupby(days[present]).median()
    low = _round_out(min(median / 10, float(daily.min())), down=True)
    high = _round_out(max(median * 10, float(daily.max())), down=False)
    return {
        "check": "median",
        "column": column,
        "min": max(0.0, low),
        "max": high,
        "catches": (
            f"'{column}' in another unit or scale (e.g. cents instead of units, thousands "
            f"instead of units): its median moves by a factor of 10 or more. The source's "
            f"median was {median:.4g}."
        ),
    }


# --- the draft ------------------------------------------------------------------------------


def _check_options(
    columns: Sequence[str],
    *,
    label: str,
    event_time: str | None,
    id_column: str | None,
    source: str,
    datetime_columns: Sequence[str],
) -> str:
    if event_time is None:
        todo = (
            f"pass --event-time COL (columns of {source} that hold dates: "
            f"{', '.join(datetime_columns)})"
            if datetime_columns
            else f"add one to {source} and pass --event-time COL"
        )
        raise ContractDraftError(
            "a time column is needed: every row must say when it happened (e.g. the event, "
            f"export or snapshot date); {todo}"
        )
    for option, column in (("--label", label), ("--event-time", event_time), ("--id", id_column)):
        if column is not None and column not in columns:
            raise ContractDraftError(
                f"{option} '{column}' is not a column of {source} (columns: {list(columns)})"
            )
    roles = [c for c in (label, event_time, id_column) if c is not None]
    if len(set(roles)) != len(roles):
        raise ContractDraftError(
            f"--label, --event-time and --id must name different columns, got {roles}"
        )
    reserved = sorted(RESERVED_FIELDS & set(columns))
    if reserved:
        raise ContractDraftError(
            f"column(s) {reserved} of {source} use names the prediction and label logs keep for "
            "themselves; rename them in the source"
        )
    return event_time


def _label_spec(
    series: pd.Series, label: str, positive_label: str, source: str
) -> tuple[dict[str, Any], object]:
    """The label column's spec and the positive value, typed as the column is."""
    present = _present(series)
    texts = sorted(present.map(as_text).unique().tolist())
    if len(texts) != 2:
        shown = texts[:5] + (["..."] if len(texts) > 5 else [])
        raise ContractDraftError(
            f"label '{label}' must hold exactly two distinct values (a binary target), but "
            f"{source} holds {len(texts)}: {shown}"
        )
    numbers = [_whole(t) for t in texts]
    if all(isinstance(n, int) for n in numbers):
        values: list[Any] = sorted(int(n) for n in numbers if n is not None)
        positive: object = _whole(positive_label.strip())
        spec: dict[str, Any] = {"dtype": "int", "categories": values}
    else:
        values, positive = texts, positive_label
        spec = {"dtype": "category", "categories": values}
    if positive not in values:
        raise ContractDraftError(
            f"--positive-label {positive_label!r} is not one of label '{label}' values {values}"
        )
    if len(present) < len(series):
        spec["nullable"] = True
    return spec, positive


def _id_spec(series: pd.Series, column: str, source: str) -> dict[str, Any]:
    present = _present(series)
    if len(present) < len(series):
        raise ContractDraftError(
            f"--id '{column}' has {len(series) - len(present)} missing value(s) in {source}; "
            "fill them, or leave out --id to have ingest make ids"
        )
    texts = present.map(as_text)
    duplicated = texts[texts.duplicated()]
    if len(duplicated):
        raise ContractDraftError(
            f"--id '{column}' is not unique in {source} ({len(duplicated)} repeated value(s), "
            f"e.g. {duplicated.iloc[0]!r}); leave out --id to have ingest make ids"
        )
    dtype, _ = infer_dtype(series)
    return {"dtype": "int" if dtype == "int" else "string"}


@dataclass(frozen=True)
class _Roles:
    label: str
    event: str
    id_column: str | None

    @property
    def columns(self) -> set[str]:
        return {self.label, self.event, *([self.id_column] if self.id_column else [])}


def _column_specs(
    data: pd.DataFrame,
    kinds: Mapping[str, tuple[DType, str]],
    roles: _Roles,
    label_spec: dict[str, Any],
    source: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Each column's dtype (roles checked), and the notes the inference made on it."""
    specs: dict[str, dict[str, Any]] = {}
    notes: dict[str, list[str]] = {c: [] for c in data.columns}
    for column in data.columns:
        kind, note = kinds[column]
        if column == roles.label:
            specs[column] = label_spec
        elif column == roles.id_column:
            specs[column] = _id_spec(data[column], column, source)
        elif column == roles.event:
            if kind != "datetime":
                raise ContractDraftError(
                    f"--event-time '{column}' does not hold ISO 8601 dates or times (e.g. "
                    f"2026-01-31 or 2026-01-31T08:00:00Z) in {source}; convert it in the source"
                )
            specs[column] = {"dtype": "datetime"}
        else:
            specs[column] = {"dtype": kind}
        if note:
            notes[column].append(note)
    return specs, notes


def _parsed_rows(
    data: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]], event: str, source: str
) -> tuple[pd.DataFrame, dict[str, tuple[int, str]]]:
    """The rows ingest would accept, parsed as it parses them; per column, what it would reject."""
    parsed, errors = {}, {}
    for column, spec in specs.items():
        parsed[column], errors[column] = parse_as(data[column], spec["dtype"])
    good = parsed[event].notna()
    rejected: dict[str, tuple[int, str]] = {}
    for column, reasons in errors.items():
        bad = reasons.notna()
        if bad.any():
            rejected[column] = (int(bad.sum()), as_text(data.loc[bad, column].iloc[0]))
            good &= ~bad
    if not good.any():
        raise ContractDraftError(f"no row of {source} has a readable '{event}' and values")
    return pd.DataFrame({c: v[good] for c, v in parsed.items()}), rejected


def _complete_specs(specs: dict[str, dict[str, Any]], rows: pd.DataFrame, roles: _Roles) -> None:
    """Add nullability, numeric ranges and categories, as observed in the parsed rows."""
    for column, spec in specs.items():
        values = rows[column]
        if values.isna().any() and column not in (roles.event, roles.id_column):
            spec["nullable"] = True
        if column in roles.columns:
            continue
        if spec["dtype"] in ("int", "float"):
            bounds = _range(values, spec["dtype"])
            if bounds is not None:
                spec["min"], spec["max"] = bounds
        elif spec["dtype"] == "category":
            spec["categories"] = sorted(values.dropna().unique().tolist())


def _features(
    specs: Mapping[str, Mapping[str, Any]], roles: _Roles, notes: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """Features (numbers and categories that are not roles) and segments; notes on the rest."""
    features = []
    for column, spec in specs.items():
        if column in roles.columns:
            continue
        if spec["dtype"] in ("int", "float", "category"):
            features.append(column)
        elif spec["dtype"] == "string":
            notes[column].append("text or an identifier: not a feature")
        else:
            notes[column].append(
                "a date: not a feature (the model reads numbers and categories); derive "
                "features from it upstream if it matters"
            )
    low, high = SEGMENT_VALUES
    segments = [
        c
        for c in features
        if specs[c]["dtype"] == "category" and low <= len(specs[c]["categories"]) <= high
    ]
    return features, segments[:MAX_SEGMENTS]


def _guards(
    specs: Mapping[str, Mapping[str, Any]],
    rows: pd.DataFrame,
    roles: _Roles,
    features: Sequence[str],
    positive: object,
) -> list[dict[str, Any]]:
    """Row count, label rate, null shares and medians, each loose enough for every source day."""
    days = rows[roles.event].dt.date
    flags = _positive_flags(rows[roles.label], positive)
    guards: list[dict[str, Any] | None] = [
        _row_count_guard(days.value_counts()),
        _label_rate_guard(flags, days, roles.label, positive),
    ]
    for column, spec in specs.items():
        if column not in roles.columns and spec.get("nullable"):
            guards.append(_null_share_guard(column, rows[column].isna(), days))
    for column in features:
        if specs[column]["dtype"] in ("int", "float"):
            guards.append(_median_guard(column, rows[column], days))
    return [g for g in guards if g is not None]


def _positive_flags(labels: pd.Series, positive: object) -> pd.Series:
    """1.0 for the positive label, 0.0 for the other, NaN when missing."""
    return labels.map(lambda v: math.nan if pd.isna(v) else float(v == positive))


def _observations(
    data: pd.DataFrame, rows: pd.DataFrame, roles: _Roles, positive: object
) -> Observations:
    days = rows[roles.event].dt.date
    per_day = days.value_counts()
    flags = _positive_flags(rows[roles.label], positive)
    labelled = flags.notna()
    return Observations(
        rows=len(data),
        rows_parsed=len(rows),
        days=len(per_day),
        first_day=min(days),
        last_day=max(days),
        rows_per_day=(int(per_day.min()), float(per_day.median()), int(per_day.max())),
        labelled=int(labelled.sum()),
        positives=int(flags[labelled].sum()),
    )


def draft_contract(
    frame: pd.DataFrame,
    *,
    label: str,
    positive_label: str,
    id_column: str | None = None,
    event_time: str | None = None,
    label_delay: str | None = None,
    name: str,
    source: Path | str | None = None,
) -> ContractDraft:
    """Infer a contract from a source frame (as `read_frame` returns it).

    Args:
        frame: The data (CSV: text; Parquet: typed).
        label: The target column: exactly two distinct values.
        positive_label: The value of the class to detect, as text (``1``, ``yes``).
        id_column: A unique row id column; None declares ``row_id``, made at ingest.
        event_time: When each row happened: required (the error says why and how).
        label_delay: How long after the event the label is known (``7d``); None writes a
            placeholder of one day and a comment saying to set it.
        name: The use case's name (made valid: e.g. a file stem with spaces).
        source: Where the data came from, for messages and the YAML header.

    Raises:
        ContractDraftError: an option does not fit the data (no event time, a label that is not
            binary, a positive label it does not hold, a non-unique id, ...), or the draft does
            not load as a contract.
    """
    shown = str(source) if source is not None else "the data"
    data = frame.reset_index(drop=True)
    data.columns = [str(c) for c in data.columns]
    columns = list(data.columns)
    kinds = {c: infer_dtype(data[c]) for c in columns}
    event = _check_options(
        columns,
        label=label,
        event_time=event_time,
        id_column=id_column,
        source=shown,
        datetime_columns=[c for c, (kind, _) in kinds.items() if kind == "datetime"],
    )
    try:
        delay = parse_duration(label_delay if label_delay is not None else PLACEHOLDER_LABEL_DELAY)
    except ValueError as exc:
        raise ContractDraftError(f"--label-delay: {exc}") from None
    roles = _Roles(label=label, event=event, id_column=id_column)

    label_spec, positive = _label_spec(data[label], label, positive_label, shown)
    specs, notes = _column_specs(data, kinds, roles, label_spec, shown)
    rows, rejected = _parsed_rows(data, specs, event, shown)
    _complete_specs(specs, rows, roles)
    features, segments = _features(specs, roles, notes)
    if not features:
        raise ContractDraftError(
            f"no column of {shown} can be a feature: besides the id, time and label columns "
            "there is no number or category column"
        )
    guards = _guards(specs, rows, roles, features, positive)
    if id_column is None:
        specs = {_free(GENERATED_ID, columns): {"dtype": "string"}, **specs}
    raw: dict[str, Any] = {
        "name": _contract_name(name),
        "version": 1,
        "description": (
            f"Drafted from {Path(shown).name} by lifecycle contract init: say what one row is "
            "and where the data comes from."
        ),
        "id_column": id_column or next(iter(specs)),
        "id_generated": id_column is None,
        "event_time_column": event,
        "label_column": label,
        "positive_label": positive,
        "label_delay": format_duration(delay),
        "score_name": _free(DEFAULT_SCORE_NAME, columns),
        "columns": specs,
        "features": features,
        "segments": segments,
        "costs": {"false_negative": PLACEHOLDER_COSTS[0], "false_positive": PLACEHOLDER_COSTS[1]},
        "guards": guards,
    }
    try:
        contract = parse_contract(raw, source=f"contract drafted from {shown}")
    except ContractError as exc:
        raise ContractDraftError(f"the drafted contract does not load: {exc}") from None
    return ContractDraft(
        contract=contract,
        source=shown,
        observations=_observations(data, rows, roles, positive),
        notes={c: tuple(n) for c, n in notes.items() if n},
        rejected=rejected,
        label_delay_given=label_delay is not None,
    )


# --- the YAML ---------------------------------------------------------------------------------


def _y(value: object) -> str:
    """One YAML value on one line: text that YAML would read otherwise (yes, 1, on) is quoted."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=2**31 - 1, allow_unicode=True, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, _WRAP - len(indent) - 2)]


def _folded(key: str, text: str, indent: str) -> list[str]:
    """``key: >-`` and the text wrapped below it (folded back into one line when read)."""
    width = _WRAP - len(indent) - 2
    return [f"{indent}{key}: >-", *(f"{indent}  {line}" for line in textwrap.wrap(text, width))]


def _header(draft: ContractDraft, generated_on: dt.date) -> list[str]:
    contract, seen = draft.contract, draft.observations
    low, median, high = seen.rows_per_day
    lines = [
        f"# Dataset contract drafted from {Path(draft.source).name} on "
        f"{generated_on.isoformat()} by",
        "# `lifecycle contract init`. Review it before use; every key is checked at load.",
        "#",
        "# What to review:",
        "#   - costs: placeholders (a missed positive costs 10, a false alarm 1): set the real",
        "#     business costs; the decision threshold minimises their total.",
        "#   - label_delay: how long after the event the label becomes known"
        + (" (1d is a placeholder)." if not draft.label_delay_given else "."),
        "#   - categories: the values the source held; a value not listed fails validation.",
        "#   - ranges: the observed range widened by half its span (never below 0 for a column",
        "#     without negative values).",
        "#   - features and segments: every number and category column is a feature; strings",
        "#     (ids, free text) and extra dates are not. Segments slice the evaluation.",
        "#   - guards: derived from the source's days; each passes on the source itself.",
        "#",
        *_comment(
            f"Observed: {seen.rows:,} rows over {seen.days} day(s) ({seen.first_day} to "
            f"{seen.last_day}), {low:,} to {high:,} rows a day (median {median:,.0f}); label "
            f"'{contract.label_column}': {seen.positive_rate:.1%} {contract.positive!r} "
            f"({seen.positives:,} of {seen.labelled:,} labelled rows)."
        ),
    ]
    if seen.rows_parsed < seen.rows:
        failed = ", ".join(f"{c} ({n}, e.g. {v!r})" for c, (n, v) in draft.rejected.items())
        lines += _comment(
            f"{seen.rows - seen.rows_parsed:,} row(s) would be rejected by `lifecycle ingest` "
            f"(values that do not parse: {failed}); fix them or ingest with --skip-bad-rows."
        )
    return lines


def _column_lines(draft: ContractDraft, name: str) -> list[str]:
    contract = draft.contract
    spec = contract.columns[name]
    lines = []
    for note in draft.notes.get(name, ()):
        lines += _comment(note, "  ")
    if name == contract.id_column and contract.id_generated:
        lines += _comment("made by `lifecycle ingest`: the source has no id column", "  ")
    lines.append(f"  {_y(name)}:")
    lines.append(f"    dtype: {spec.dtype}")
    if spec.nullable:
        lines.append("    nullable: true")
    for key in ("min", "max"):
        bound = getattr(spec, key)
        if bound is not None:
            lines.append(f"    {key}: {_y(int(bound) if spec.dtype == 'int' else bound)}")
    if spec.categories is not None:
        lines.append(f"    categories: {_y(list(spec.categories))}")
    return lines


def _guard_lines(guard: Mapping[str, Any]) -> list[str]:
    """A guard as a list item: ``check`` first, then its settings, then what it catches."""
    lines = [f"  - check: {_y(guard['check'])}"]
    for key in sorted(guard, key=lambda k: _GUARD_KEYS.index(k) if k in _GUARD_KEYS else 99):
        value = guard[key]
        if key in ("check", "catches"):
            continue
        shown = int(value) if guard["check"] == "row_count" and key in ("min", "max") else value
        lines.append(f"    {key}: {_y(shown)}")
    return lines + _folded("catches", str(guard["catches"]), "    ")


def render_contract_yaml(draft: ContractDraft, *, generated_on: dt.date | None = None) -> str:
    """The draft as a commented contract YAML file.

    Raises:
        ContractDraftError: the text does not load back as the drafted contract (a bug here).
    """
    contract = draft.contract
    today = generated_on or dt.datetime.now(dt.UTC).date()
    lines = [*_header(draft, today), ""]
    lines += [
        f"name: {_y(contract.name)}",
        f"version: {contract.version}",
        *_folded("description", contract.description, ""),
        "",
        f"id_column: {_y(contract.id_column)}",
    ]
    if contract.id_generated:
        lines.append("id_generated: true")
    lines += [
        f"event_time_column: {_y(contract.event_time_column)}",
        f"label_column: {_y(contract.label_column)}",
        f"positive_label: {_y(contract.positive)}",
    ]
    if not draft.label_delay_given:
        lines += _comment(
            "SET THIS: how long after the event the label becomes known (e.g. 7d, 12h, 30d); "
            f"{PLACEHOLDER_LABEL_DELAY} is a placeholder. Nothing trains on a label before then."
        )
    assert contract.label_delay is not None  # the draft always sets a delay
    lines += [
        f"label_delay: {format_duration(contract.label_delay)}",
        f"score_name: {_y(contract.score_name)}",
        "",
        "columns:",
    ]
    for name in contract.columns:
        lines += _column_lines(draft, name)
    lines += ["", "features:", *(f"  - {_y(c)}" for c in contract.features)]
    lines += _comment("Columns results are sliced by (the gate, the model card, monitoring).")
    lines += [f"segments: {_y(list(contract.segments))}", ""]
    lines += _comment(
        "SET THESE: placeholders. The cost of a missed positive and of a false alarm, and "
        "their currency; the decision threshold minimises their total."
    )
    lines += [
        "costs:",
        f"  currency: {_y(contract.costs.currency)}",
        f"  false_negative: {_y(contract.costs.false_negative)}",
        f"  false_positive: {_y(contract.costs.false_positive)}",
        "",
    ]
    lines += _comment(
        "Batch guards of the validation gate, derived from the source's days (each passes on "
        "the source). Add ordered (a <= b) and null_when guards where the data has such rules."
    )
    lines.append("guards:")
    for guard in contract.guards:
        lines += _guard_lines(guard.model_dump(exclude_none=True, exclude_defaults=False))
    lines += [
        "",
        *_comment(
            "model: hyper-parameters of the gradient-boosted trees (max_iter, learning_rate, "
            "max_leaf_nodes, min_samples_leaf, ...); the defaults apply when left out."
        ),
    ]
    text = "\n".join(lines) + "\n"
    _check_round_trip(text, contract)
    return text


def _check_round_trip(text: str, contract: DatasetContract) -> None:
    try:
        loaded = parse_contract(yaml.safe_load(text), source="rendered draft")
    except (ContractError, yaml.YAMLError) as exc:
        raise ContractDraftError(f"the rendered contract does not load: {exc}") from None
    if loaded.content_hash() != contract.content_hash():
        raise ContractDraftError(
            "the rendered contract does not read back as drafted: "
            f"{loaded.model_dump(mode='json')} != {contract.model_dump(mode='json')}"
        )


# --- adapters -------------------------------------------------------------------------------


def read_frame(path: Path) -> pd.DataFrame:
    """A CSV (every cell as text) or Parquet file, or a folder of them concatenated in name order.

    Raises:
        ContractDraftError: the path is missing, not CSV or Parquet, or unreadable.
    """
    try:
        frames = [read_source_file(f) for f in source_files(path)]
    except IngestError as exc:
        raise ContractDraftError(str(exc)) from None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def write_contract(text: str, out: Path) -> None:
    """Write the contract to `out` atomically; never replace an existing file.

    Raises:
        ContractDraftError: `out` already exists.
    """
    message = f"{out} already exists: choose another --out, or remove it first"
    if out.exists():
        raise ContractDraftError(message)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not write_new_file(out, text.encode()):
        raise ContractDraftError(message)
