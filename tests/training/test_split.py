from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.contract import DatasetContract
from training.split import SplitError, labelled_at, time_split

CUTOFF = pd.Timestamp("2026-01-10")


def daily_frame(days: int = 10, delay_days: float = 2.0) -> pd.DataFrame:
    """Four rows a day at noon from 2026-01-01, one positive each day, fixed label delay."""
    rows = []
    for d in range(days):
        for k in range(4):
            event = pd.Timestamp("2026-01-01 12:00") + pd.Timedelta(days=d)
            rows.append(
                {
                    "transaction_id": f"d{d}-{k}",
                    "event_time": event,
                    "label_available_at": event + pd.Timedelta(days=delay_days),
                    "amount": 10.0 + k,
                    "is_fraud": int(k == 0),
                }
            )
    return pd.DataFrame(rows)


def test_labelled_at_keeps_only_rows_known_by_the_cutoff(contract: DatasetContract) -> None:
    frame = pd.DataFrame(
        {
            "transaction_id": ["known", "label_late", "event_late", "no_label_time"],
            "event_time": pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-11", "2026-01-02"]),
            "label_available_at": pd.to_datetime(
                pd.Series(["2026-01-09 00:00", "2026-01-10 00:00:01", "2026-01-12 00:00", None]),
                format="ISO8601",
            ),
            "is_fraud": [1, 0, 0, 0],
        }
    )
    kept = labelled_at(frame, contract, CUTOFF)
    assert kept["transaction_id"].tolist() == ["known"], f"unexpected rows kept: {kept}"
    assert kept.index.tolist() == [0], "labelled_at should keep the original index"


def test_labelled_at_accepts_a_tz_aware_cutoff(contract: DatasetContract) -> None:
    frame = daily_frame()
    naive = labelled_at(frame, contract, CUTOFF)
    aware = labelled_at(frame, contract, pd.Timestamp("2026-01-10 01:00", tz="Europe/Berlin"))
    assert aware.equals(naive), "a tz-aware cutoff should mean the same UTC instant"


def test_time_split_windows_on_a_hand_built_frame(contract: DatasetContract) -> None:
    # Labels arrive 2 days after noon events: at the cutoff 2026-01-10 00:00 the last labelled
    # event day is 2026-01-07, so a 2-day holdout is 01-06..01-07 and train is 01-01..01-05.
    split = time_split(daily_frame(), contract, CUTOFF, holdout_days=2)
    assert split.holdout_window == (date(2026, 1, 6), date(2026, 1, 7)), split.holdout_window
    assert split.train_window == (date(2026, 1, 1), date(2026, 1, 5)), split.train_window
    assert len(split.holdout) == 8, f"2 days x 4 rows expected, got {len(split.holdout)}"
    assert len(split.train) == 20, f"5 days x 4 rows expected, got {len(split.train)}"
    assert split.cutoff == CUTOFF, "the split should record its cutoff"


def test_time_split_train_days_limits_the_train_window(contract: DatasetContract) -> None:
    split = time_split(daily_frame(), contract, CUTOFF, holdout_days=2, train_days=3)
    assert split.train_window == (date(2026, 1, 3), date(2026, 1, 5)), split.train_window
    train_days = sorted(split.train["event_time"].dt.date.unique())
    assert train_days == [date(2026, 1, 3), date(2026, 1, 4), date(2026, 1, 5)], train_days


def test_time_split_has_no_overlap_and_no_late_label(
    contract: DatasetContract, transactions: pd.DataFrame
) -> None:
    cutoff = pd.Timestamp("2026-01-25 06:00")
    split = time_split(transactions, contract, cutoff, holdout_days=5)
    for side, part in (("train", split.train), ("holdout", split.holdout)):
        late = part[(part["label_available_at"] > cutoff) | (part["event_time"] > cutoff)]
        assert late.empty, f"{side} has {len(late)} rows not labelled by the cutoff"
    shared = set(split.train["transaction_id"]) & set(split.holdout["transaction_id"])
    assert not shared, f"{len(shared)} ids in both train and holdout"
    assert split.train["event_time"].max() < split.holdout["event_time"].min(), (
        "every train row should precede every holdout row"
    )
    start, end = split.holdout_window
    holdout_days = split.holdout["event_time"].dt.date
    assert holdout_days.min() >= start, f"holdout row on {holdout_days.min()} before {start}"
    assert holdout_days.max() == end, f"last holdout row on {holdout_days.max()}, window ends {end}"
    assert (end - start).days == 4, f"holdout window should span 5 days, got {start}..{end}"
    assert end < cutoff.date(), "labels take days: the holdout should end before the cutoff"
    expected = len(labelled_at(transactions, contract, cutoff))
    assert len(split.train) + len(split.holdout) == expected, (
        "with no train_days limit, every labelled row should be in train or holdout"
    )


