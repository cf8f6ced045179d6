"""The dataset contract as types: parsed once from YAML, then passed to every stage.

The contract is the whole plug-in for a use case. It names the columns with their types and
allowed values; the roles (id, event time, label and its positive value, when a label becomes
known); the features the model reads and the segments its results are sliced by (a segment need
not be a feature); the business costs of each kind of error; the batch guards of the validation
gate; the model's hyper-parameters; and the names the use case goes by (score, model,
experiment). The Great Expectations suite, the API's request and response models and the
Evidently column mapping are derived from it, so they cannot disagree.

A wrong contract fails at load with a `ContractError` naming the file and the key, never deep
inside a flow.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from features.vocabulary import LABEL_AVAILABLE_AT, RESERVED_FIELDS

DType = Literal["string", "datetime", "float", "int", "category"]
#: A category or label value: text, or an integer (never a YAML boolean).
Value = StrictStr | StrictInt

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_BOOLEAN_HINT = (
    'YAML reads unquoted yes/no/true/false/on/off as booleans: quote the value (e.g. "yes")'
)


class ContractError(ValueError):
    """A contract file is missing, unreadable or inconsistent; the message names file and key."""


def parse_duration(value: object) -> timedelta:
    """``"7d"``, ``"12h"``, ``"90m"``, ``"30s"`` or ``"2w"`` as a timedelta.

    Raises:
        ValueError: not one of those shapes, or not positive.
    """
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        count, unit = match.groups()
        delta = timedelta(**{_DURATION_UNITS[unit]: float(count)})
    else:
        raise ValueError(
            f"a duration is a number and a unit, e.g. '7d', '12h', '90m' (got {value!r})"
        )
    if delta <= timedelta(0):
        raise ValueError(f"a duration must be positive, got {value!r}")
    return delta


def format_duration(delta: timedelta) -> str:
    """The shortest ``<n><unit>`` text of a duration (inverse of `parse_duration`)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _reject_booleans(value: Any, what: str) -> Any:
    """Raise on a YAML boolean where a text or integer value was meant."""
    values = value if isinstance(value, list | tuple) else [value]
    if any(isinstance(v, bool) for v in values):
        raise ValueError(f"{what} holds a boolean; {_BOOLEAN_HINT}")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())


class ColumnSpec(_Frozen):
    """One column: its type, and the values it may take.

    ``categories`` lists the allowed values of a ``category`` column (text) or of an ``int``
    column with a closed set of codes (integers, e.g. a label ``[0, 1]``).
    """

    dtype: DType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[Value, ...] | None = None
    description: str = ""

    @field_validator("categories", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        return _reject_booleans(value, "categories")

    @model_validator(mode="after")
    def _check_bounds(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.dtype in ("string", "datetime", "category") and (
            self.min is not None or self.max is not None
        ):
            raise ValueError(f"min/max apply to numeric columns, not to dtype '{self.dtype}'")
        if self.dtype == "category":
            if not self.categories:
                raise ValueError("a category column needs a non-empty 'categories' list")
            numbers = [v for v in self.categories if not isinstance(v, str)]
            if numbers:
                raise ValueError(
                    f"categories of a category column are text, got {numbers[:3]}: quote them "
                    "(e.g. '01', \"yes\") or declare the column as dtype 'int'"
                )
        elif self.categories is not None:
            if self.dtype != "int":
                raise ValueError(
                    f"'categories' apply to dtype 'category' or 'int', not to '{self.dtype}'"
                )
            text = [v for v in self.categories if isinstance(v, str)]
            if text:
                raise ValueError(f"categories of an int column are integers, got {text[:3]}")
        if self.categories is not None and len(set(self.categories)) != len(self.categories):
            raise ValueError("'categories' lists a value twice")
        return self

    @property
    def is_numeric(self) -> bool:
        """True for float and int columns."""
        return self.dtype in ("float", "int")


class Costs(_Frozen):
    """Business cost of each kind of error, used to pick the decision threshold."""

    currency: str = Field(default="", description="Unit of the costs, shown beside them.")
    false_negative: float = Field(gt=0, description="Cost of a positive the model let through.")
    false_positive: float = Field(gt=0, description="Cost of a negative the model flagged.")


class ModelParams(_Frozen):
    """Hyper-parameters of the gradient-boosted trees; logged as run params and in the card.

    Early stopping is off by default: it would hold out a random (not time-ordered) slice of the
    train set and make the number of trees depend on the data size.
    """

    max_iter: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.08, gt=0)
    max_leaf_nodes: int = Field(default=31, ge=2)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=20, ge=1)
    l2_regularization: float = Field(default=1.0, ge=0)
    early_stopping: bool = False
    random_state: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain values for logging, in field order."""
        return self.model_dump()


# --- batch guards ----------------------------------------------------------------------------


class _Guard(_Frozen):
    catches: str = Field(
        min_length=1, description="The real-world failure the guard exists to catch."
    )


class _Bounds(_Guard):
    """A guard with an optional lower and upper bound, at least one of them set."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> _Bounds:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self


