"""Time-aware train/holdout split that only uses labels known at the training cutoff.

Labels arrive late (a chargeback matures days after the authorisation), so a row counts as
labelled only when its label was available at the cutoff. The holdout is the most recent
labelled stretch of days, and the training rows all come strictly before it: the model is
evaluated on the future it will face, never on days it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from features.contract import DatasetContract

DateWindow = tuple[date, date]


class SplitError(ValueError):
    """The split cannot be made or would be unusable; the message says why and what to change."""


@dataclass(frozen=True, eq=False)
class TimeSplit:
    """A train set and the holdout after it, with the calendar windows they cover.

    Windows are inclusive ``(first day, last day)`` pairs of event dates: the train window runs
    from its earliest row's day to the day before the holdout starts. ``cutoff`` is the naive-UTC
    instant at which labels were read: every row in both frames was labelled by then.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    train_window: DateWindow
    holdout_window: DateWindow
    cutoff: pd.Timestamp


def to_naive_utc(moment: pd.Timestamp | str) -> pd.Timestamp:
    """The same instant as a tz-naive UTC timestamp, the convention of the data's time columns."""
    ts = pd.Timestamp(moment)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def labelled_at(
    frame: pd.DataFrame, contract: DatasetContract, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """Rows that had happened and whose label was known at ``cutoff``.

    A missing label-available time (NaT) or a missing label means the label is not known yet,
    so that row is left out. The original index is kept, so the result aligns with ``frame``.

    Raises:
        SplitError: a time or label column is missing or not a datetime column.
    """
    _require_time_columns(frame, contract)
    at = to_naive_utc(cutoff)
    event = frame[contract.event_time_column]
    available = frame[contract.label_available_time_column]
    known = (event <= at) & (available <= at) & frame[contract.label_column].notna()
    return frame.loc[known]


def time_split(
    frame: pd.DataFrame,
    contract: DatasetContract,
    cutoff: pd.Timestamp,
    *,
    holdout_days: int,
    train_days: int | None = None,
) -> TimeSplit:
    """Split the rows labelled at ``cutoff`` into an earlier train set and a later holdout.

    The holdout covers the ``holdout_days`` calendar days that end on the last event date with a
    labelled row (the days just before the cutoff usually have no labels yet). Train takes the
    labelled rows strictly before the holdout's first day, limited to the ``train_days`` days
    before it when given. Both frames are sorted by event time with a fresh index.

    Raises:
        SplitError: bad day counts, no labelled rows, or a side that is empty or has no
            positive label (the message gives the counts and what to change).
    """
    if holdout_days < 1:
        raise SplitError(f"holdout_days must be at least 1, got {holdout_days}")
    if train_days is not None and train_days < 1:
        raise SplitError(f"train_days must be at least 1 or None (no limit), got {train_days}")
    at = to_naive_utc(cutoff)
    labelled = labelled_at(frame, contract, at)
    if labelled.empty:
        raise SplitError(
            f"no row has both happened and been labelled by the cutoff {at.isoformat()} "
            f"(of {len(frame)} rows; a label is known from '{contract.label_available_time_column}'"
            "): move the cutoff later or load earlier batches"
        )
    labelled = labelled.sort_values(contract.event_time_column, kind="stable")
    event_day = labelled[contract.event_time_column].dt.normalize()

    last_day = event_day.max()
    holdout_start = last_day - pd.Timedelta(days=holdout_days - 1)
    in_holdout = event_day >= holdout_start
    in_train = event_day < holdout_start
    if train_days is not None:
        in_train &= event_day >= holdout_start - pd.Timedelta(days=train_days)

    train = labelled.loc[in_train].reset_index(drop=True)
    holdout = labelled.loc[in_holdout].reset_index(drop=True)
    _require_usable("holdout", holdout, contract, holdout_days, "holdout_days")
    _require_usable("train", train, contract, train_days, "train_days")

    first_train_day = train[contract.event_time_column].min().normalize()
    return TimeSplit(
        train=train,
        holdout=holdout,
        train_window=(first_train_day.date(), (holdout_start - pd.Timedelta(days=1)).date()),
        holdout_window=(holdout_start.date(), last_day.date()),
        cutoff=at,
    )


def _require_time_columns(frame: pd.DataFrame, contract: DatasetContract) -> None:
    needed = [
        contract.event_time_column,
        contract.label_available_time_column,
        contract.label_column,
    ]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SplitError(f"cannot split: column(s) {missing} missing from the frame")
    for column in needed[:2]:
        dtype = frame[column].dtype
        if not pd.api.types.is_datetime64_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
            raise SplitError(
                f"column '{column}' must be tz-naive datetime64 holding UTC, got dtype {dtype}; "
                "parse it with pd.to_datetime (and .dt.tz_convert('UTC').dt.tz_localize(None))"
            )


def _require_usable(
    side: str,
    part: pd.DataFrame,
    contract: DatasetContract,
    days: int | None,
    days_name: str,
) -> None:
    positives = int((part[contract.label_column] == 1).sum())
    if len(part) and positives:
        return
    if side == "holdout":
        advice = f"raise {days_name} (now {days}) or move the cutoff later"
    else:
        limit = "no limit" if days is None else str(days)
        advice = (
            f"raise {days_name} (now {limit}), shorten the holdout or load earlier batches so "
            "that labelled days precede the holdout"
        )
    problem = "is empty" if part.empty else "has no positive label"
    raise SplitError(
        f"{side} {problem}: {len(part)} rows, {positives} positives "
        f"('{contract.label_column}' == 1); {advice}"
    )
