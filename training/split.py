"""Time-aware train/holdout split that only uses labels known at the training cutoff.

Labels arrive late (e.g. a chargeback matures days after the payment, a churn is known weeks
after the last visit), so a row counts as labelled only when its label was known at the
cutoff: at its label-available time, or its event time plus the contract's constant label
delay. The holdout is the most recent labelled stretch of days, and the training rows all come
strictly before it: the model is evaluated on the future it will face, never on days it has
seen. A holdout with too few positives gives a PR-AUC that is mostly noise, so the holdout
grows back in time until it holds enough of them, within limits, and says so when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from features.contract import DatasetContract, format_duration

DateWindow = tuple[date, date]


class SplitError(ValueError):
    """The split cannot be made or would be unusable; the message says why and what to change."""


@dataclass(frozen=True, eq=False)
class TimeSplit:
    """A train set and the holdout after it, with the calendar windows they cover.

    Windows are inclusive ``(first day, last day)`` pairs of event dates: the train window runs
    from its earliest row's day to the day before the holdout starts. ``cutoff`` is the naive-UTC
    instant at which labels were read: every row in both frames was labelled by then. Labels in
    both frames are 0/1 ``int64``. ``requested_holdout_days`` is what the caller asked for;
    `holdout_days` is what the split used (more when the holdout grew to reach its positives).
    ``warnings`` say where the split falls short of what its figures need.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    train_window: DateWindow
    holdout_window: DateWindow
    cutoff: pd.Timestamp
    requested_holdout_days: int
    warnings: tuple[str, ...] = ()

    @property
    def holdout_days(self) -> int:
        """Calendar days the holdout window covers."""
        first, last = self.holdout_window
        return (last - first).days + 1


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

    A label is known at ``contract.label_known_at``: the row's label-available time, or its
    event time plus the contract's label delay. A missing time (NaT) or a missing label means
    the label is not known yet, so that row is left out. The original index is kept, so the
    result aligns with ``frame``.

    Raises:
        SplitError: a time or label column is missing or not a datetime column.
    """
    _require_time_columns(frame, contract)
    at = to_naive_utc(cutoff)
    event = frame[contract.event_time_column]
    known_at = contract.label_known_at(frame)
    known = (event <= at) & (known_at <= at) & frame[contract.label_column].notna()
    return frame.loc[known]


def label_known_text(contract: DatasetContract) -> str:
    """How a label becomes known, for messages: its column, or the delay after the event."""
    if contract.label_available_time_column is not None:
        return f"at '{contract.label_available_time_column}'"
    assert contract.label_delay is not None  # a contract has one of the two
    return f"{format_duration(contract.label_delay)} after '{contract.event_time_column}'"


def time_split(
    frame: pd.DataFrame,
    contract: DatasetContract,
    cutoff: pd.Timestamp,
    *,
    holdout_days: int,
    train_days: int | None = None,
    min_holdout_positives: int | None = None,
) -> TimeSplit:
    """Split the rows labelled at ``cutoff`` into an earlier train set and a later holdout.

    Labels must already be 0/1 (1 = the contract's positive label). The holdout covers at least
    the ``holdout_days`` calendar days that end on the last event date with a labelled row (the
    days just before the cutoff usually have no labels yet). With ``min_holdout_positives`` it
    then grows back one labelled day at a time until it holds that many positives, but never so
    far that train would keep fewer labelled days than the holdout (at most half of them); when
    the target stays out of reach, `TimeSplit.warnings` says so with the numbers. Train takes
    the labelled rows strictly before the holdout's first day, limited to the ``train_days``
    days before it when given. Both frames are sorted by event time with a fresh index.

    Raises:
        SplitError: bad day or positive counts, labels other than 0/1, no labelled rows, or a
            side that is empty or has no positive label (the message gives the counts and what
            to change).
    """
    if holdout_days < 1:
        raise SplitError(f"holdout_days must be at least 1, got {holdout_days}")
    if train_days is not None and train_days < 1:
        raise SplitError(f"train_days must be at least 1 or None (no limit), got {train_days}")
    if min_holdout_positives is not None and min_holdout_positives < 1:
        raise SplitError(
            f"min_holdout_positives must be at least 1 or None (no target), "
            f"got {min_holdout_positives}"
        )
    at = to_naive_utc(cutoff)
    labelled = labelled_at(frame, contract, at)
    if labelled.empty:
        raise SplitError(
            f"no row has both happened and been labelled by the cutoff {at.isoformat()} "
            f"(of {len(frame)} rows; a label is known {label_known_text(contract)}): move the "
            "cutoff later or load earlier batches"
        )
    labelled = _binary_labels(labelled, contract).sort_values(
        contract.event_time_column, kind="stable"
    )
    event_day = labelled[contract.event_time_column].dt.normalize()
    y = labelled[contract.label_column]

    last_day = event_day.max()
    holdout_start = last_day - pd.Timedelta(days=holdout_days - 1)
    if min_holdout_positives is not None:
        holdout_start = _grow_holdout(
            y.groupby(event_day).sum(), holdout_start, train_days, min_holdout_positives
        )
    in_holdout = event_day >= holdout_start
    in_train = event_day < holdout_start
    if train_days is not None:
        in_train &= event_day >= holdout_start - pd.Timedelta(days=train_days)

    train = labelled.loc[in_train].reset_index(drop=True)
    holdout = labelled.loc[in_holdout].reset_index(drop=True)
    _require_usable("holdout", holdout, contract, holdout_days, "holdout_days")
    _require_usable("train", train, contract, train_days, "train_days")

    first_train_day = train[contract.event_time_column].min().normalize()
    holdout_window = (holdout_start.date(), last_day.date())
    warnings: list[str] = []
    n_positives = int(holdout[contract.label_column].sum())
    if min_holdout_positives is not None and n_positives < min_holdout_positives:
        warnings.append(
            _few_positives_warning(n_positives, min_holdout_positives, holdout_window, holdout_days)
        )
    return TimeSplit(
        train=train,
        holdout=holdout,
        train_window=(first_train_day.date(), (holdout_start - pd.Timedelta(days=1)).date()),
        holdout_window=holdout_window,
        cutoff=at,
        requested_holdout_days=holdout_days,
        warnings=tuple(warnings),
    )


def _grow_holdout(
    positives_by_day: pd.Series, start: pd.Timestamp, train_days: int | None, target: int
) -> pd.Timestamp:
    """The holdout's first day, moved back one labelled day at a time to reach ``target``.

    ``positives_by_day`` holds the positives of each labelled event day. A step is taken only
    while train (the labelled days before the new start, within ``train_days`` of it) keeps at
    least as many labelled days as the holdout.
    """
    days = positives_by_day.index
    while int(positives_by_day[days >= start].sum()) < target:
        earlier = days[days < start]
        if earlier.empty:
            break
        candidate = earlier.max()
        in_train = days < candidate
        if train_days is not None:
            in_train &= days >= candidate - pd.Timedelta(days=train_days)
        if int((days >= candidate).sum()) > int(in_train.sum()):
            break
        start = candidate
    return start


def _few_positives_warning(
    n_positives: int, target: int, window: DateWindow, requested_days: int
) -> str:
    days = (window[1] - window[0]).days + 1
    grown = f", grown from the {requested_days} requested" if days > requested_days else ""
    return (
        f"the holdout holds {n_positives} positives, fewer than the {target} needed for a "
        f"stable PR-AUC; it covers {days} days ({window[0].isoformat()}..{window[1].isoformat()}"
        f"{grown}), as far back as it can go while train keeps at least as many labelled days: "
        "read its figures as rough, load more labelled history, or lower min_holdout_positives"
    )


def _binary_labels(labelled: pd.DataFrame, contract: DatasetContract) -> pd.DataFrame:
    """The labelled rows with their label as ``int64``; SplitError unless it is 0/1."""
    label = contract.label_column
    values = labelled[label]
    bad = sorted({v for v in values.unique().tolist() if v not in (0, 1)}, key=str)
    if bad or pd.api.types.is_bool_dtype(values):
        shown = bad[:5] if bad else ["True", "False"]
        raise SplitError(
            f"label '{label}' must be 0/1 to split, found {shown}; encode it with "
            "contract.binary_labels first (train_candidate does)"
        )
    return labelled.assign(**{label: values.astype("int64")})


def _require_time_columns(frame: pd.DataFrame, contract: DatasetContract) -> None:
    time_columns = contract.time_columns
    needed = [*time_columns, contract.label_column]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise SplitError(f"cannot split: column(s) {missing} missing from the frame")
    for column in time_columns:
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
        f"('{contract.label_column}' == {contract.positive!r}); {advice}"
    )
