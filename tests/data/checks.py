"""Contract conformance check used by the data tests: every violation, listed."""

from __future__ import annotations

import pandas as pd

from features.contract import DatasetContract

_EXPECTED_DTYPE = {
    "string": "object",
    "category": "object",
    "datetime": "datetime64[ns]",
    "float": "float64",
    "int": "int64",
}


def contract_violations(frame: pd.DataFrame, contract: DatasetContract) -> list[str]:
    """Every way `frame` breaks the contract, as readable strings (empty when it conforms)."""
    problems: list[str] = []
    if list(frame.columns) != contract.column_names:
        return [f"columns {list(frame.columns)} != contract {contract.column_names}"]
    for name, spec in contract.columns.items():
        column = frame[name]
        expected = _EXPECTED_DTYPE[spec.dtype]
        if name == contract.label_column:
            expected = "int64"
        if str(column.dtype) != expected:
            problems.append(f"{name}: dtype {column.dtype}, expected {expected}")
        if spec.dtype == "datetime" and getattr(column.dt, "tz", None) is not None:
            problems.append(f"{name}: tz-aware, expected tz-naive UTC")
        if column.isna().any() and not spec.nullable:
            problems.append(f"{name}: {int(column.isna().sum())} missing values, not nullable")
        values = column.dropna()
        if spec.min is not None and (values < spec.min).any():
            problems.append(f"{name}: min {values.min()} < {spec.min}")
        if spec.max is not None and (values > spec.max).any():
            problems.append(f"{name}: max {values.max()} > {spec.max}")
        if spec.categories is not None:
            unknown = set(values.unique()) - set(spec.categories)
            if unknown:
                problems.append(f"{name}: values {sorted(unknown, key=str)} not in categories")
        if spec.dtype in ("string", "category") and not all(isinstance(v, str) for v in values):
            problems.append(f"{name}: not all values are plain str")
    if frame[contract.id_column].duplicated().any():
        problems.append(f"{contract.id_column}: duplicated ids")
    label_at = frame[contract.label_available_time_column]
    if not (label_at > frame[contract.event_time_column]).all():
        problems.append("label_available_at is not after event_time on every row")
    return problems
