"""Delayed labels from a batch file into the label log the monitoring stage joins on.

The label log is the one the settings name (:func:`pipelines.serve.log_store`): the file under
the home, or the PostgreSQL table the servers and the monitor share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from features.contract import DatasetContract, load_contract
from pipelines.serve import log_store
from pipelines.settings import Settings
from serving.prediction_log import label_records


class LabelFileError(ValueError):
    """A label file cannot be used; the message names the file and the problem."""


def read_label_file(path: Path, contract: DatasetContract) -> pd.DataFrame:
    """Read a CSV or Parquet file of labels.

    CSV ids stay text (``00123`` is not ``123``), and so do text labels (``no`` is not a
    missing value); an int label is read as a number.
    """
    text_columns = [contract.id_column]
    if contract.columns[contract.label_column].dtype == "category":
        text_columns.append(contract.label_column)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(
                path, dtype=dict.fromkeys(text_columns, str), keep_default_na=False, na_values=[""]
            )
    except (OSError, ValueError) as exc:
        raise LabelFileError(f"cannot read {path}: {exc}") from None
    raise LabelFileError(f"{path}: expected a .csv or .parquet file")


@dataclass(frozen=True)
class LabelsAppended:
    """What a label file added: its rows, and how many name a row the prediction log holds.

    A label whose id was never scored is kept (the prediction may be logged later, or by
    another server), but monitoring can join only the matched ones.
    """

    appended: int
    matched: int
    location: str = ""
    """Where the label log is: its folder, or the database (without its password)."""


def append_label_file(settings: Settings, path: Path) -> LabelsAppended:
    """Check a label file against the contract, append it, and match it to the log.

    Every row needs an id and a label in the contract's label values; an optional
    label-available-time column is kept. Nothing is appended if any row is bad.
    """
    contract = load_contract(settings.contract)
    id_col, label_col = contract.id_column, contract.label_column
    frame = read_label_file(path, contract)
    missing = [c for c in (id_col, label_col) if c not in frame.columns]
    if missing:
        raise LabelFileError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    allowed = set(contract.label_values)
    bad = frame[frame[id_col].isna() | ~frame[label_col].isin(allowed)]
    if not bad.empty:
        raise LabelFileError(
            f"{path}: {len(bad)} row(s) with a missing id or a label outside "
            f"{list(contract.label_values)}, "
            f"first at row {int(bad.index[0]) + 2}"
        )
    time_col = contract.label_available_field
    rows: list[dict[str, object]] = []
    for record in frame.to_dict(orient="records"):
        label = record[label_col]
        row: dict[str, object] = {
            id_col: str(record[id_col]),
            label_col: label if isinstance(label, str) else int(label),
        }
        if time_col in record and pd.notna(record[time_col]):
            try:
                row[time_col] = pd.Timestamp(record[time_col]).to_pydatetime()
            except ValueError as exc:
                raise LabelFileError(
                    f"{path}: '{time_col}' {record[time_col]!r} is not a date-time: {exc}"
                ) from None
        rows.append(row)
    records = label_records(rows, contract, datetime.now(UTC).replace(tzinfo=None))
    store = log_store(settings, contract)
    try:
        appended = store.append_labels(records)
        scored = store.scored_ids()
    finally:
        store.close()
    matched = sum(1 for row in rows if row[id_col] in scored)
    where = store.location if settings.log_database_url else str(settings.paths.labels)
    return LabelsAppended(appended, matched, where)
