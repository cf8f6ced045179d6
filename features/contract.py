"""The dataset contract as types: parsed once from YAML, then passed to every stage.

The contract is the single source of truth for column names, types, allowed values, roles
(id, event time, label, label-available time), feature and segment lists and business costs.
Validation suites, API request models and monitoring column mappings are derived from it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DType = Literal["string", "datetime", "float", "int", "category"]


class ContractError(ValueError):
    """A contract file is missing, unreadable or inconsistent; the message says which field."""


class ColumnSpec(BaseModel):
    """One column: its type, and the values it may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: DType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[str | int, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check_bounds(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.dtype == "category" and not self.categories:
            raise ValueError("a category column needs a non-empty 'categories' list")
        if self.dtype in ("string", "datetime", "category") and (
            self.min is not None or self.max is not None
        ):
            raise ValueError(f"min/max apply to numeric columns, not to dtype '{self.dtype}'")
        return self

    @property
    def is_numeric(self) -> bool:
        """True for float and int columns."""
        return self.dtype in ("float", "int")


class Costs(BaseModel):
    """Business cost of each kind of error, used to pick the decision threshold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = "EUR"
    false_negative: float = Field(gt=0)
    false_positive: float = Field(gt=0)


class DatasetContract(BaseModel):
    """A tabular binary-classification dataset: columns, roles, features, segments and costs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int = 1
    description: str = ""
    id_column: str
    event_time_column: str
    label_column: str
    label_available_time_column: str
    columns: dict[str, ColumnSpec]
    features: tuple[str, ...]
    segments: tuple[str, ...] = ()
    costs: Costs

    @model_validator(mode="after")
    def _check_references(self) -> DatasetContract:
        roles = {
            "id_column": self.id_column,
            "event_time_column": self.event_time_column,
            "label_column": self.label_column,
            "label_available_time_column": self.label_available_time_column,
        }
        for role, column in roles.items():
            if column not in self.columns:
                raise ValueError(f"{role} '{column}' is not declared under 'columns'")
        for column in (self.event_time_column, self.label_available_time_column):
            if self.columns[column].dtype != "datetime":
                raise ValueError(f"time column '{column}' must have dtype 'datetime'")
        if not self.features:
            raise ValueError("'features' must list at least one column")
        for column in self.features:
            if column not in self.columns:
                raise ValueError(f"feature '{column}' is not declared under 'columns'")
            if column in roles.values():
                raise ValueError(
                    f"feature '{column}' is a role column (id, time or label) and cannot be a "
                    "feature"
                )
        for column in self.segments:
            if column not in self.columns:
                raise ValueError(f"segment '{column}' is not declared under 'columns'")
            if self.columns[column].dtype != "category":
                raise ValueError(f"segment '{column}' must be a category column")
        label = self.columns[self.label_column]
        if label.categories is None or sorted(label.categories, key=str) != [0, 1]:
            raise ValueError(f"label '{self.label_column}' must declare categories [0, 1]")
        return self

    @property
    def numeric_features(self) -> list[str]:
        """Feature columns of dtype float or int, in contract order."""
        return [c for c in self.features if self.columns[c].is_numeric]

    @property
    def categorical_features(self) -> list[str]:
        """Feature columns of dtype category, in contract order."""
        return [c for c in self.features if self.columns[c].dtype == "category"]

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


def parse_contract(raw: object, source: str = "<contract>") -> DatasetContract:
    """Build a contract from already-parsed YAML, with errors that name the offending field."""
    if not isinstance(raw, dict):
        raise ContractError(f"{source}: a contract must be a mapping, got {type(raw).__name__}")
    try:
        return DatasetContract.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
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