class _ShareBounds(_Bounds):
    """Bounds on a share of rows, so both lie in [0, 1]."""

    @model_validator(mode="after")
    def _check_share(self) -> _ShareBounds:
        for bound in (self.min, self.max):
            if bound is not None and not 0.0 <= bound <= 1.0:
                raise ValueError(f"a share lies in [0, 1], got {bound:g}")
        return self


class RowCountGuard(_Bounds):
    """Bounds on the number of rows in a batch (an empty, truncated or runaway extract)."""

    check: Literal["row_count"]

    @model_validator(mode="after")
    def _check_counts(self) -> RowCountGuard:
        for bound in (self.min, self.max):
            if bound is not None and (bound < 0 or not float(bound).is_integer()):
                raise ValueError(f"a row count is a whole number >= 0, got {bound:g}")
        return self


class LabelRateGuard(_ShareBounds):
    """Bounds on the share of labelled rows holding the positive label."""

    check: Literal["label_rate"]


class MedianGuard(_Bounds):
    """Bounds on the median of a numeric column (a unit change moves it by a factor)."""

    check: Literal["median"]
    column: str


class NullShareGuard(_ShareBounds):
    """Bounds on the share of missing values of a nullable column."""

    check: Literal["null_share"]
    column: str


class OrderedGuard(_Guard):
    """``lower <= upper`` (or ``<`` with ``strict``) on every row where both are present."""

    check: Literal["ordered"]
    lower: str
    upper: str
    strict: bool = False