def test_time_split_sorts_and_reindexes(
    contract: DatasetContract, transactions: pd.DataFrame
) -> None:
    shuffled = transactions.sample(frac=1.0, random_state=3)
    split = time_split(shuffled, contract, pd.Timestamp("2026-01-25"), holdout_days=5)
    assert split.train["event_time"].is_monotonic_increasing, "train should be time-sorted"
    assert split.holdout.index.tolist() == list(range(len(split.holdout))), (
        "holdout should have a fresh RangeIndex"
    )


def test_time_split_rejects_an_empty_train(contract: DatasetContract) -> None:
    with pytest.raises(SplitError, match=r"train is empty: 0 rows, 0 positives.*train_days"):
        time_split(daily_frame(), contract, CUTOFF, holdout_days=7)


def test_time_split_rejects_a_holdout_without_positives(contract: DatasetContract) -> None:
    frame = daily_frame()
    frame.loc[frame["event_time"].dt.day == 7, "is_fraud"] = 0
    with pytest.raises(SplitError, match=r"holdout has no positive label: 4 rows, 0 positives"):
        time_split(frame, contract, CUTOFF, holdout_days=1)


def test_time_split_rejects_a_train_without_positives(contract: DatasetContract) -> None:
    frame = daily_frame()
    frame.loc[frame["event_time"].dt.day <= 5, "is_fraud"] = 0
    with pytest.raises(SplitError, match=r"train has no positive label: 20 rows, 0 positives"):
        time_split(frame, contract, CUTOFF, holdout_days=2)


def test_time_split_rejects_a_cutoff_before_any_label(contract: DatasetContract) -> None:
    with pytest.raises(SplitError, match="no row has both happened and been labelled"):
        time_split(daily_frame(), contract, pd.Timestamp("2026-01-02"), holdout_days=1)


@pytest.mark.parametrize(
    ("holdout_days", "train_days", "message"),
    [(0, None, "holdout_days must be at least 1"), (2, 0, "train_days must be at least 1")],
)
def test_time_split_rejects_bad_day_counts(
    contract: DatasetContract, holdout_days: int, train_days: int | None, message: str
) -> None:
    with pytest.raises(SplitError, match=message):
        time_split(
            daily_frame(), contract, CUTOFF, holdout_days=holdout_days, train_days=train_days
        )


@pytest.mark.parametrize(
    "convert",
    [lambda s: s.astype(str), lambda s: s.dt.tz_localize("UTC")],
    ids=["text", "tz-aware"],
)
def test_time_split_rejects_non_naive_times(contract: DatasetContract, convert: object) -> None:
    assert callable(convert)
    frame = daily_frame()
    frame["event_time"] = convert(frame["event_time"])
    with pytest.raises(SplitError, match="'event_time' must be tz-naive datetime64"):
        time_split(frame, contract, CUTOFF, holdout_days=2)


def test_holdout_grows_back_to_reach_its_positives(contract: DatasetContract) -> None:
    # Seven labelled days (01-01..01-07), one positive each: a 2-day holdout holds 2.
    split = time_split(daily_frame(), contract, CUTOFF, holdout_days=2, min_holdout_positives=3)
    assert split.holdout_window == (date(2026, 1, 5), date(2026, 1, 7)), split.holdout_window
    assert split.train_window == (date(2026, 1, 1), date(2026, 1, 4)), split.train_window
    assert (split.holdout_days, split.requested_holdout_days) == (3, 2), "length used is kept"
    assert int(split.holdout["is_fraud"].sum()) == 3, "the holdout reaches its target"
    assert split.warnings == (), f"the target was reached: {split.warnings}"