class Condition(_Frozen):
    """``column == equals``."""

    column: str
    equals: Value

    @field_validator("equals", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        return _reject_booleans(value, "equals")


class NullWhenGuard(_Guard):
    """``column`` is missing exactly on the rows where ``when`` holds, and present elsewhere."""

    check: Literal["null_when"]
    column: str
    when: Condition


Guard = Annotated[
    RowCountGuard | LabelRateGuard | MedianGuard | NullShareGuard | OrderedGuard | NullWhenGuard,
    Field(discriminator="check"),
]

# --- the contract ----------------------------------------------------------------------------


class DatasetContract(_Frozen):
    """A tabular binary-classification dataset and everything use-case specific about it."""

    name: str = Field(description="Short name of the use case; default model and experiment.")
    version: int = 1
    description: str = ""
    id_column: str
    id_generated: bool = Field(
        default=False,
        description=(
            "True when source files have no id: `lifecycle ingest` makes one per row (a stable "
            "hash of the row's values and its position in the file)."
        ),
    )
    event_time_column: str
    label_column: str
    positive_label: Value | None = Field(
        default=None, description="The label value of the class to detect (default 1 for 0/1)."
    )
    label_available_time_column: str | None = Field(
        default=None, description="Column holding when each row's label became known."
    )
    label_delay: timedelta | None = Field(
        default=None, description="Constant time after the event when the label becomes known."
    )
    event_time_tolerance: timedelta = Field(
        default=timedelta(hours=1),
        description="How far a batch's event times may lie outside its date, or after now.",
    )
    score_name: str = Field(
        default="probability", description="Name of the model's score in answers and logs."
    )
    model_name: str = Field(default="", description="Registered model name (default: name).")
    experiment_name: str = Field(default="", description="MLflow experiment (default: name).")
    columns: dict[str, ColumnSpec]
    features: tuple[str, ...]
    segments: tuple[str, ...] = ()
    costs: Costs
    guards: tuple[Guard, ...] = ()
    model: ModelParams = ModelParams()

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            _reject_booleans(data.get("positive_label"), "positive_label")
            for key in ("model_name", "experiment_name"):
                if not data.get(key) and isinstance(data.get("name"), str):
                    data[key] = data["name"]
            for key in ("label_delay", "event_time_tolerance"):
                value = data.get(key)
                if value is None or (key == "event_time_tolerance" and str(value)[:1] == "P"):
                    continue  # an ISO 8601 duration, as model_dump(mode="json") writes it
                # Every value goes through parse_duration: pydantic alone would read a bare
                # number as seconds (``label_delay: 7`` would silently mean 7 seconds).
                try:
                    data[key] = parse_duration(data[key])
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
        return data

    @model_validator(mode="after")
    def _check(self) -> DatasetContract:
        if not _NAME.match(self.name):
            raise ValueError(
                f"name '{self.name}' must start with a letter or digit and hold only letters, "
                "digits, '_', '-' and '.'"
            )
        self._check_roles()
        self._check_label()
        self._check_features_and_segments()
        self._check_names()
        for index, guard in enumerate(self.guards):
            _check_guard(self, guard, f"guards.{index} ({guard.check})")
        return self

    def _check_roles(self) -> None:
        has_column = self.label_available_time_column is not None
        if has_column == (self.label_delay is not None):
            raise ValueError(
                "give exactly one of 'label_available_time_column' (a column saying when each "
                "label became known) and 'label_delay' (a constant, e.g. '7d')"
            )
        roles = self.role_columns
        for role, column in roles.items():
            if column not in self.columns:
                raise ValueError(f"{role} '{column}' is not declared under 'columns'")
        for column in self.time_columns:
            if self.columns[column].dtype != "datetime":
                raise ValueError(f"time column '{column}' must have dtype 'datetime'")
        if self.columns[self.id_column].dtype not in ("string", "int"):
            raise ValueError(f"id_column '{self.id_column}' must have dtype 'string' or 'int'")

    def _check_label(self) -> None:
        spec = self.columns[self.label_column]
        values = spec.categories
        if spec.dtype not in ("int", "category") or values is None or len(values) != 2:
            raise ValueError(
                f"label '{self.label_column}' must be an 'int' or 'category' column declaring "
                'exactly two categories, e.g. [0, 1] or ["no", "yes"]'
            )
        if self.positive_label is None:
            if set(values) != {0, 1}:
                raise ValueError(
                    f"positive_label is required: label '{self.label_column}' has categories "
                    f"{list(values)}, so say which one is the class to detect"
                )
            object.__setattr__(self, "positive_label", 1)
        elif self.positive_label not in values:
            raise ValueError(
                f"positive_label {self.positive_label!r} is not one of label "
                f"'{self.label_column}' categories {list(values)}"
            )

    def _check_features_and_segments(self) -> None:
        roles = set(self.role_columns.values())
        if not self.features:
            raise ValueError("'features' must list at least one column")
        if len(set(self.features)) != len(self.features):
            raise ValueError("'features' lists a column twice")
        for column in self.features:
            if column not in self.columns:
                raise ValueError(f"feature '{column}' is not declared under 'columns'")
            if column in roles:
                raise ValueError(
                    f"feature '{column}' is a role column (id, time or label) and cannot be a "
                    "feature"
                )
        for column in self.segments:
            if column not in self.columns:
                raise ValueError(f"segment '{column}' is not declared under 'columns'")
            if column in roles:
                raise ValueError(f"segment '{column}' is a role column (id, time or label)")
            if self.columns[column].categories is None:
                raise ValueError(
                    f"segment '{column}' must be a category column (or an int column with "
                    "'categories')"
                )

    def _check_names(self) -> None:
        clash = sorted(RESERVED_FIELDS & set(self.columns))
        if clash:
            raise ValueError(
                f"column name(s) {clash} are reserved for the prediction and label logs; rename "
                "them (the logs store them beside the contract's columns)"
            )
        if self.score_name in self.columns or self.score_name in RESERVED_FIELDS:
            raise ValueError(
                f"score_name '{self.score_name}' is already a column or a log field name"
            )
        if not self.score_name.isidentifier():
            raise ValueError(f"score_name '{self.score_name}' must be a plain identifier")

    # --- roles ---------------------------------------------------------------------------

    @property
    def role_columns(self) -> dict[str, str]:
        """The id, event-time, label and (if any) label-available-time columns by role."""
        roles = {
            "id_column": self.id_column,
            "event_time_column": self.event_time_column,
            "label_column": self.label_column,
        }
        if self.label_available_time_column is not None:
            roles["label_available_time_column"] = self.label_available_time_column
        return roles

    @property
    def time_columns(self) -> list[str]:
        """The event-time column and, if the contract has one, the label-available column."""
        columns = [self.event_time_column]
        if self.label_available_time_column is not None:
            columns.append(self.label_available_time_column)
        return columns

    @property
    def label_available_field(self) -> str:
        """Name of "when the label became known" in the label log and the labels API."""
        return self.label_available_time_column or LABEL_AVAILABLE_AT

    @property
    def label_values(self) -> tuple[Value, Value]:
        """The label's two categories, as declared."""
        values = self.columns[self.label_column].categories or ()
        return values[0], values[1]

    @property
    def positive(self) -> Value:
        """The positive label value (always set once the contract is loaded)."""
        assert self.positive_label is not None  # set by validation
        return self.positive_label

    @property
    def negative_label(self) -> Value:
        """The label value that is not the positive one."""
        first, second = self.label_values
        return second if first == self.positive else first

    def binary_labels(self, labels: pd.Series) -> pd.Series:
        """1 for the positive label, 0 for the other, missing stays missing (dtype ``Int64``).

        Raises:
            ValueError: a value is neither of the label's two categories.
        """
        present = labels.notna()
        known = labels.isin(list(self.label_values)) | ~present
        if not known.all():
            bad = labels[~known].unique()[:5].tolist()
            raise ValueError(
                f"label '{self.label_column}' holds {bad}, not one of {list(self.label_values)}"
            )
        encoded: pd.Series = (labels == self.positive).astype("Int64")
        encoded[~present] = pd.NA
        return encoded

    def label_known_at(self, frame: pd.DataFrame) -> pd.Series:
        """When each row's label became known: its label-available time, or event + delay."""
        if self.label_available_time_column is not None:
            return frame[self.label_available_time_column]
        assert self.label_delay is not None  # exactly one of the two is set
        return frame[self.event_time_column] + self.label_delay

    # --- column groups -------------------------------------------------------------------

    @property
    def numeric_features(self) -> list[str]:
        """Feature columns of dtype float or int, in contract order."""
        return [c for c in self.features if self.columns[c].is_numeric]

    @property
    def categorical_features(self) -> list[str]:
        """Feature columns of dtype category, in contract order."""
        return [c for c in self.features if self.columns[c].dtype == "category"]

    @property
    def extra_segments(self) -> list[str]:
        """Segments the model never reads: evaluated and monitored, not fed to the model."""
        return [c for c in self.segments if c not in self.features]

    @property
    def input_columns(self) -> list[str]:
        """What a scoring request carries besides the id: the features, then extra segments."""
        return [*self.features, *self.extra_segments]

    @property
    def column_names(self) -> list[str]:
        """Every declared column, in contract order."""
        return list(self.columns)

    def content_hash(self) -> str:
        """SHA-256 of the contract's canonical JSON.

        Equal contracts hash equal, whatever the YAML's formatting or comments.
        """
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_guard(contract: DatasetContract, guard: Any, where: str) -> None:
    """Check that a guard's columns exist and fit its kind; ValueError naming ``where``."""
    columns = contract.columns

    def need(column: str, key: str) -> None:
        if column not in columns:
            raise ValueError(f"{where}: {key} '{column}' is not declared under 'columns'")

    if isinstance(guard, MedianGuard):
        need(guard.column, "column")
        if not columns[guard.column].is_numeric:
            raise ValueError(f"{where}: column '{guard.column}' must be numeric for a median")
    elif isinstance(guard, NullShareGuard):
        need(guard.column, "column")
        if not columns[guard.column].nullable and (guard.min or 0) > 0:
            raise ValueError(
                f"{where}: column '{guard.column}' is not nullable, so its null share is always "
                "0; declare it nullable or drop the guard"
            )
    elif isinstance(guard, OrderedGuard):
        need(guard.lower, "lower")
        need(guard.upper, "upper")
        kinds = {columns[guard.lower].is_numeric, columns[guard.upper].is_numeric}
        dtypes = {columns[guard.lower].dtype, columns[guard.upper].dtype}
        if not (kinds == {True} or dtypes == {"datetime"}):
            raise ValueError(
                f"{where}: '{guard.lower}' and '{guard.upper}' must both be numeric or both "
                "datetime to be ordered"
            )
    elif isinstance(guard, NullWhenGuard):
        need(guard.column, "column")
        need(guard.when.column, "when.column")
        if not columns[guard.column].nullable:
            raise ValueError(f"{where}: column '{guard.column}' must be declared nullable")
        when = columns[guard.when.column]
        text = isinstance(guard.when.equals, str)
        if when.dtype == "datetime" or text != (when.dtype in ("string", "category")):
            raise ValueError(
                f"{where}: when.equals {guard.when.equals!r} cannot equal a value of "
                f"'{guard.when.column}' (dtype '{when.dtype}'): give text for a string or "
                "category column, a whole number for a numeric one"
            )
        allowed = when.categories
        if allowed is not None and guard.when.equals not in allowed:
            raise ValueError(
                f"{where}: when.equals {guard.when.equals!r} is not one of "
                f"'{guard.when.column}' categories {list(allowed)}"
            )


def _problem(error: Mapping[str, Any]) -> str:
    """``key.path: message``; a whole-contract check names its key inside the message.

    A discriminated union adds the guard kind to the path (``guards.2.median.min``); it is
    kept, because it says which kind of guard the key belongs to.
    """
    message = str(error["msg"]).removeprefix("Value error, ")
    location = ".".join(str(p) for p in error["loc"])
    return f"{location}: {message}" if location else message


def parse_contract(raw: object, source: str = "<contract>") -> DatasetContract:
    """Build a contract from already-parsed YAML, with errors that name the offending key."""
    if not isinstance(raw, dict):
        raise ContractError(f"{source}: a contract must be a mapping, got {type(raw).__name__}")
    try:
        return DatasetContract.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ContractError(f"{source}: invalid contract: {problems}") from None


def load_contract(path: Path) -> DatasetContract:
    """Read and validate a contract YAML file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ContractError(f"cannot read contract {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from None
    return parse_contract(raw, source=str(path))