def test_holdout_stops_at_half_the_labelled_days_and_warns(contract: DatasetContract) -> None:
    split = time_split(daily_frame(), contract, CUTOFF, holdout_days=2, min_holdout_positives=10)
    # A 4th day would leave train 3 labelled days for a 4-day holdout.
    assert split.holdout_window == (date(2026, 1, 5), date(2026, 1, 7)), split.holdout_window
    assert split.train["event_time"].dt.date.nunique() == 4, "train keeps more days than holdout"
    assert split.warnings == (
        "the holdout holds 3 positives, fewer than the 10 needed for a stable PR-AUC; it covers "
        "3 days (2026-01-05..2026-01-07, grown from the 2 requested), as far back as it can go "
        "while train keeps at least as many labelled days: read its figures as rough, load more "
        "labelled history, or lower min_holdout_positives",
    ), split.warnings


def test_holdout_growth_respects_the_train_days_limit(contract: DatasetContract) -> None:
    split = time_split(
        daily_frame(), contract, CUTOFF, holdout_days=2, train_days=2, min_holdout_positives=3
    )
    assert split.holdout_days == 2, "a 3-day holdout would outnumber a 2-day train window"
    assert len(split.warnings) == 1, split.warnings
    assert "holds 2 positives, fewer than the 3 needed" in split.warnings[0], split.warnings
    assert "grown from" not in split.warnings[0], "the holdout did not grow"


def test_holdout_grows_by_labelled_days_not_calendar_days(contract: DatasetContract) -> None:
    frame = daily_frame()
    frame = frame[frame["event_time"].dt.day != 5]
    split = time_split(frame, contract, CUTOFF, holdout_days=2, min_holdout_positives=3)
    assert split.holdout_window == (date(2026, 1, 4), date(2026, 1, 7)), (
        f"one step back skips the empty 01-05: {split.holdout_window}"
    )
    assert split.holdout_days == 4, "four calendar days, three of them labelled"
    assert split.warnings == (), split.warnings


def test_min_holdout_positives_must_be_positive(contract: DatasetContract) -> None:
    with pytest.raises(SplitError, match="min_holdout_positives must be at least 1"):
        time_split(daily_frame(), contract, CUTOFF, holdout_days=2, min_holdout_positives=0)


def test_split_refuses_labels_that_are_not_binary(churn_contract: DatasetContract) -> None:
    frame = pd.DataFrame(
        {
            "row_id": ["a", "b"],
            "snapshot_at": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "churned": ["yes", "no"],
        }
    )
    with pytest.raises(SplitError, match=r"must be 0/1 to split, found \['no', 'yes'\]"):
        time_split(frame, churn_contract, CUTOFF, holdout_days=1)


def test_label_delay_decides_when_a_label_is_known(churn_contract: DatasetContract) -> None:
    frame = pd.DataFrame(
        {
            "row_id": ["known", "just_known", "not_yet", "unlabelled"],
            "snapshot_at": pd.to_datetime(
                ["2026-01-01", "2026-01-03", "2026-01-03 00:00:01", "2026-01-01"], format="ISO8601"
            ),
            "churned": [1, 0, 1, None],
        }
    )
    kept = labelled_at(frame, churn_contract, CUTOFF)
    assert kept["row_id"].tolist() == ["known", "just_known"], (
        f"a label is known 7 days after the event, at the cutoff inclusive: {kept}"
    )


def test_delay_contract_needs_no_label_available_column(churn_contract: DatasetContract) -> None:
    frame = pd.DataFrame({"row_id": ["a"], "snapshot_at": ["2026-01-01"], "churned": [1]})
    with pytest.raises(SplitError, match="'snapshot_at' must be tz-naive datetime64"):
        labelled_at(frame, churn_contract, CUTOFF)
    with pytest.raises(SplitError, match=r"\['snapshot_at'\] missing"):
        labelled_at(frame.drop(columns="snapshot_at"), churn_contract, CUTOFF)
